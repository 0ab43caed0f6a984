"""The console in a real browser: a CPO's day, from the log-in to a completed request, with
no console error or CSP violation, no serious or critical axe finding, and screenshots."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.console.support import log_in_page
from tests.support import file_request, sql_rows
from tests.web.browser import check_page

# A real browser (chromium) and a live server: `make test-fast` leaves these out.
pytestmark = pytest.mark.slow


def test_a_cpos_day(page, client, staff, database_url):
    filed = file_request(client)  # by the API, waiting for verification
    reference = filed["reference"]
    page.goto("/console/")
    page.wait_for_url(re.compile(r"/console/login$"))
    check_page(page, "console-login-ko")
    log_in_page(page, "cpo@example.com")

    # The queue: the request, its days left in words beside the colour.
    row = page.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text("일 남음")
    check_page(page, "console-queue-ko")
    row.get_by_role("link", name=reference).click()
    page.wait_for_url(re.compile(rf"/console/requests/{reference}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.get_by_text("hong.gildong@example.com")).to_be_visible()

    # Verify identity by a person.
    page.fill("#verify-method", "phone_callback")
    page.get_by_role("button", name="확인 결과 저장").click()
    page.wait_for_url(re.compile(r"\?done=verify$"))
    expect(page.locator(".status")).to_have_text("접수됨, 담당자 없음")

    # Take it, then decide with the plan in view.
    page.get_by_role("button", name="배정", exact=True).click()
    page.wait_for_url(re.compile(r"\?done=assign$"))
    expect(page.get_by_role("heading", name="처리 계획")).to_be_visible()
    check_page(page, "console-request-ko")
    page.fill("#decision-explanation", "요구하신 개인정보를 열람하실 수 있도록 합니다.")
    page.get_by_role("button", name="결정 통지").click()
    page.wait_for_url(re.compile(r"\?done=decision$"))

    # Complete the tasks: each collect task returns what its system holds.
    forms = page.locator("form[action*='/tasks/'][action$='/complete']")
    while forms.count():
        form = forms.first
        data = form.locator("textarea[name=data]")
        if data.count():
            data.fill("email: hong.gildong@example.com")
        form.get_by_role("button", name="작업 결과 기록").click()
        page.wait_for_url(re.compile(r"\?done=task$"))
    page.get_by_role("button", name="완료", exact=True).click()
    page.wait_for_url(re.compile(r"\?done=complete$"))
    expect(page.locator(".status")).to_have_text("처리 완료")
    assert sql_rows(database_url, "SELECT status FROM request") == [("completed",)]

    # Log out: the session row ends, and the console asks for a log-in again.
    page.get_by_role("button", name="로그아웃").click()
    page.wait_for_url(re.compile(r"/console/login"))
    page.goto("/console/")
    page.wait_for_url(re.compile(r"/console/login$"))


def test_a_post_without_the_csrf_token_is_refused(page, staff, watch):
    log_in_page(page, "cpo@example.com")
    page.locator("input[name=csrf_token]").first.evaluate("input => input.remove()")
    watch.expect_status(403)
    page.get_by_role("button", name="로그아웃").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("양식의 유효 시간이 지났습니다")
    check_page(page, "console-csrf-ko")


def test_english_intake_page(page, staff):
    log_in_page(page, "handler@example.com")
    page.get_by_role("link", name="English").click()
    page.get_by_role("link", name="Enter a request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter a request received offline")
    check_page(page, "console-intake-en")


def test_an_auditor_reads_but_has_no_buttons(page, client, staff, watch):
    reference = file_request(client)["reference"]
    log_in_page(page, "auditor@example.com")
    page.goto(f"/console/requests/{reference}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.locator("main button")).to_have_count(0)
    watch.expect_status(403)
    response = page.goto("/console/intake")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("허용되지 않음")
    check_page(page, "console-forbidden-ko")


def test_the_dashboard_and_an_evidence_pack(page, client, staff, outbox_dir, tmp_path):
    """The dashboard's figures are the metrics API's, each chart with its table; the request's
    page hands over an evidence pack that `rightsdesk audit verify` accepts."""
    from tests.support import in_progress, rightsdesk

    filed = in_progress(client, outbox_dir, staff, type="deletion")
    file_request(client, subject={"name": "둘", "email": "two@example.com"})
    api = client.get("/v1/staff/metrics", headers=staff["auditor"]["headers"]).json()
    log_in_page(page, "auditor@example.com")
    page.get_by_role("link", name="현황판").click()
    page.wait_for_url(re.compile(r"/console/dashboard$"))
    expect(page.locator("svg.chart")).to_have_count(7)
    week = page.get_by_role("table").filter(has_text="주별 접수 건수")
    totals = week.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert sum(int(t) for t in totals) == api["received"] == 2
    statuses = page.get_by_role("table").filter(has_text="진행 중인 요구(상태별)")
    counts = statuses.locator("tbody tr td").all_inner_texts()
    assert sorted(int(c) for c in counts) == sorted(api["open_by_status"].values())
    check_page(page, "console-dashboard-ko")

    page.goto(f"/console/requests/{filed.created['reference']}")
    with page.expect_download() as info:
        page.get_by_role("link", name="증거 자료 내려받기").click()
    pack = tmp_path / info.value.suggested_filename
    info.value.save_as(pack)
    checked = rightsdesk({}, "audit", "verify", str(pack))
    assert checked.returncode == 0, checked.stdout + checked.stderr
