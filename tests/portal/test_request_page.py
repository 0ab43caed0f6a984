"""The request page in a real browser: coming back by sign-in, a refusal with its grounds and
an objection, withdrawing, the result in each format, and one session per request."""

from __future__ import annotations

import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from tests.portal.flows import code_for, enter_code, file_for_myself, request_id_for
from tests.support import act, finish_tasks, read_outbox
from tests.web.browser import check_page

# A real browser (chromium) and a live server: `make test-fast` leaves these out.
pytestmark = pytest.mark.slow

REFUSE = {"outcome": "refused", "grounds": ["PIPA-35-4-1"], "explanation": "법률에 따른 제한"}
GRANT = {"outcome": "granted", "explanation": "요구하신 개인정보를 열람하실 수 있도록 합니다."}


def _filed_and_open(page, outbox_dir, email="hong@example.com") -> str:
    reference = file_for_myself(page, email=email)
    enter_code(page, outbox_dir, email)
    return reference


def test_come_back_by_sign_in(page, outbox_dir, clock):
    reference = _filed_and_open(page, outbox_dir)
    page.context.clear_cookies()
    page.goto(f"/portal/requests/{reference}")  # not signed in: the sign-in page
    page.wait_for_url(re.compile(r"/portal/sign-in\?reference="))
    expect(page.locator("input[name=reference]")).to_have_value(reference)
    check_page(page, "sign-in-ko")
    sent_before = len(read_outbox(outbox_dir))
    page.fill("input[name=email]", "someone-else@example.com")  # a wrong address
    page.get_by_role("button", name="인증번호 받기").click()
    page.wait_for_url(re.compile(r"/code\?sent=signin"))
    message = page.get_by_role("status")
    expect(message).to_have_text(re.compile("일치하는 요구가 있으면"))
    assert len(read_outbox(outbox_dir)) == sent_before  # nothing went out, nothing told
    clock.advance(minutes=2)  # past the pause between codes
    page.goto(f"/portal/sign-in?reference={reference}")
    page.fill("input[name=email]", "hong@example.com")
    page.get_by_role("button", name="인증번호 받기").click()
    page.wait_for_url(re.compile(r"/code\?sent=signin"))
    expect(message).to_have_text(re.compile("일치하는 요구가 있으면"))  # the same words
    enter_code(page, outbox_dir, "hong@example.com")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"요구 {reference}")
    page.get_by_role("button", name="로그아웃").click()
    page.wait_for_url(re.compile(r"/portal/\?done=signed_out"))
    expect(page.get_by_role("status")).to_have_text("로그아웃되었습니다.")
    assert not [c for c in page.context.cookies() if c["name"] == "rd_portal"]
    page.goto(f"/portal/requests/{reference}")
    page.wait_for_url(re.compile(r"/portal/sign-in"))


def test_one_session_opens_only_its_own_request(page, outbox_dir, watch):
    first = _filed_and_open(page, outbox_dir, "first@example.com")
    page.context.clear_cookies()
    second = _filed_and_open(page, outbox_dir, "second@example.com")
    assert first != second
    watch.expect_status(404)
    response = page.goto(f"/portal/requests/{first}")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("페이지를 찾을 수 없습니다")
    check_page(page, "not-found-ko")


def test_refusal_with_its_grounds_and_an_objection(page, outbox_dir, client, staff):
    _filed_and_open(page, outbox_dir)
    rid = request_id_for(outbox_dir, "hong@example.com")
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    extend = {"reason": "자료 확인에 시간이 더 필요합니다", "due_at": "2026-12-24T12:00:00+09:00"}
    act(client, staff["handler"]["headers"], rid, "extend", extend)
    page.reload()
    extension = page.get_by_role("region", name="처리 기한이 연장되었습니다")
    expect(extension).to_contain_text("2026년 12월 24일")
    expect(extension).to_contain_text("자료 확인에 시간이 더 필요합니다")
    act(client, staff["handler"]["headers"], rid, "decision", REFUSE)
    page.reload()
    expect(page.locator(".status")).to_have_text("거절")
    decision = page.get_by_role("region", name="처리 결과: 거절")
    expect(decision).to_contain_text("법률에 따른 제한")
    expect(decision).to_contain_text("제35조")
    objection = page.get_by_role("region", name="처리 결과에 대한 이의제기")
    expect(objection).to_contain_text("까지 이의를 제기하실 수 있습니다")
    check_page(page, "request-refused-ko")
    objection.get_by_role("button", name="이의제기 신청").click()  # empty: refused beside it
    expect(page.locator("#f-reason-error")).to_have_text("이 항목을 입력해 주십시오.")
    expect(page.locator(".error-summary")).to_be_focused()
    page.fill("textarea[name=reason]", "법률의 어느 조항에 해당하는지 다시 확인해 주십시오.")
    page.get_by_role("button", name="이의제기 신청").click()
    page.wait_for_url(re.compile(r"\?done=objected"))
    expect(page.get_by_role("status")).to_have_text(re.compile("이의제기가 접수되었습니다"))
    expect(page.locator(".status")).to_have_text("검토 중")


