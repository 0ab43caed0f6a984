"""Task views after the purge: a system's task of a purged request still answers (the task's
shape is kept), but every personal field in it is null, never an empty string or list that
would read as "known to be empty". The staff views of the same tasks carry no personal data.
Requests are filed, worked and closed through HTTP; the purge runs as `rightsdesk purge` does."""

from __future__ import annotations

import pytest

from app.retention import purge as service
from tests.support import (
    act,
    client_token,
    finish_tasks,
    make_client,
    relogin,
    staff_read,
    verified,
)

URL = "/v1/integrations/tasks"
RETENTION = 1095
CORRECTION = {"item": "name", "current": "홍길동", "requested": "홍길순"}


def _closed(client, outbox_dir, staff, bearer, before, **kw) -> str:
    """A verified request, decided as its plan says, its tasks done, completed (closed);
    `before` gets the system's detail of its task while the task is open (issue 21.3: the
    identifiers are shown only then)."""
    created, _ = verified(client, outbox_dir, **kw)
    rid = created["id"]
    cpo, handler = staff["cpo"]["headers"], staff["handler"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "handler@example.com"})
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=handler)
    assert plan.status_code == 200, plan.text
    act(client, handler, rid, "decision", plan.json()["decision"])
    for task in client.get(URL, headers=bearer).json()["items"]:
        if task["request_id"] == rid:
            detail = client.get(f"{URL}/{task['id']}", headers=bearer)
            assert detail.status_code == 200, detail.text
            before[rid] = detail.json()
    finish_tasks(client, handler, rid)
    assert act(client, handler, rid, "complete", {})["status"] == "completed"
    return rid


@pytest.fixture
def purged(client, outbox_dir, staff, clock) -> dict:
    """A deletion and a correction with stibee tasks, both closed, then purged."""
    creds = make_client(client, staff["cpo"]["headers"], ["tasks:read"], ["stibee"], name="Stibee")
    bearer = client_token(client, creds)
    before = {}
    rids = {
        "deletion": _closed(
            client,
            outbox_dir,
            staff,
            bearer,
            before,
            type="deletion",
            scope={"categories": ["newsletter"]},
        ),
        "correction": _closed(
            client,
            outbox_dir,
            staff,
            bearer,
            before,
            type="correction",
            subject={
                "name": "홍길동",
                "email": "hong.gildong@example.com",
                "birth_date": "1980-03-01",
            },
            scope={"categories": ["newsletter"], "corrections": [CORRECTION]},
        ),
    }
    assert set(before) == set(rids.values()), "the plans hand the newsletter to stibee"
    clock.advance(days=RETENTION + 1)
    ctx = client.app.state.ctx
    assert service.purge(ctx.db, ctx).requests == 2
    relogin(client, staff)
    return {"rids": rids, "before": before, "headers": client_token(client, creds)}


def test_before_the_purge_the_detail_names_the_subject(purged):
    before = purged["before"]
    deletion = before[purged["rids"]["deletion"]]
    correction = before[purged["rids"]["correction"]]
    assert deletion["subject"]["name"] == "홍길동" and deletion["corrections"] is None
    assert correction["subject"]["birth_date"] == "1980-03-01"
    assert correction["corrections"] == [CORRECTION]


def test_the_integration_task_detail_is_null_after_the_purge(client, purged):
    bearer = purged["headers"]
    listed = client.get(URL, headers=bearer, params={"status": "all"})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert {t["request_id"] for t in items} == set(purged["rids"].values())
    assert "홍길" not in listed.text and "example.com" not in listed.text
    for task in items:
        r = client.get(f"{URL}/{task['id']}", headers=bearer)
        assert r.status_code == 200, r.text
        detail = r.json()
        assert detail["subject"] == {"name": None, "email": None, "phone": None, "birth_date": None}
        # A correction's requested values went with the rest: null, not an empty list.
        assert detail["corrections"] is None
        # The task's shape is kept.
        kept = purged["before"][task["request_id"]]
        for field in ("id", "request_id", "reference", "kind", "action", "system"):
            assert detail[field] == kept[field]
        assert "홍길" not in r.text and "example.com" not in r.text


def test_the_schema_declares_the_purged_fields_nullable(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    subject = schemas["SubjectIdentifiers"]["properties"]
    for field in ("name", "email", "phone", "birth_date"):
        assert {"type": "null"} in subject[field]["anyOf"], field
    corrections = schemas["IntegrationTaskDetail"]["properties"]["corrections"]
    assert {"type": "null"} in corrections["anyOf"]


def test_staff_task_views_have_no_empty_string_artefacts(client, staff, purged):
    cpo = staff["cpo"]["headers"]
    listed = client.get("/v1/staff/tasks", headers=cpo, params={"status": "all", "limit": 200})
    assert listed.status_code == 200, listed.text
    rids = set(purged["rids"].values())
    mine = [t for t in listed.json()["items"] if t["request_id"] in rids]
    assert mine
    for rid in rids:
        view = staff_read(client, cpo, rid)
        assert view["subject"] == {"name": None, "email": None, "phone": None, "birth_date": None}
        assert view["corrections"] is None
        assert all(n["text"] is None for n in view["notes"])
        assert {t["id"] for t in view["tasks"]} == {t["id"] for t in mine if t["request_id"] == rid}
        for task in view["tasks"]:
            assert "" not in task.values(), task
    for task in mine:
        assert "" not in task.values(), task
