"""The portal in a real browser: each page and flow, without console errors or CSP
violations, without serious or critical axe findings, with screenshots at 360 and 1280 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.portal.flows import enter_code, file_for_myself
from tests.web.browser import check_page

# A real browser (chromium) and a live server: `make test-fast` leaves these out.
pytestmark = pytest.mark.slow


def test_start_page_in_korean(page):
    response = page.goto("/portal/")
    assert response.status == 200
    headers = response.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert page.locator("html").get_attribute("lang") == "ko"
    expect(page.get_by_role("heading", level=1)).to_contain_text("개인정보")
    expect(page.get_by_text("privacy@example.com").first).to_be_visible()
    expect(page.get_by_text("10일 이내에 답변합니다")).to_be_visible()
    check_page(page, "start-ko")


def test_language_switch_keeps_english_in_a_cookie(page):
    page.goto("/portal/")
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/portal/")
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask about your personal information")
    check_page(page, "start-en")
    page.goto("/portal/sign-in")  # the choice stays
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="한국어").click()
    assert page.locator("html").get_attribute("lang") == "ko"


def test_file_for_myself_then_code_then_request_page(page, outbox_dir):
    page.goto("/portal/file")
    check_page(page, "file-ko")
    reference = file_for_myself(page)
    expect(page.get_by_role("status")).to_contain_text(reference)
    resend = page.locator("#resend")
    expect(resend).to_have_text(re.compile(r"다시 보내기: \d+초 후"))
    shown = int(re.search(r"(\d+)초", resend.inner_text()).group(1))
    # The script counts down (the page works without it: the server said the same).
    expect(resend).to_have_text(f"다시 보내기: {shown - 1}초 후", timeout=3000)
    check_page(page, "code-ko")
    enter_code(page, outbox_dir, "hong@example.com")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"요구 {reference}")
    expect(page.locator(".status")).to_have_text("접수됨, 검토 대기 중")
    expect(page.get_by_text("10일 남음")).to_be_visible()
    check_page(page, "request-ko")
    cookie = next(c for c in page.context.cookies() if c["name"] == "rd_portal")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/portal"


def test_errors_beside_their_fields_in_korean_and_english(page):
    page.goto("/portal/file")
    page.fill("input[name='subject.name']", "홍길동")
    page.fill("input[name='subject.email']", "not-an-address")
    page.get_by_role("button", name="요구 신청").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    email = page.locator("input[name='subject.email']")
    expect(email).to_have_attribute("aria-invalid", "true")
    described = email.get_attribute("aria-describedby")
    error = page.locator(f"#{described.split()[-1]}")
    expect(error).to_have_text("name@example.com과 같은 형식으로 전자우편 주소를 입력해 주십시오.")
    expect(page.locator("#f-type-error")).to_have_text("이 항목을 입력해 주십시오.")
    expect(email).to_have_value("not-an-address")  # what was typed stays
    check_page(page, "file-errors-ko")

    page.get_by_role("link", name="English").click()
    page.goto("/portal/file")
    page.fill("input[name='subject.name']", "Hong")
    page.fill("input[name='subject.email']", "not-an-address")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#f-subject-email-error")).to_have_text(
        "Enter an e-mail address like name@example.com."
    )
    check_page(page, "file-errors-en")


def test_a_form_without_its_csrf_token_is_refused(page, watch):
    watch.expect_status(403)
    page.goto("/portal/file")
    page.locator("input[name=csrf_token]").evaluate("e => e.remove()")
    page.locator("input[name=type][value=access]").check()
    page.fill("input[name='subject.name']", "홍길동")
    page.fill("input[name='subject.email']", "hong@example.com")
    with page.expect_response(re.compile("/portal/file$")) as answer:
        page.get_by_role("button", name="요구 신청").click()
    assert answer.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("양식의 유효 시간이 지났습니다")
