"""Page tests in a real browser (tests/web/browser.py): one chromium per test session, the
test's own app (conftest's `app`, its database cleaned after) live under uvicorn, and a new
browser context per test."""

from __future__ import annotations

import pytest

from tests.web.browser import LiveServer, Watch, launch_browser


@pytest.fixture(scope="session")
def browser():
    pw, browser = launch_browser()
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture
def live(app, client):
    """The app at a real address (`client` runs its lifespan)."""
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def watch():
    return Watch()


@pytest.fixture
def page(browser, live, watch):
    context = browser.new_context(
        base_url=live.url,
        viewport={"width": 360, "height": 800},
        locale="ko-KR",
        accept_downloads=True,
    )
    page = context.new_page()
    page.set_default_timeout(20000)  # a loaded 2-core CI machine
    watch.attach(page)
    yield page
    context.close()
    assert not watch.problems, "\n".join(watch.problems)
