"""The pages' files ship in the wheel: every template, stylesheet, script and catalogue of
app/web, app/portal and app/console matches a package-data pattern (pyproject.toml)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_page_file_is_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    missing = []
    for package in ("app.web", "app.portal", "app.console"):
        folder = ROOT / package.replace(".", "/")
        patterns = data.get(package, []) + data.get("*", [])
        for path in folder.rglob("*"):
            if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(folder).as_posix()
            if not any(fnmatch(relative, pattern) for pattern in patterns):
                missing.append(f"{package}: {relative}")
    assert not missing, missing
