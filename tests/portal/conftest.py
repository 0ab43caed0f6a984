"""Page tests in a real browser: the fixtures of tests/web/browser.py (one chromium per test
session, the test's own app live under uvicorn, a new browser context per test)."""

from tests.web.browser import browser, live, page, watch  # noqa: F401 (fixtures)
