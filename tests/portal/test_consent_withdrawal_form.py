"""Withdrawing a consent on the portal (issue 18.4 and 18.7: everything that knows the types
knows these; issue 19.1-2: the rights the profile offers, explained and fileable). The policy's
advertising consent is the request a real company receives most: the start page explains it,
the form names the profile's consents by their labels, a missing choice is told beside it, and
the filed withdrawal is carried out at once when the consent is self-service."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.portal.flows import enter_code
from tests.web.browser import check_page

pytestmark = pytest.mark.slow

CONSENT = "광고성 정보(뉴스레터) 이메일 수신 동의"


def test_the_start_page_explains_the_newer_rights_the_profile_offers(page):
    page.goto("/portal/")
    rights = page.locator("ul.rights")
    expect(rights).to_contain_text("동의 철회 (개인정보 보호법 제37조)")
    expect(rights).to_contain_text("자동화된 결정 (개인정보 보호법 제37조의2)")
    expect(rights).to_contain_text("30일")
    expect(rights).not_to_contain_text("전송")  # the reference company is not covered


def test_withdraw_the_newsletter_consent(page, outbox_dir):
    page.goto("/portal/file")
    page.locator("input[name=type][value=consent_withdrawal]").check()
    page.fill("input[name='subject.name']", "홍길동")
    page.fill("input[name='subject.email']", "hong@example.com")
    page.get_by_role("button", name="요구 신청").click()
    # No consent chosen: told beside the consents, in Korean.
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator("#f-scope-consents-error")).to_have_text("철회할 동의를 선택해 주십시오.")
    check_page(page, "file-withdrawal-errors-ko")
    page.get_by_label(CONSENT).check()
    page.get_by_role("button", name="요구 신청").click()
    page.wait_for_url(re.compile(r"/portal/requests/RD-\d{4}-\d{6}/code"))
    enter_code(page, outbox_dir, "hong@example.com")
    expect(page.get_by_text("개인정보 처리에 대한 동의 철회")).to_be_visible()
    # Self-service (the profile): decided by the plan at once, carried out by the system.
    expect(page.locator(".status")).to_have_text("조치 중")
    check_page(page, "request-withdrawal-ko")


def test_the_form_in_english(page):
    page.goto("/portal/language/en?next=/portal/file")
    page.locator("input[name=type][value=consent_withdrawal]").check()
    expect(
        page.get_by_label("Consent to receive newsletters and advertising by e-mail")
    ).to_be_visible()