def test_withdraw_with_a_confirmation(page, outbox_dir):
    reference = _filed_and_open(page, outbox_dir)
    page.get_by_role("link", name="요구 취하").click()
    page.wait_for_url(f"**/portal/requests/{reference}/withdraw")
    check_page(page, "withdraw-ko")
    page.get_by_role("link", name="아니요, 유지하겠습니다").click()
    expect(page.locator(".status")).to_have_text("접수됨, 검토 대기 중")
    page.get_by_role("link", name="요구 취하").click()
    page.get_by_role("button", name="예, 취하합니다").click()
    page.wait_for_url(re.compile(r"\?done=withdrawn"))
    expect(page.locator(".status")).to_have_text("취하됨")
    expect(page.get_by_role("link", name="요구 취하")).to_have_count(0)


def test_result_downloads_in_each_format(page, outbox_dir, client, staff):
    reference = _filed_and_open(page, outbox_dir)
    rid = request_id_for(outbox_dir, "hong@example.com")
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    act(client, staff["handler"]["headers"], rid, "decision", GRANT)
    finish_tasks(client, staff["handler"]["headers"], rid)
    act(client, staff["handler"]["headers"], rid, "complete")
    page.reload()
    expect(page.locator(".status")).to_have_text("처리 완료")
    result = page.get_by_role("region", name="열람 결과")
    expect(result).to_contain_text("전에 내려받아 주십시오")
    check_page(page, "request-result-ko")
    for fmt, label in (("json", "JSON"), ("csv", "CSV"), ("zip", "ZIP")):
        with page.expect_download() as info:
            result.get_by_role("link", name=re.compile(label)).click()
        download = info.value
        assert download.suggested_filename == f"access-result-{reference}.{fmt}"
        path = download.path()
        if fmt == "json":
            assert json.loads(path.read_text(encoding="utf-8"))["reference"] == reference
        elif fmt == "csv":
            assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads Korean
        else:
            assert "result.json" in zipfile.ZipFile(path).namelist()


def test_resend_shows_the_pause(page, outbox_dir):
    reference = file_for_myself(page)
    page.locator("#resend").click()
    page.wait_for_url(re.compile(r"/code\?sent=wait"))
    expect(page.locator("#resend")).to_have_text(re.compile(r"다시 보내기: \d+초 후"))
    assert code_for(outbox_dir, "hong@example.com")
    assert reference in page.content()


def test_a_deletion_shows_what_is_kept_under_which_law(page, outbox_dir, client, staff):
    file_for_myself(page, type_="deletion", email="del@example.com")
    enter_code(page, outbox_dir, "del@example.com")
    rid = request_id_for(outbox_dir, "del@example.com")
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=staff["handler"]["headers"])
    assert plan.status_code == 200, plan.text
    act(client, staff["handler"]["headers"], rid, "decision", plan.json()["decision"])
    page.reload()
    decision = page.get_by_role("region", name=re.compile("^처리 결과: "))
    table = decision.get_by_role("table")
    expect(table).to_contain_text("회원 계정")
    expect(table).to_contain_text("전자상거래 등에서의 소비자 보호에 관한 법률")
    expect(table).to_contain_text(re.compile(r"5년|\d{4}년 \d+월 \d+일까지"))
    check_page(page, "request-deletion-ko")


def test_the_request_page_in_english(page, outbox_dir):
    reference = _filed_and_open(page, outbox_dir)
    page.get_by_role("link", name="English").click()
    page.wait_for_url(f"**/portal/requests/{reference}")
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.locator(".status")).to_have_text("Received, waiting for review")
    expect(page.get_by_text("10 days left")).to_be_visible()
    expect(page.get_by_text("11 December 2026")).to_be_visible()
    check_page(page, "request-en")
