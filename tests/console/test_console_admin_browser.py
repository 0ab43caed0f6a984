"""The console's administration in a real browser: a CPO walks its pages — the monthly
access-record review, a new staff account (first refused beside its field), a client granted,
its secret shown once and the client revoked (asked first), the webhooks and the profile —
with no console error or CSP violation, no serious or critical axe finding, and screenshots
at 360 and 1280 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support import PASSWORD
from tests.web.browser import check_page

# A real browser (chromium) and a live server: `make test-fast` leaves these out.
pytestmark = pytest.mark.slow


def test_a_cpo_walks_the_administration(page, staff, watch):
    page.goto("/console/login")
    page.fill("input[name=username]", "cpo@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url(re.compile(r"/console/$"))

    page.get_by_role("link", name="관리", exact=True).click()
    page.wait_for_url(re.compile(r"/console/admin$"))
    page.get_by_role("link", name="접속기록 점검").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("월별 접속기록 점검")
    check_page(page, "console-admin-review-ko")

    # A new account: a short password is said beside its field, then it is created.
    page.get_by_role("link", name="직원 계정").click()
    page.fill("#create-email", "new.handler@example.com")
    page.select_option("#create-role", "handler")
    page.fill("#create-password", "short")
    watch.expect_status(422)
    page.get_by_role("button", name="계정 만들기").click()
    expect(page.locator("#create-password-error")).to_have_text("비밀번호가 너무 짧습니다.")
    check_page(page, "console-admin-users-error-ko")
    page.fill("#create-password", "a long enough first password")
    page.get_by_role("button", name="계정 만들기").click()
    page.wait_for_url(re.compile(r"/console/admin/users\?done=created$"))
    expect(page.get_by_role("row").filter(has_text="new.handler@example.com")).to_contain_text(
        "처리 담당자"
    )
    check_page(page, "console-admin-users-ko")
    page.set_viewport_size({"width": 360, "height": 800})  # the table scrolls, not the page
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.set_viewport_size({"width": 1280, "height": 800})

    # A client: its secret on the page that answers the form, once.
    page.get_by_role("link", name="API 클라이언트").click()
    page.fill("#create-name", "쇼핑몰 앱")
    page.get_by_label("requests:write — 요구 접수").check()
    page.get_by_role("button", name="클라이언트 등록하기").click()
    secret = page.locator("#client-secret")
    expect(secret).to_have_text(re.compile(r"\S{20,}"))
    shown = secret.inner_text()
    check_page(page, "console-admin-secret-ko")
    page.get_by_role("link", name="확인했습니다: 클라이언트 목록으로").click()
    row = page.get_by_role("row").filter(has_text="쇼핑몰 앱")
    expect(row).to_be_visible()
    assert shown not in page.content()
    # Revoking asks first (a disclosure, no script needed).
    row.locator("summary").click()
    check_page(page, "console-admin-clients-ko")
    row.get_by_role("button", name="쇼핑몰 앱 폐기").click()
    page.wait_for_url(re.compile(r"/console/admin/clients\?done=revoked$"))
    expect(page.get_by_role("row").filter(has_text="쇼핑몰 앱")).to_contain_text("폐기됨")

    page.get_by_role("link", name="웹훅").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("웹훅 수신 주소")
    page.get_by_role("link", name="적용 중인 정책 프로필").click()
    expect(page.get_by_role("heading", name="보존 규칙")).to_be_visible()
    check_page(page, "console-admin-profile-ko")
