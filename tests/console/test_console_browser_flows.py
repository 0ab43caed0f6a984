"""The console's flows in a real browser that the HTTP tests cannot show: a delegate's PDF
opened from the request page and the authority verified; the person's portal page after the
CPO completes; the idle time-out and the session sliding while used; a deactivated account's
open session; an objection answered by a re-decision. Each fails on a console error or CSP
violation (the `watch` fixture); each new page is checked by axe and photographed."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.console.support import DELEGATE, POA, log_in_page
from tests.portal.flows import enter_code
from tests.support import act, finish_tasks, in_progress, latest_code, request_body
from tests.web.browser import check_page

# A real browser (chromium) and a live server: `make test-fast` leaves these out.
pytestmark = pytest.mark.slow

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
GRANT = {"outcome": "granted", "explanation": "요구하신 개인정보를 열람하실 수 있도록 합니다."}
REFUSE = {"outcome": "refused", "grounds": ["PIPA-35-4-1"], "explanation": "법률에 따른 제한"}


def test_a_delegates_pdf_is_opened_in_the_browser_then_verified(
    page, client, staff, outbox_dir, watch
):
    filed = client.post(
        "/v1/requests", json=request_body(requester=DELEGATE, power_of_attorney=POA)
    )
    assert filed.status_code == 201, filed.text
    rid, reference = filed.json()["id"], filed.json()["reference"]
    code = latest_code(outbox_dir, rid)
    token = client.post(f"/v1/requests/{rid}/verification", json={"code": code}).json()
    uploaded = client.post(
        f"/v1/requests/{rid}/documents",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        data={"kind": "power_of_attorney"},
        files={"file": ("위임장.pdf", PDF, "application/pdf")},
    )
    assert uploaded.status_code == 201, uploaded.text

    log_in_page(page, "cpo@example.com")
    page.goto(f"/console/requests/{reference}")
    expect(page.get_by_text("이대리 · proxy@example.com")).to_be_visible()
    expect(page.get_by_label("열람 사유 (기록됨)")).to_have_value("대리인의 권한 확인")
    check_page(page, "console-request-delegate-ko")
    # The document opens in a new tab, served inline as the PDF it is.
    with (
        page.expect_popup() as tab,
        page.context.expect_event("response", lambda r: "/documents/" in r.url) as shown,
    ):
        page.get_by_role("button", name="문서 보기").click()
    response = shown.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == "inline"
    assert re.search(r"/documents/doc_\w+$", tab.value.url)  # a tab of its own
    tab.value.close()

    # The view is in the access record, with the reason the form gave.
    record = client.get(
        "/v1/staff/audit",
        headers=staff["auditor"]["headers"],
        params={"request_id": rid, "action": "download"},
    )
    assert record.status_code == 200, record.text
    views = record.json()["items"]
    assert [e["actor"] for e in views] == [f"staff:{staff['cpo']['id']}"]
    assert views[0]["detail"]["reason"] == "대리인의 권한 확인"

    page.fill("#verify-method", "위임장 및 위임인 신분증 사본 확인")
    page.get_by_role("button", name="확인 결과 저장").click()
    page.wait_for_url(re.compile(r"\?done=verify$"))
    expect(page.locator(".status")).to_have_text("접수됨, 담당자 없음")


def test_the_persons_portal_page_shows_the_outcome(page, client, staff, outbox_dir, clock):
    filed = in_progress(client, outbox_dir, staff, assignee="cpo@example.com")
    reference = filed.created["reference"]
    log_in_page(page, "cpo@example.com")
    page.goto(f"/console/requests/{reference}")
    page.fill("#decision-explanation", GRANT["explanation"])
    page.get_by_role("button", name="결정 통지").click()
    page.wait_for_url(re.compile(r"\?done=decision$"))
    finish_tasks(client, staff["cpo"]["headers"], filed.id)  # the tasks: tested in the CPO's day
    page.reload()
    page.get_by_role("button", name="완료", exact=True).click()
    page.wait_for_url(re.compile(r"\?done=complete$"))
    expect(page.locator(".status")).to_have_text("처리 완료")

    # The person comes back to the portal, signs in by a code, and sees the outcome.
    clock.advance(minutes=2)  # past the pause between codes
    page.goto(f"/portal/requests/{reference}")
    page.wait_for_url(re.compile(r"/portal/sign-in\?reference="))
    page.fill("input[name=email]", "hong.gildong@example.com")
    page.get_by_role("button", name="인증번호 받기").click()
    page.wait_for_url(re.compile(r"/code\?sent=signin"))
    enter_code(page, outbox_dir, "hong.gildong@example.com")
    expect(page.locator(".status")).to_have_text("처리 완료")
    decision = page.get_by_role("region", name="처리 결과: 요구 수용")
    expect(decision).to_contain_text(GRANT["explanation"])
    expect(page.get_by_role("region", name="열람 결과")).to_be_visible()
    check_page(page, "portal-request-completed-ko")


def test_idle_logs_out_and_use_keeps_the_session(page, staff, clock):
    log_in_page(page, "handler@example.com")
    for _ in range(3):  # an hour of work, never 30 minutes idle: the session slides
        clock.advance(minutes=20)
        page.reload()
        expect(page).to_have_url(re.compile(r"/console/$"))
        expect(page.get_by_role("button", name="로그아웃")).to_be_visible()
    clock.advance(minutes=31)  # RIGHTSDESK_STAFF_IDLE_MINUTES (30) without a page
    page.get_by_role("link", name="요구 입력").click()
    page.wait_for_url(re.compile(r"/console/login\?done=session_ended$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("콘솔 로그인")
    expect(page.get_by_role("status")).to_contain_text("세션이 종료되었습니다")


def test_deactivation_ends_an_open_session(page, client, staff):
    log_in_page(page, "handler@example.com")
    expect(page.get_by_role("button", name="로그아웃")).to_be_visible()
    changed = client.patch(
        f"/v1/staff/users/{staff['handler']['id']}",
        headers=staff["cpo"]["headers"],
        json={"active": False},
    )
    assert changed.status_code == 200, changed.text
    page.reload()
    page.wait_for_url(re.compile(r"/console/login\?done=session_ended$"))
    expect(page.get_by_role("button", name="로그아웃")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("다시 로그인해 주십시오")


def test_an_objection_answered_by_a_re_decision(page, client, staff, outbox_dir, watch):
    filed = in_progress(client, outbox_dir, staff, assignee="cpo@example.com")
    reference = filed.created["reference"]
    act(client, staff["cpo"]["headers"], filed.id, "decision", REFUSE)
    reason = "법률의 어느 조항에 해당하는지 다시 확인해 주십시오."
    objected = client.post(
        f"/v1/requests/{filed.id}/objections", headers=filed.subject, json={"reason": reason}
    )
    assert objected.status_code == 201, objected.text

    log_in_page(page, "cpo@example.com")
    page.goto(f"/console/requests/{reference}")
    objection = page.locator("li.objection")
    expect(objection).to_contain_text("처리 결과(결정)에 대한 이의제기")
    expect(objection).to_contain_text("답변 대기 중")
    expect(objection).to_contain_text(reason)
    redecide = page.get_by_role("region", name="이의제기에 따른 재결정")
    expect(redecide).to_contain_text(reason)
    check_page(page, "console-redecision-ko")

    # A refusal again needs its ground: told beside the field (a 422), the form kept.
    watch.expect_status(422)
    redecide.get_by_label("거절", exact=True).check()
    page.fill("#decision-explanation", "다시 검토하였으나 거절합니다.")
    redecide.get_by_role("button", name="재결정 결과 통지").click()
    expect(page.locator("#decision-grounds-error")).to_be_visible()
    expect(page.locator("#decision-explanation")).to_have_value("다시 검토하였으나 거절합니다.")

    # Decided again: granted; the objection is answered.
    redecide = page.get_by_role("region", name="이의제기에 따른 재결정")
    redecide.get_by_label("요구 수용", exact=True).check()
    page.fill("#decision-explanation", "다시 검토한 결과 열람하실 수 있도록 합니다.")
    redecide.get_by_role("button", name="재결정 결과 통지").click()
    page.wait_for_url(re.compile(r"\?done=decision$"))
    expect(objection).to_contain_text("답변:")
    expect(page.get_by_role("region", name="이의제기에 따른 재결정")).to_have_count(0)
    view = client.get(f"/v1/staff/requests/{filed.id}", headers=staff["cpo"]["headers"]).json()
    assert [d["outcome"] for d in view["decisions"]] == ["refused", "granted"]
    assert view["objections"][0]["resolved_at"] is not None


def test_bulk_extension_from_the_queue(page, client, staff, outbox_dir, watch):
    """A surge: two requests ticked in the queue, extended together after the choice is read
    back; the outcome page names each."""
    made = [
        in_progress(client, outbox_dir, staff, subject={"name": n, "email": f"{n}@example.com"})
        for n in ("kim", "lee")
    ]
    log_in_page(page, "cpo@example.com")
    for m in made:
        page.get_by_label(f"{m.created['reference']} 선택").check()
    page.get_by_label("처리", exact=True).select_option("extend")
    page.get_by_role("button", name="다음").click()
    expect(page.get_by_role("heading", level=2, name="선택한 요구: 2건")).to_be_visible()
    watch.expect_status(422)
    page.get_by_role("button", name="실행").click()  # nothing filled in: told beside each field
    expect(page.locator("#f-reason-error")).to_be_visible()
    check_page(page, "console-bulk-extend-ko")
    later = max(date.fromisoformat(m.created["due_at"][:10]) for m in made) + timedelta(days=30)
    page.get_by_label("새 처리 기한").fill(later.isoformat())
    page.get_by_label("사유 (정보주체에게 통지됨)").fill("자료 확인에 시간이 걸립니다.")
    page.get_by_role("button", name="실행").click()
    expect(page.get_by_role("status")).to_contain_text("처리됨: 2건")
    for m in made:
        row = page.get_by_role("row", name=re.compile(m.created["reference"]))
        expect(row).to_contain_text("완료")
    check_page(page, "console-bulk-done-ko")
