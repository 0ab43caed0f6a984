"""Bulk work from the console's queue (issue 22.5): tick requests, choose, confirm; each request
changed on its own through the API's bulk service, with the version the queue showed. As
anonymous (to the log-in), a role that may not (the auditor: no boxes, a forged post refused),
without the CSRF token, with bad input (beside its field, nothing changed) and valid."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from app.law.deadlines import seoul_date
from tests.console.support import csrf, log_in
from tests.support import file_request, sql_rows, verified

PICK = re.compile(r'name="ids" value="(RD-\d{4}-\d{6}@\d+)"')


def _three(client, outbox_dir) -> list[dict]:
    return [
        verified(client, outbox_dir, subject={"name": f"사람{i}", "email": f"p{i}@example.com"})[0]
        for i in range(3)
    ]


def _picks(client) -> list[str]:
    page = client.get("/console/")
    assert page.status_code == 200, page.text
    return PICK.findall(page.text)


def _extensions(database_url) -> list:
    return sql_rows(database_url, "SELECT request_id FROM extension ORDER BY request_id")


def _later(created: dict, days: int = 20) -> str:
    due = datetime.fromisoformat(created["due_at"])
    return (seoul_date(due) + timedelta(days=days)).isoformat()


def test_anonymous_goes_to_the_log_in(client):
    token = csrf(client.get("/console/login").text)
    for path in ("/console/bulk", "/console/bulk/run"):
        response = client.post(
            path,
            data={"csrf_token": token, "ids": "RD-2026-000001@1", "action": "assign"},
            follow_redirects=False,
        )
        assert (response.status_code, response.headers["location"]) == (303, "/console/login")


def test_the_auditor_has_no_boxes_and_a_forged_post_is_refused(
    client, staff, outbox_dir, database_url
):
    created = _three(client, outbox_dir)
    token = log_in(client, "auditor@example.com")
    assert _picks(client) == []
    forged = client.post(
        "/console/bulk/run",
        data={
            "csrf_token": token,
            "ids": f"{created[0]['reference']}@2",
            "action": "extend",
            "reason": "검토 지연",
            "due_date": _later(created[0]),
        },
    )
    assert forged.status_code == 403
    assert _extensions(database_url) == []


def test_a_post_without_the_csrf_token_is_refused(client, staff, outbox_dir, database_url):
    _three(client, outbox_dir)
    log_in(client, "cpo@example.com")
    picks = _picks(client)
    response = client.post(
        "/console/bulk/run",
        data={"ids": picks, "action": "decision"},
    )
    assert response.status_code == 403
    assert sql_rows(database_url, "SELECT id FROM decision") == []


def test_a_cpo_extends_three_each_once_with_a_notice(client, staff, outbox_dir, database_url):
    created = _three(client, outbox_dir)
    token = log_in(client, "cpo@example.com")
    picks = _picks(client)
    assert sorted(p.split("@")[0] for p in picks) == sorted(c["reference"] for c in created)

    chosen = client.post(
        "/console/bulk", data={"csrf_token": token, "ids": picks, "action": "extend"}
    )
    assert chosen.status_code == 200, chosen.text
    assert "선택한 요구: 3건" in chosen.text and 'name="due_date"' in chosen.text
    assert _extensions(database_url) == []  # the choice changes nothing

    # The reason left out and a date that is no date: beside their fields, nothing done.
    bad = client.post(
        "/console/bulk/run",
        data={
            "csrf_token": token,
            "ids": picks,
            "action": "extend",
            "reason": " ",
            "due_date": "x",
        },
    )
    assert bad.status_code == 422
    assert 'id="f-reason-error"' in bad.text and 'id="f-due_date-error"' in bad.text
    assert _extensions(database_url) == []

    new_due = max(_later(c) for c in created)
    done = client.post(
        "/console/bulk/run",
        data={
            "csrf_token": token,
            "ids": picks,
            "action": "extend",
            "reason": "요청하신 자료가 여러 시스템에 나뉘어 있어 확인에 시간이 걸립니다.",
            "due_date": new_due,
        },
    )
    assert done.status_code == 200, done.text
    assert "처리됨: 3건" in done.text
    assert sorted(r for (r,) in _extensions(database_url)) == sorted(c["id"] for c in created)
    notices = sql_rows(
        database_url, "SELECT request_id FROM outbox_message WHERE template = 'extended'"
    )
    assert sorted(r for (r,) in notices) == sorted(c["id"] for c in created)

    # The same page posted again: every version has moved, so nothing is extended twice.
    again = client.post(
        "/console/bulk/run",
        data={
            "csrf_token": token,
            "ids": picks,
            "action": "extend",
            "reason": "다시",
            "due_date": new_due,
        },
    )
    assert again.status_code == 200
    assert "처리됨: 0건" in again.text and "지금 상태에서 할 수 없음: 3건" in again.text
    assert len(_extensions(database_url)) == 3


def test_a_handler_takes_them_and_a_stale_row_is_left(client, staff, outbox_dir, database_url):
    created = _three(client, outbox_dir)
    token = log_in(client, "handler@example.com")
    picks = _picks(client)
    # Someone assigns the first after the queue was read: its row is stale.
    first = created[0]
    etag = client.get(f"/v1/staff/requests/{first['id']}", headers=staff["cpo"]["headers"])
    moved = client.post(
        f"/v1/staff/requests/{first['id']}/assign",
        headers={**staff["cpo"]["headers"], "If-Match": etag.headers["etag"]},
        json={"assignee": "cpo@example.com"},
    )
    assert moved.status_code == 200, moved.text
    done = client.post(
        "/console/bulk/run",
        data={"csrf_token": token, "ids": picks, "action": "assign", "assignee": "me"},
    )
    assert done.status_code == 200, done.text
    assert "처리됨: 2건" in done.text and "지금 상태에서 할 수 없음: 1건" in done.text
    owners = dict(sql_rows(database_url, "SELECT reference, assignee_id FROM request"))
    assert owners[first["reference"]] == staff["cpo"]["id"]
    assert {owners[c["reference"]] for c in created[1:]} == {staff["handler"]["id"]}


@pytest.mark.parametrize(
    ("ids", "action", "field"),
    [
        ([], "assign", "ids"),
        (["RD-2026-000001"], "assign", "ids"),  # no version: not a row the queue offered
        (["'; DROP TABLE request; --@1"], "assign", "ids"),
        (["RD-2026-000001@1"], "", "action"),
        (["RD-2026-000001@1"], "delete-everything", "action"),
    ],
)
def test_a_bad_choice_is_told_and_changes_nothing(client, staff, database_url, ids, action, field):
    file_request(client)
    token = log_in(client, "cpo@example.com")
    for path in ("/console/bulk", "/console/bulk/run"):
        response = client.post(path, data={"csrf_token": token, "ids": ids, "action": action})
        assert response.status_code == 422, response.text
        assert f'id="f-{field}"' in response.text
    assert sql_rows(database_url, "SELECT assignee_id FROM request") == [(None,)]
