"""The console's browser tests use the pages' fixtures (tests/web/browser.py)."""

from tests.web.browser import browser, live, page, watch  # noqa: F401 (fixtures)
