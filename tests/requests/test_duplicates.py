"""Duplicates (issue 22, point 4): a second filing of the same right by the same subject while
the first is open is linked to it and told the first stands; staff merge it (closed as
`merged`, its clock stopped, the subject told) or unlink it. Never across types, never for a
proxy's filing, never to a closed request."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from app.notifications.render import SEPARATOR
from tests.concurrency.conftest import race
from tests.support import (
    act,
    audit_entries,
    file_request,
    in_progress,
    read_outbox,
    relogin,
    request_body,
    staff_read,
    verified,
)
from tests.verification.test_proxies import DELEGATE, POA  # a delegate and their power of attorney

EMAIL = "hong.gildong@example.com"


def _notices(outbox_dir, request_id: str, template: str) -> list[dict]:
    return [
        m
        for m in read_outbox(outbox_dir)
        if m["request_id"] == request_id and m["template"] == template
    ]


def _merge(client, headers, rid, into, version=None, expect=200):
    return act(client, headers, rid, "merge", {"into": into}, version=version, expect=expect)


def _unlink(client, headers, rid, version):
    return client.delete(
        f"/v1/staff/requests/{rid}/duplicate-of", headers={**headers, "If-Match": str(version)}
    )


def _kinds(view: dict) -> list[str]:
    return [e["kind"] for e in view["timeline"]]


# --- linking at filing --------------------------------------------------------------------


def test_second_filing_is_linked_to_the_first_and_told_it_stands(client, staff, outbox_dir):
    cpo = staff["cpo"]["headers"]
    first = file_request(client)
    second = file_request(client, locale="en")
    assert second["status"] == "pending_verification"  # accepted, not refused

    view = staff_read(client, cpo, second["id"])
    assert view["duplicate_of"] == {"id": first["id"], "reference": first["reference"]}
    assert "duplicate.linked" in _kinds(view)
    assert "merge" in view["actions"]
    earlier = staff_read(client, cpo, first["id"])
    assert earlier["duplicate_of"] is None
    assert earlier["duplicates"] == [
        {"id": second["id"], "reference": second["reference"], "status": "pending_verification"}
    ]

    [receipt] = _notices(outbox_dir, second["id"], "receipt")
    en, ko = receipt["text"].split(SEPARATOR)  # locale en: English first
    assert f"reference {first['reference']}: it stands and is being handled" in en
    assert (
        f"요구(접수번호 {first['reference']})가 현재 처리 중이며, 그 요구는 그대로 유효합니다" in ko
    )
    [first_receipt] = _notices(outbox_dir, first["id"], "receipt")
    assert "그대로 유효합니다" not in first_receipt["text"]
    assert "it stands" not in first_receipt["text"]

    queue = client.get("/v1/staff/requests", headers=cpo).json()["items"]
    by_id = {i["id"]: i for i in queue}
    assert by_id[second["id"]]["duplicate_of"] == {
        "id": first["id"],
        "reference": first["reference"],
    }
    assert by_id[first["id"]]["duplicate_of"] is None
    entries = [d for _, _, d in audit_entries_of(client, "change") if d]
    assert any(d.get("event") == "duplicate.linked" for d in entries)


def audit_entries_of(client, action: str) -> list:
    return audit_entries(client.app.state.ctx.settings.database_url, action)


def test_a_third_filing_is_linked_to_the_oldest_open_one(client, staff):
    first = file_request(client)
    file_request(client)
    third = file_request(client)
    view = staff_read(client, staff["cpo"]["headers"], third["id"])
    assert view["duplicate_of"]["id"] == first["id"]


def test_the_e_mail_is_matched_by_its_blind_index_whatever_its_case(client, staff):
    first = file_request(client)
    second = file_request(client, subject={"name": "홍길동", "email": EMAIL.upper()})
    view = staff_read(client, staff["cpo"]["headers"], second["id"])
    assert view["duplicate_of"] == {"id": first["id"], "reference": first["reference"]}


def test_never_across_types(client, staff, outbox_dir):
    file_request(client, type="access")
    other = file_request(client, type="deletion")
    assert staff_read(client, staff["cpo"]["headers"], other["id"])["duplicate_of"] is None
    [receipt] = _notices(outbox_dir, other["id"], "receipt")
    assert "그대로 유효합니다" not in receipt["text"]


def test_never_another_subject(client, staff):
    file_request(client)
    other = file_request(client, subject={"name": "김철수", "email": "kim@example.com"})
    assert staff_read(client, staff["cpo"]["headers"], other["id"])["duplicate_of"] is None


def test_never_for_a_proxy_filing_either_way(client, staff):
    cpo = staff["cpo"]["headers"]
    by_proxy = file_request(client, requester=DELEGATE, power_of_attorney=POA)
    by_self = file_request(client)
    assert staff_read(client, cpo, by_self["id"])["duplicate_of"] is None  # not to a proxy's
    again_by_proxy = file_request(client, requester=DELEGATE, power_of_attorney=POA)
    assert staff_read(client, cpo, again_by_proxy["id"])["duplicate_of"] is None
    assert staff_read(client, cpo, by_proxy["id"])["duplicate_of"] is None


def test_never_to_a_closed_request(client, staff, outbox_dir):
    first, subject = verified(client, outbox_dir)
    response = client.post(f"/v1/requests/{first['id']}/withdraw", headers=subject, json={})
    assert response.status_code == 200, response.text
    second = file_request(client)
    assert staff_read(client, staff["cpo"]["headers"], second["id"])["duplicate_of"] is None


def test_an_offline_filing_by_staff_is_linked_too(client, staff, clock):
    first = file_request(client)
    body = {
        **request_body(),
        "channel": "letter",
        "received_at": (clock.now() - timedelta(hours=1)).isoformat(),
    }
    response = client.post("/v1/staff/requests", json=body, headers=staff["cpo"]["headers"])
    assert response.status_code == 201, response.text
    view = staff_read(client, staff["cpo"]["headers"], response.json()["id"])
    assert view["duplicate_of"]["id"] == first["id"]


# --- merge --------------------------------------------------------------------------------


def test_merge_closes_the_duplicate_tells_the_subject_and_stops_its_clock(
    client, staff, outbox_dir, clock
):
    cpo = staff["cpo"]["headers"]
    first = file_request(client)
    second = file_request(client)
    # By reference, on the path and in the body.
    view = _merge(client, cpo, second["reference"], first["reference"])
    assert view["status"] == "merged"
    assert view["closed_at"] is not None
    assert view["days_left"] is None and view["overdue"] is False
    assert view["duplicate_of"] == {"id": first["id"], "reference": first["reference"]}
    assert view["actions"] == []
    assert "status.merged" in _kinds(view)
    earlier = staff_read(client, cpo, first["id"])
    assert "duplicate.merged_in" in _kinds(earlier)
    assert earlier["duplicates"] == [
        {"id": second["id"], "reference": second["reference"], "status": "merged"}
    ]
    # Its verify task left the queue with it.
    assert {t["status"] for t in view["tasks"]} <= {"cancelled"}

    [notice] = _notices(outbox_dir, second["id"], "merged")
    ko, en = notice["text"].split(SEPARATOR)  # locale ko: Korean first
    assert f"먼저 하신 요구(접수번호 {first['reference']})와 중복되어" in ko
    assert f"그대로 접수번호 {first['reference']}로 처리되며" in ko
    assert "we merged it into that earlier request" in en
    assert f"handled under reference {first['reference']}" in en
    assert f"{second['reference']} → {first['reference']}" in notice["subject"]

    changes = [d for _, _, d in audit_entries_of(client, "change")]
    merged = [d for d in changes if d.get("event") == "status.merged"]
    assert merged == [
        {
            "event": "status.merged",
            "from": "pending_verification",
            "to": "merged",
            "into": first["id"],
            "into_reference": first["reference"],
        }
    ]

    # Past both deadlines: the merged one is not overdue anywhere, the one that stands is.
    clock.advance(days=40)
    relogin(client, staff)
    cpo = staff["cpo"]["headers"]
    overdue = client.get("/v1/staff/requests?overdue=true", headers=cpo).json()["items"]
    assert [i["id"] for i in overdue] == [first["id"]]
    metrics = client.get("/v1/staff/metrics", headers=cpo).json()
    assert metrics["open_overdue"] == 1
    assert "merged" not in metrics["open_by_status"]
    assert staff_read(client, cpo, second["id"])["overdue"] is False
    # The default queue (open work) no longer shows it.
    assert second["id"] not in [
        i["id"] for i in client.get("/v1/staff/requests", headers=cpo).json()["items"]
    ]


def test_the_subject_sees_the_merged_status(client, staff, outbox_dir):
    first = file_request(client)
    second, subject = verified(client, outbox_dir)
    _merge(client, staff["cpo"]["headers"], second["id"], first["id"])
    view = client.get(f"/v1/requests/{second['id']}", headers=subject).json()
    assert view["status"] == "merged"
    assert view["days_left"] is None
    assert "withdraw" not in view["actions"]


def test_merge_of_an_in_progress_duplicate_by_its_handler(client, staff, outbox_dir):
    first = file_request(client)
    second = in_progress(client, outbox_dir, staff)  # assigned to the handler
    view = _merge(client, staff["handler"]["headers"], second.id, first["id"])
    assert view["status"] == "merged"
    # Another handler's request: 403.
    third = in_progress(client, outbox_dir, staff)
    _merge(client, staff["handler2"]["headers"], third.id, first["id"], version=3, expect=403)


def test_same_subject_and_type_merge_without_a_link(client, staff):
    """After an unlink (or for two filed before either was linked), staff may still merge two
    open self-filed requests of the same subject and type."""
    cpo = staff["cpo"]["headers"]
    first = file_request(client)
    second = file_request(client)
    version = staff_read(client, cpo, second["id"])["version"]
    assert _unlink(client, cpo, second["id"], version).status_code == 200
    view = _merge(client, cpo, second["id"], first["id"])
    assert view["status"] == "merged"
    assert view["duplicate_of"]["id"] == first["id"]


def test_merge_refusals(client, staff, outbox_dir):
    cpo = staff["cpo"]["headers"]
    first = file_request(client)
    second = file_request(client)

    def problem(rid, into, status):
        body = _merge(client, cpo, rid, into, expect=status)
        assert body["status"] == status
        return body

    assert problem(second["id"], second["id"], 422)["errors"][0]["code"] == "same_request"
    assert problem(second["id"], "req_nonexistent", 422)["errors"][0]["field"] == "into"
    deletion = file_request(client, type="deletion")
    assert "each right" in problem(deletion["id"], first["id"], 422)["detail"]
    stranger = file_request(client, subject={"name": "김철수", "email": "kim@example.com"})
    assert "not the same subject" in problem(stranger["id"], first["id"], 422)["detail"]
    proxy = file_request(client, requester=DELEGATE, power_of_attorney=POA)
    assert "proxy" in problem(proxy["id"], first["id"], 422)["detail"]
    # Unknown request on the path: 404 (before any If-Match is compared).
    response = client.post(
        "/v1/staff/requests/RD-2026-999999/merge",
        json={"into": first["id"]},
        headers={**cpo, "If-Match": "1"},
    )
    assert response.status_code == 404
    # Bad bodies.
    for body in ({}, {"into": first["id"], "extra": 1}, {"into": 5}):
        response = client.post(
            f"/v1/staff/requests/{second['id']}/merge",
            json=body,
            headers={**cpo, "If-Match": "1"},
        )
        assert response.status_code == 422, body
    # Nothing changed.
    assert staff_read(client, cpo, second["id"])["status"] == "pending_verification"

    # Merged already: 409 (whatever the version), and so is unlinking it.
    _merge(client, cpo, second["id"], first["id"])
    merged = problem(second["id"], first["id"], 409)
    assert merged["type"].endswith("illegal-transition")
    assert first["reference"] in merged["detail"]
    version = staff_read(client, cpo, second["id"])["version"]
    assert _unlink(client, cpo, second["id"], version).status_code == 409
    assert len(_notices(outbox_dir, second["id"], "merged")) == 1


def test_merge_into_a_closed_request_is_refused(client, staff, outbox_dir):
    cpo = staff["cpo"]["headers"]
    first, subject = verified(client, outbox_dir)
    second = file_request(client)
    assert client.post(f"/v1/requests/{first['id']}/withdraw", headers=subject, json={})
    body = _merge(client, cpo, second["id"], first["id"], expect=409)
    assert body["type"].endswith("merge-target-closed")


def test_a_request_being_carried_out_is_not_merged(client, staff, outbox_dir):
    cpo = staff["cpo"]["headers"]
    first = file_request(client)
    second = in_progress(client, outbox_dir, staff, assignee="cpo@example.com")
    act(client, cpo, second.id, "decision", {"outcome": "granted", "explanation": "열람 허용"})
    body = _merge(client, cpo, second.id, first["id"], expect=409)
    assert body["status_now"] == "fulfilling"
    assert "merge" not in staff_read(client, cpo, second.id)["actions"]


def test_merge_with_a_stale_version_or_none(client, staff):
    cpo = staff["cpo"]["headers"]
    first = file_request(client)
    second = file_request(client)
    version = staff_read(client, cpo, second["id"])["version"]
    body = _merge(client, cpo, second["id"], first["id"], version=version - 1, expect=412)
    assert body["version"] == version
    response = client.post(
        f"/v1/staff/requests/{second['id']}/merge", json={"into": first["id"]}, headers=cpo
    )
    assert response.status_code == 428
    assert staff_read(client, cpo, second["id"])["status"] == "pending_verification"


def test_roles(client, staff):
    first = file_request(client)
    second = file_request(client)
    url = f"/v1/staff/requests/{second['id']}"
    body = {"into": first["id"]}
    assert client.post(f"{url}/merge", json=body, headers={"If-Match": "1"}).status_code == 401
    assert client.delete(f"{url}/duplicate-of", headers={"If-Match": "1"}).status_code == 401
    auditor = {**staff["auditor"]["headers"], "If-Match": "1"}
    assert client.post(f"{url}/merge", json=body, headers=auditor).status_code == 403
    assert client.delete(f"{url}/duplicate-of", headers=auditor).status_code == 403
    # The auditor sees the link but is offered nothing.
    view = staff_read(client, staff["auditor"]["headers"], second["id"])
    assert view["duplicate_of"]["id"] == first["id"]
    assert view["actions"] == []


# --- unlink -------------------------------------------------------------------------------


def test_unlink(client, staff, outbox_dir):
    cpo = staff["cpo"]["headers"]
    file_request(client)
    second = file_request(client)
    version = staff_read(client, cpo, second["reference"])["version"]
    assert _unlink(client, cpo, second["reference"], version - 1).status_code == 412
    response = _unlink(client, cpo, second["reference"], version)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["duplicate_of"] is None
    assert view["version"] == version + 1
    assert view["status"] == "pending_verification"
    assert "duplicate.unlinked" in _kinds(view)
    assert "merge" not in view["actions"]
    changes = [d for _, _, d in audit_entries_of(client, "change")]
    assert any(d.get("event") == "duplicate.unlinked" for d in changes)
    # Not a duplicate any more: 409.
    again = _unlink(client, cpo, second["reference"], version + 1)
    assert again.status_code == 409
    assert again.json()["type"].endswith("not-a-duplicate")
    queue = client.get("/v1/staff/requests", headers=cpo).json()["items"]
    assert all(i["duplicate_of"] is None for i in queue)
    assert not _notices(outbox_dir, second["id"], "merged")


# --- race ---------------------------------------------------------------------------------


def test_two_merges_of_one_request_race(client, staff, outbox_dir):
    """Two merges of the same request at the same version, in parallel (on PostgreSQL truly
    overlapping): one succeeds, the other is told it is merged already (409), one notice."""
    cpo = staff["cpo"]["headers"]
    first = file_request(client)
    second = file_request(client)
    version = staff_read(client, cpo, second["id"])["version"]
    headers = {**cpo, "If-Match": str(version)}

    def merge(_i: int) -> int:
        return client.post(
            f"/v1/staff/requests/{second['id']}/merge", json={"into": first["id"]}, headers=headers
        ).status_code

    codes = Counter(race(2, merge))
    assert codes == {200: 1, 409: 1}, codes
    assert len(_notices(outbox_dir, second["id"], "merged")) == 1
    view = staff_read(client, cpo, second["id"])
    assert view["status"] == "merged"
    assert _kinds(view).count("status.merged") == 1


# --- the console --------------------------------------------------------------------------


def test_the_console_shows_the_link_and_merges(client, staff, outbox_dir):
    from tests.console.support import log_in, version_on

    first = file_request(client)
    second = file_request(client)
    token = log_in(client, "cpo@example.com")
    queue = client.get("/console/")  # Korean by default
    assert f"{first['reference']}의 중복" in queue.text
    path = f"/console/requests/{second['reference']}"
    page = client.get(path)
    assert page.status_code == 200
    assert f'href="/console/requests/{first["reference"]}"' in page.text
    assert f'action="{path}/merge"' in page.text
    assert f'action="{path}/duplicate-of/remove"' in page.text
    # A stale page: the console's stale message, nothing merged.
    stale = client.post(
        f"{path}/merge",
        data={"csrf_token": token, "version": "0", "into": first["reference"]},
        follow_redirects=False,
    )
    assert stale.status_code == 412
    merged = client.post(
        f"{path}/merge",
        data={"csrf_token": token, "version": version_on(page.text), "into": first["reference"]},
        follow_redirects=False,
    )
    assert merged.status_code == 303, merged.text
    view = staff_read(client, staff["cpo"]["headers"], second["id"])
    assert view["status"] == "merged"
    assert len(_notices(outbox_dir, second["id"], "merged")) == 1
    page = client.get(path).text
    assert f'action="{path}/merge"' not in page
    earlier_page = client.get(f"/console/requests/{first['reference']}").text
    assert 'id="h-duplicates"' in earlier_page
    assert f'href="/console/requests/{second["reference"]}"' in earlier_page
    assert f'action="{path}/duplicate-of/remove"' not in page


def test_the_console_unlinks(client, staff):
    from tests.console.support import log_in, version_on

    file_request(client)
    second = file_request(client)
    token = log_in(client, "cpo@example.com")
    path = f"/console/requests/{second['reference']}"
    page = client.get(path).text
    response = client.post(
        f"{path}/duplicate-of/remove",
        data={"csrf_token": token, "version": version_on(page)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert staff_read(client, staff["cpo"]["headers"], second["id"])["duplicate_of"] is None
    assert 'id="h-duplicate"' not in client.get(path).text


def test_a_merged_request_gets_no_reminder_and_is_not_overdue_in_metrics(
    client, staff, outbox_dir, clock
):
    from app.workflow.reminders import send_reminders

    first = in_progress(client, outbox_dir, staff)
    second = in_progress(client, outbox_dir, staff)
    _merge(client, staff["cpo"]["headers"], second.id, first.id)
    clock.advance(days=40)
    ctx = client.app.state.ctx
    assert send_reminders(ctx.db, ctx) == 1  # the one that stands, overdue
    reminded = {
        m["request_id"] for m in read_outbox(outbox_dir) if m["template"] == "deadline_reminder"
    }
    assert reminded == {first.id}
    scrape = client.get("/metrics").text
    assert "rightsdesk_requests_overdue 1.0" in scrape
    assert 'rightsdesk_requests{status="merged",type="access"} 1.0' in scrape


@pytest.mark.slow
def test_merging_in_a_real_browser(page, client, staff, outbox_dir):
    """The console's duplicate block in chromium: axe and CSP clean, the merge button works."""
    import re

    from playwright.sync_api import expect

    from tests.support import PASSWORD
    from tests.web.browser import check_page

    first = file_request(client)
    second = file_request(client)
    page.goto("/console/login")
    page.fill("input[name=username]", "cpo@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url(re.compile(r"/console/$"))
    expect(page.get_by_role("row").filter(has_text=second["reference"])).to_contain_text(
        f"{first['reference']}의 중복"
    )
    page.goto(f"/console/requests/{second['reference']}")
    expect(page.get_by_role("heading", name="중복 요구")).to_be_visible()
    check_page(page, "console-request-duplicate-ko")
    page.get_by_role("button", name=f"{first['reference']}에 병합하고 정보주체에게 알리기").click()
    page.wait_for_url(re.compile(r"\?done=merge$"))
    expect(page.locator(".status")).to_have_text("먼저 접수된 요구에 병합됨")
    assert len(_notices(outbox_dir, second["id"], "merged")) == 1
