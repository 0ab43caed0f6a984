"""Filing for someone else in a real browser: a parent for a child (with the proof of the
relationship as a PDF), the under-14 rule explained where it applies, a delegate's form."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.portal.flows import enter_code
from tests.web.browser import check_page

# A real browser (chromium) and a live server: `make test-fast` leaves these out.
pytestmark = pytest.mark.slow

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _fill_child(page, requester_kind_path: str, birth_date: str) -> None:
    page.goto(f"/portal/file?for={requester_kind_path}")
    page.locator("input[name=type][value=access]").check()
    page.fill("input[name='requester.name']", "김엄마")
    page.fill("input[name='requester.email']", "parent@example.com")
    page.fill("input[name='requester.relationship']", "모")
    page.fill("input[name='subject.name']", "김아이")
    page.fill("input[name='subject.birth_date']", birth_date)


def test_a_parent_files_for_a_child_and_uploads_a_pdf(page, outbox_dir, tmp_path):
    page.goto("/portal/file?for=legal_representative")
    expect(page.get_by_text("만 14세 미만 아동의 개인정보에 관한 요구는")).to_be_visible()
    check_page(page, "file-parent-ko")
    _fill_child(page, "legal_representative", "2016-05-05")
    page.get_by_role("button", name="요구 신청").click()
    page.wait_for_url(re.compile(r"/code\?sent=filed"))
    enter_code(page, outbox_dir, "parent@example.com")
    documents = page.get_by_role("region", name="제출 서류")
    expect(documents).to_contain_text("법정대리인임을 증명하는 서류")
    proof = tmp_path / "가족관계증명서.pdf"
    proof.write_bytes(PDF)
    documents.get_by_label("서류 종류").select_option("relationship_proof")
    documents.get_by_label("파일").set_input_files(str(proof))
    documents.get_by_role("button", name="제출").click()
    page.wait_for_url(re.compile(r"\?done=uploaded"))
    expect(page.get_by_role("status")).to_have_text("서류가 제출되었습니다.")
    expect(documents).to_contain_text("관계 증명 서류")


def test_the_under_14_rule_is_told_beside_the_birth_date(page):
    _fill_child(page, "delegate", "2016-05-05")
    page.get_by_role("button", name="요구 신청").click()  # the power of attorney is missing
    expect(page.locator("#f-power_of_attorney-grantor-name-error")).to_have_text(
        "위임장의 내용을 입력해 주십시오."
    )
    for who, name in (("grantor", "김아이"), ("grantee", "김엄마")):
        page.fill(f"input[name='power_of_attorney.{who}.name']", name)
        page.fill(f"input[name='power_of_attorney.{who}.birth_date']", "2016-05-05")
        page.fill(f"input[name='power_of_attorney.{who}.contact']", "010-1234-5678")
        page.fill(f"input[name='power_of_attorney.{who}.address']", "서울특별시 종로구 세종대로 1")
    page.fill("input[name='power_of_attorney.grantee.relationship']", "모")
    page.locator("input[name='power_of_attorney.rights'][value=access]").check()
    page.fill("input[name='power_of_attorney.signed_on']", "2026-11-30")
    page.get_by_role("button", name="요구 신청").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator("#f-subject-birth_date-error")).to_have_text(
        "정보주체가 만 14세 미만입니다. 부모 등 법정대리인만 신청할 수 있습니다"
        "(개인정보 보호법 제38조제2항)."
    )
    check_page(page, "file-delegate-errors-ko")


def test_a_file_that_is_not_a_pdf_is_refused_beside_the_input(page, outbox_dir, tmp_path):
    _fill_child(page, "legal_representative", "2016-05-05")
    page.get_by_role("button", name="요구 신청").click()
    enter_code(page, outbox_dir, "parent@example.com")
    fake = tmp_path / "proof.pdf"
    fake.write_bytes(b"not a pdf at all")
    page.get_by_label("파일").set_input_files(str(fake))
    page.get_by_role("button", name="제출").click()
    expect(page.locator("#f-file-error")).to_have_text(
        "PDF, PNG 또는 JPEG 파일만 올릴 수 있습니다."
    )


def test_a_delegate_files_with_the_power_of_attorney(page, outbox_dir):
    page.goto("/portal/file?for=delegate")
    check_page(page, "file-delegate-ko")
    page.locator("input[name=type][value=deletion]").check()
    page.fill("input[name='requester.name']", "이대리")
    page.fill("input[name='requester.email']", "delegate@example.com")
    page.fill("input[name='requester.relationship']", "배우자")
    page.fill("input[name='subject.name']", "박본인")
    page.fill("input[name='subject.birth_date']", "1980-02-03")
    for who, name, born in (
        ("grantor", "박본인", "1980-02-03"),
        ("grantee", "이대리", "1981-04-05"),
    ):
        page.fill(f"input[name='power_of_attorney.{who}.name']", name)
        page.fill(f"input[name='power_of_attorney.{who}.birth_date']", born)
        page.fill(f"input[name='power_of_attorney.{who}.contact']", "010-1234-5678")
        page.fill(f"input[name='power_of_attorney.{who}.address']", "서울특별시 종로구 세종대로 1")
    page.fill("input[name='power_of_attorney.grantee.relationship']", "배우자")
    page.locator("input[name='power_of_attorney.rights'][value=deletion]").check()
    page.fill("input[name='power_of_attorney.signed_on']", "2026-11-30")
    page.get_by_role("button", name="요구 신청").click()
    page.wait_for_url(re.compile(r"/code\?sent=filed"))
    enter_code(page, outbox_dir, "delegate@example.com")
    documents = page.get_by_role("region", name="제출 서류")
    expect(documents).to_contain_text("서명된 위임장")
    expect(documents.get_by_label("서류 종류")).to_have_value("power_of_attorney")
