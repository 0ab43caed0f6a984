"""NaN and Infinity are not JSON (RFC 8259 §6), yet Python's parser takes them (issue 21.5): a
collect task's `data` holding one made the subject's access result invalid JSON. Refused (422)
when staff complete the task and when a processor confirms it; nothing is kept."""

from __future__ import annotations

import json

import pytest

from tests.support import act, client_token, make_client, verified

URL = "/v1/integrations/tasks"
BAD = ["NaN", "Infinity", "-Infinity", "1e999"]


def _strict(text: str):
    def refuse(name):
        raise ValueError(name)

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def collect(client, staff, outbox_dir) -> dict:
    """An access request decided as its plan says, with its collect task at stibee open."""
    creds = make_client(
        client, staff["cpo"]["headers"], ["tasks:read", "tasks:write"], ["stibee"], name="Stibee"
    )
    created, subject = verified(
        client, outbox_dir, type="access", scope={"categories": ["newsletter"]}
    )
    rid = created["id"]
    handler = staff["handler"]["headers"]
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=handler).json()
    act(client, handler, rid, "decision", plan["decision"])
    bearer = client_token(client, creds)
    [task] = [t for t in client.get(URL, headers=bearer).json()["items"] if t["kind"] == "collect"]
    return {"rid": rid, "task": task["id"], "bearer": bearer, "subject": subject}


def _post(client, url, headers, value: str):
    body = '{"outcome": "done", "data": {"name": "홍길동", "points": ' + value + "}}"
    return client.post(
        url, headers={**headers, "Content-Type": "application/json"}, content=body.encode()
    )


@pytest.mark.parametrize("value", BAD)
def test_a_processor_cannot_confirm_a_non_finite_number(client, collect, value):
    r = _post(client, f"{URL}/{collect['task']}/confirm", collect["bearer"], value)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].startswith("data")
    detail = client.get(f"{URL}/{collect['task']}", headers=collect["bearer"]).json()
    assert detail["status"] == "open"


@pytest.mark.parametrize("value", BAD)
def test_staff_cannot_complete_with_a_non_finite_number(client, staff, collect, value):
    handler = staff["handler"]["headers"]
    r = _post(client, f"/v1/staff/tasks/{collect['task']}/complete", handler, value)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].startswith("data")


def test_finite_numbers_make_a_valid_json_result(client, staff, collect):
    handler = staff["handler"]["headers"]
    r = _post(client, f"{URL}/{collect['task']}/confirm", collect["bearer"], "1.5e3")
    assert r.status_code == 200, r.text
    act(client, handler, collect["rid"], "complete", {})
    result = client.get(f"/v1/requests/{collect['rid']}/result", headers=collect["subject"])
    assert result.status_code == 200, result.text
    assert "1500" in result.text
    _strict(result.text)
