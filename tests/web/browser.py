"""The browser harness for page tests: Debian's chromium driven by Playwright (browsers
cannot be downloaded here: `.ci/browser-deps` installs chromium and fonts-noto-cjk), the app
served by uvicorn in a thread, a fresh browser context per test, and per page: no console
error or CSP violation, no serious or critical axe violation, screenshots at 360 and 1280 px.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("RIGHTSDESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("RIGHTSDESK_SCREENSHOTS") or REPO / "var" / "screenshots")
WIDTHS = (360, 1280)
BAD_IMPACTS = {"serious", "critical"}


def launch_browser():
    """(playwright, browser); fails, never skips, when chromium is missing."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"chromium not found at {CHROMIUM}: run .ci/browser-deps (Debian's chromium and "
            "fonts-noto-cjk); page tests never skip"
        )
    pw = sync_playwright().start()
    # The browser runs on the real clock: CI's year-ahead run preloads libfaketime into the
    # suite's processes, and chromium does not load pages under it. The app's time is the
    # test's clock either way.
    env = {
        k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")
    }
    browser = pw.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        env=env,
    )
    return pw, browser


class LiveServer:
    """The app under uvicorn on a free port, in a thread (no lifespan: the test's TestClient
    runs it for the same app)."""

    def __init__(self, app) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        pause = threading.Event()  # never set: a 10 ms wait between looks
        while not self.server.started:
            if not self.thread.is_alive():
                pytest.fail("the live server did not start")
            pause.wait(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Watch:
    """What the browser said while a test ran: console errors, page errors, CSP violations."""

    problems: list[str] = field(default_factory=list)
    expected: set[int] = field(default_factory=set)

    def expect_status(self, status: int) -> None:
        """A test that asks for a refusal (403, 404) expects Chromium's line about it."""
        self.expected.add(status)

    def _console(self, message) -> None:
        text = message.text
        if any(f"status of {status} " in text for status in self.expected):
            return
        # Chromium reports a CSP violation as a console error ("Refused to load …").
        if message.type == "error" or "Content Security Policy" in text:
            self.problems.append(f"console {message.type}: {text}")

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))


_axe = None


def check_page(page, name: str) -> None:
    """axe on the page as it is (no serious or critical violation), then its screenshots at
    360 and 1280 px wide, full page, into SCREENSHOTS/<name>-<width>.png."""
    global _axe
    from axe_playwright_python.sync_playwright import Axe

    if _axe is None:
        _axe = Axe()
    results = _axe.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in BAD_IMPACTS
    ]
    assert not bad, f"axe on {name}: " + "; ".join(bad)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size(size)


# -- the fixtures of the pages' browser tests (tests/portal, tests/console import them) ------


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
