"""The whole filing by keyboard alone: Tab, Space, typing and Enter, no mouse."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.portal.flows import code_for

# A real browser (chromium) and a live server: `make test-fast` leaves these out.
pytestmark = pytest.mark.slow


def _tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until `selector` has the focus (fails after `limit` presses)."""
    target = page.locator(selector)
    for _ in range(limit):
        if target.evaluate("e => e === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_the_whole_filing_by_keyboard(page, outbox_dir):
    page.goto("/portal/")
    _tab_to(page, "a[href='/portal/file']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/file")
    _tab_to(page, "input[name=type][value=access]")
    page.keyboard.press("Space")
    _tab_to(page, "input[name='subject.name']")
    page.keyboard.type("홍길동")
    _tab_to(page, "input[name='subject.email']")
    page.keyboard.type("keys@example.com")
    _tab_to(page, "input[name=categories][value=account]")
    page.keyboard.press("Space")
    _tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/code\?sent=filed"))
    _tab_to(page, "input[name=code]")
    page.keyboard.type(code_for(outbox_dir, "keys@example.com"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/portal/requests/RD-\d{4}-\d{6}$"))
    expect(page.locator(".status")).to_have_text("접수됨, 검토 대기 중")
