"""Rights Desk. `__version__` is the installed package's (pyproject.toml), the one version
the API reports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rightsdesk")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
