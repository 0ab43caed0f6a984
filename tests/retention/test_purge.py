"""The purge (issue 11.3): RIGHTSDESK_REQUEST_RETENTION_DAYS after closing, a request's personal
data is destroyed (PIPA Art. 21); the statistics, the reference, the timeline's shape and the
access record stay. Requests are filed and worked through HTTP; the rows are then read straight
from the database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from app.audit.service import verify
from app.main import create_app
from app.retention import purge as service
from tests.support import (
    act,
    client_token,
    file_request,
    finish_tasks,
    integration_file,
    latest_code,
    make_client,
    read_outbox,
    relogin,
    sql_rows,
    staff_read,
    verified,
)

PDF = b"%PDF-1.7\n" + b"MARKER-PDF-CONTENT " * 20 + b"\n%%EOF\n"
PARTIAL = {
    "outcome": "partially_granted",
    "grounds": ["PIPA-35-4-1"],
    "explanation": "결제 정보는 법령에 따라 제한합니다 — 홍길동 님",
    "items": [
        {"category": "account", "result": "granted"},
        {"category": "newsletter", "result": "granted"},
        {"category": "payment", "result": "refused", "grounds": ["PIPA-35-4-1"]},
    ],
}
REFUSE = {"outcome": "refused", "grounds": ["PIPA-35-4-1"], "explanation": "재검토 결과 거부"}
EXTEND = {"reason": "결제대행사 확인 필요 (홍길동)", "due_at": "2026-12-24T12:00:00+09:00"}
POA = {
    "grantor": {
        "name": "홍길동",
        "birth_date": "1980-03-01",
        "contact": "010-1234-5678",
        "address": "서울특별시 중구 세종대로 110",
    },
    "grantee": {
        "name": "이대리",
        "birth_date": "1985-07-15",
        "contact": "proxy@example.com",
        "address": "서울특별시 종로구 종로 1",
        "relationship": "법무대리인",
    },
    "rights": ["correction"],
    "signed_on": "2026-11-28",
}
DELEGATE = {
    "kind": "delegate",
    "name": "이대리",
    "email": "proxy@example.com",
    "phone": "010-5555-6666",
    "relationship": "대리인",
}
RETENTION = 1095

# Tables whose rows belong to one request (a `request_id` column): every `_enc` column there
# is personal data and must be NULL for a purged request.
PER_REQUEST = {
    t.name: [c.name for c in t.columns if c.name.endswith(("_enc", "_bidx"))]
    for t in SQLModel.metadata.sorted_tables
    if "request_id" in t.columns and t.name not in ("audit_entry", "webhook_delivery")
}


def _engine(database_url):
    return create_engine(database_url)


def _upload(client, rid, token):
    response = client.post(
        f"/v1/requests/{rid}/documents",
        headers=token,
        data={"kind": "identity_proof"},
        files={"file": ("홍길동_신분증.pdf", PDF, "application/pdf")},
    )
    assert response.status_code == 201, response.text


def _scenario(client, outbox_dir, staff, clock) -> dict:
    """Four requests worked through the API and closed at T0, each in another way."""
    cpo, h = staff["cpo"]["headers"], staff["handler"]["headers"]
    out = {}

    # 1. Access: a document, an extension, a partial grant with its explanation, collect
    # tasks with notes and data, a completion note, the result, then an objection and a
    # refusal (closed: refused).
    created, subject = verified(
        client, outbox_dir, scope={"categories": ["account", "newsletter", "payment"]}
    )
    rid = created["id"]
    _upload(client, rid, subject)
    act(client, cpo, rid, "assign", {"assignee": "handler@example.com"})
    act(client, h, rid, "extend", EXTEND)
    act(client, h, rid, "decision", PARTIAL)
    # The newsletter's collect task fails with a note, and the CPO waives it with a reason;
    # the account's returns data.
    listed = client.get("/v1/staff/tasks", headers=cpo, params={"request_id": rid})
    [first] = [t for t in listed.json()["items"] if t["category"] == "newsletter"]
    failed = client.post(
        f"/v1/staff/tasks/{first['id']}/complete",
        headers=h,
        json={"outcome": "failed", "note": "홍길동 님 계정 조회 실패"},
    )
    assert failed.status_code == 200, failed.text
    waived = client.post(
        f"/v1/staff/tasks/{first['id']}/waive",
        headers=cpo,
        json={"reason": "홍길동 님 계정은 이미 해지됨"},
    )
    assert waived.status_code == 200, waived.text
    finish_tasks(client, h, rid, data={"name": "홍길동", "email": "hong.gildong@example.com"})
    act(client, h, rid, "complete", {"note": "홍길동 님께 전화로 안내"})
    objected = client.post(
        f"/v1/requests/{rid}/objections",
        headers=subject,
        json={"reason": "결제 정보도 보여 주세요"},
    )
    assert objected.status_code == 201, objected.text
    act(client, h, rid, "decision", REFUSE)
    out["access"] = {"id": rid, "reference": created["reference"], "token": subject}

    # 2. Correction by a delegate with a power of attorney and details; staff reject it with a
    # note (closed: rejected).
    created, token = verified(
        client,
        outbox_dir,
        type="correction",
        requester=DELEGATE,
        power_of_attorney=POA,
        details="전화번호가 바뀌었습니다",
        scope={
            "corrections": [
                {"item": "phone", "current": "010-1234-5678", "requested": "010-9999-0000"}
            ]
        },
    )
    rid = created["id"]
    act(
        client,
        cpo,
        rid,
        "verify",
        {
            "outcome": "rejected",
            "method": "power_of_attorney",
            "note": "위임장 서명이 홍길동 님 것과 다름",
        },
    )
    out["correction"] = {"id": rid, "reference": created["reference"], "token": token}

    # 3. Deletion with a hold and its note; the subject withdraws (closed: withdrawn).
    created, token = verified(
        client,
        outbox_dir,
        type="deletion",
        subject={
            "name": "김철수",
            "email": "kim@example.com",
            "phone": "010-2222-3333",
            "birth_date": "1990-05-05",
        },
        scope={"categories": ["newsletter", "payment"]},
    )
    rid = created["id"]
    act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    version = staff_read(client, cpo, rid)["version"]
    held = client.post(
        f"/v1/staff/requests/{rid}/holds",
        headers={**cpo, "If-Match": str(version)},
        json={"category": "newsletter", "kind": "investigation", "note": "경찰 수사 (김철수)"},
    )
    assert held.status_code == 201, held.text
    out["deletion"] = {"id": rid, "hold": held.json()["id"], "token": token}
    # Released (the investigation ended): an open hold would keep the data past retention.
    version = staff_read(client, cpo, rid)["version"]
    released = client.delete(
        f"/v1/staff/requests/{rid}/holds/{held.json()['id']}",
        headers={**cpo, "If-Match": str(version)},
    )
    assert released.status_code == 200, released.text
    assert (
        client.post(
            f"/v1/requests/{rid}/withdraw", headers=token, json={"reason": "마음이 바뀜"}
        ).status_code
        == 200
    )

    # 4. Filed by an integration with its own reference and an Idempotency-Key; rejected.
    creds = make_client(client, cpo, ["requests:write", "requests:read"])
    bearer = client_token(client, creds)
    created = integration_file(
        client,
        bearer,
        "key-1",
        subject={"name": "박영희", "email": "park@example.com"},
        external_ref="CRM-4242 박영희",
    )
    rid = created["id"]
    act(client, cpo, rid, "verify", {"outcome": "rejected", "method": "email_code"})
    out["integration"] = {"id": rid, "creds": creds}

    return out


def _recent(client, staff) -> str:
    """A request closed now: far inside its retention period."""
    relogin(client, staff)
    rid = file_request(client, subject={"name": "최근", "email": "recent@example.com"})["id"]
    act(
        client,
        staff["cpo"]["headers"],
        rid,
        "verify",
        {"outcome": "rejected", "method": "email_code"},
    )
    return rid


def _personal(database_url: str, rid: str) -> dict[str, list]:
    """Every non-null personal column left for the request, by table."""
    left = {}
    for table, columns in PER_REQUEST.items():
        if not columns:
            continue
        sql = f"SELECT {', '.join(columns)} FROM {table} WHERE request_id = :rid"
        values = [v for row in sql_rows(database_url, sql, rid=rid) for v in row if v is not None]
        if values:
            left[table] = values
    columns = [
        c
        for c in inspect(_engine(database_url)).get_columns("request")
        if c["name"].endswith(("_enc", "_bidx"))
    ]
    row = sql_rows(
        database_url,
        f"SELECT {', '.join(c['name'] for c in columns)} FROM request WHERE id = :rid",
        rid=rid,
    )[0]
    if any(v is not None for v in row):
        left["request"] = [c["name"] for c, v in zip(columns, row, strict=True) if v is not None]
    notes = sql_rows(
        database_url,
        "SELECT note FROM timeline_event WHERE request_id = :rid AND note IS NOT NULL",
        rid=rid,
    )
    if notes:
        left["timeline_event"] = notes
    return left


def _shape(database_url: str, rid: str) -> dict:
    """What the purge keeps: the statistics' columns and the timeline's shape."""
    [row] = sql_rows(
        database_url,
        "SELECT reference, type, status, channel, categories, received_at, due_at, "
        "statutory_due_at, verified_at, closed_at, assignee_id FROM request WHERE id = :rid",
        rid=rid,
    )
    timeline = sql_rows(
        database_url,
        "SELECT id, kind, from_status, to_status, actor, at FROM timeline_event "
        "WHERE request_id = :rid ORDER BY at, id",
        rid=rid,
    )
    decisions = sql_rows(
        database_url,
        "SELECT id, outcome, grounds, items FROM decision WHERE request_id = :rid ORDER BY id",
        rid=rid,
    )
    tasks = sql_rows(
        database_url,
        "SELECT id, kind, category, system, status, outcome FROM task WHERE request_id = :rid "
        "ORDER BY id",
        rid=rid,
    )
    return {"row": tuple(row), "timeline": timeline, "decisions": decisions, "tasks": tasks}


def _metrics(client, staff) -> dict:
    response = client.get(
        "/v1/staff/metrics",
        headers=staff["cpo"]["headers"],
        params={"since": "2026-01-01", "until": "2030-12-31"},
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def worked(client, outbox_dir, staff, clock):
    scenario = _scenario(client, outbox_dir, staff, clock)
    clock.advance(days=700)
    recent = _recent(client, staff)
    clock.advance(days=RETENTION - 700 + 1)  # the four closed 1096 days ago, `recent` 396
    relogin(client, staff)
    return scenario, recent


def _purge(client_or_ctx):
    ctx = getattr(getattr(client_or_ctx, "app", None), "state", None)
    ctx = ctx.ctx if ctx is not None else client_or_ctx
    return service.purge(ctx.db, ctx, batch_size=2)


def _filled(database_url: str, ids: list[str]) -> dict[str, set[str]]:
    """For each table holding a request's rows: the sealed columns that hold a value on at
    least one row of these requests."""
    out: dict[str, set[str]] = {}
    marks = ", ".join(f":r{i}" for i in range(len(ids)))
    params = {f"r{i}": rid for i, rid in enumerate(ids)}
    for table, columns in {**PER_REQUEST, "request": REQUEST_SEALED}.items():
        key = "id" if table == "request" else "request_id"
        out[table] = {
            column
            for column in columns
            if sql_rows(
                database_url,
                f"SELECT count(*) FROM {table} WHERE {key} IN ({marks}) AND {column} IS NOT NULL",
                **params,
            )[0][0]
        }
    return out


# The request's own sealed columns, and those of the rows hanging off it, from the models: a
# column added to a model is in these the day it is added.
REQUEST_SEALED = [
    c.name
    for c in SQLModel.metadata.tables["request"].columns
    if c.name.endswith(("_enc", "_bidx"))
]


def test_the_scenario_fills_every_sealed_column(client, staff, worked, database_url):
    """A purge test proves nothing about a column it never filled (task.waived_reason_enc went
    unpurged and unnoticed): the scenario below the purge tests fills every one."""
    scenario, _ = worked
    filled = _filled(database_url, [s["id"] for s in scenario.values()])
    sealed = {table: set(columns) for table, columns in PER_REQUEST.items()}
    sealed["request"] = set(REQUEST_SEALED)
    # Delivered notices lose their text at delivery (the scenario delivers at once): the text
    # of notices still waiting is filled, and purged, by test_notices_still_waiting_lose_their_text.
    filled["outbox_message"].add("payload_enc")
    missing = {t: sorted(sealed[t] - filled[t]) for t in sealed if sealed[t] - filled[t]}
    assert missing == {}, f"sealed columns no purge test fills: {missing}"


class TestPurge:
    def test_destroys_personal_data_and_keeps_the_record(self, client, staff, worked, database_url):
        scenario, recent = worked
        ids = [s["id"] for s in scenario.values()]
        for rid in [*ids, recent]:
            assert _personal(database_url, rid), "the scenario must have personal data to purge"
        before = {rid: _shape(database_url, rid) for rid in ids}
        recent_before = _personal(database_url, recent)
        metrics = _metrics(client, staff)
        entries_before = sql_rows(database_url, "SELECT count(*) FROM audit_entry")[0][0]

        report = _purge(client)

        assert report.requests == 4 and report.batches == 2
        assert report.totals.documents == 1 and report.totals.results == 1
        assert report.totals.idempotency_keys == 1  # notices went out at once (sync delivery)
        assert report.totals.holds == 1 and report.totals.extensions == 1
        for rid in ids:
            assert _personal(database_url, rid) == {}, rid
            after = _shape(database_url, rid)
            assert after["row"] == before[rid]["row"]
            assert after["decisions"] == before[rid]["decisions"]
            assert after["tasks"] == before[rid]["tasks"]
            # The timeline keeps every row and gains one: `purged`, with the status unchanged.
            assert after["timeline"][:-1] == before[rid]["timeline"]
            assert after["timeline"][-1][1:4] == ("purged", None, before[rid]["row"][2])
        # Documents: bytes, key and name gone; the row says it was destroyed.
        [doc] = sql_rows(
            database_url,
            "SELECT content_enc, key_enc, filename_enc, destroyed_at FROM document "
            "WHERE request_id = :rid",
            rid=scenario["access"]["id"],
        )
        assert doc[:3] == (None, None, None) and doc[3] is not None
        assert sql_rows(database_url, "SELECT count(*) FROM idempotency_key")[0][0] == 0
        # The recent request is untouched.
        assert _personal(database_url, recent) == recent_before
        assert (
            sql_rows(database_url, "SELECT purged_at FROM request WHERE id = :r", r=recent)[0][0]
            is None
        )
        # Statistics unchanged; one access-record entry per purge, and the chain verifies.
        assert _metrics(client, staff) == metrics
        purges = sql_rows(
            database_url,
            "SELECT request_id, actor, detail FROM audit_entry WHERE action = 'purge'",
        )
        assert sorted(p[0] for p in purges) == sorted(ids)
        assert {p[1] for p in purges} == {"system"}
        assert (
            sql_rows(database_url, "SELECT count(*) FROM audit_entry")[0][0] == entries_before + 4
        )
        for _, _, detail in purges:
            text_ = str(detail)
            for word in ("홍길동", "김철수", "박영희", "example.com", "CRM-4242"):
                assert word not in text_
        ctx = client.app.state.ctx
        with ctx.db.transaction(write=False) as session:
            assert verify(session).ok
        # A second run finds nothing.
        assert _purge(client).requests == 0

    def test_views_answer_after_the_purge(self, client, staff, worked, outbox_dir):
        scenario, _ = worked
        cpo = staff["cpo"]["headers"]
        _purge(client)
        for name, s in scenario.items():
            view = staff_read(client, cpo, s["id"])
            assert view["purged_at"] is not None and view["actions"] == []
            assert view["subject"] == {
                "name": None,
                "email": None,
                "phone": None,
                "birth_date": None,
            }
            assert view["requester"]["name"] is None and view["requester"]["email"] is None
            assert view["power_of_attorney"] is None and view["corrections"] is None
            assert view["details"] is None
            assert all(d["explanation"] is None for d in view["decisions"])
            assert all(x["reason"] is None for x in view["extensions"])
            assert all(o["reason"] is None for o in view["objections"])
            assert all(n["text"] is None for n in view["notes"])
            assert all(d["destroyed_at"] for d in view["documents"])
            assert view["timeline"][-1]["kind"] == "purged", name
            plan = client.get(f"/v1/staff/requests/{s['id']}/plan", headers=cpo)
            assert plan.status_code == 200, plan.text
            audit = client.get(
                "/v1/staff/audit",
                headers=staff["auditor"]["headers"],
                params={"request_id": s["id"]},
            )
            assert audit.status_code == 200, audit.text
        access = staff_read(client, cpo, scenario["access"]["id"])
        assert [d["outcome"] for d in access["decisions"]] == ["partially_granted", "refused"]
        assert access["decisions"][0]["grounds"] == ["PIPA-35-4-1"]
        assert len(access["notes"]) == 1  # the completion note's row; the tasks' notes are gone
        queue = client.get("/v1/staff/requests", headers=cpo, params={"limit": 50})
        assert queue.status_code == 200
        tasks = client.get("/v1/staff/tasks", headers=cpo, params={"status": "all"})
        assert tasks.status_code == 200
        # Searching by the e-mail finds nothing: the blind index is gone.
        found = client.get(
            "/v1/staff/requests", headers=cpo, params={"email": "hong.gildong@example.com"}
        )
        assert found.status_code == 200 and found.json()["items"] == []
        # The integration still reads its request, without its reference.
        creds = scenario["integration"]["creds"]
        bearer = client_token(client, creds)
        got = client.get(
            f"/v1/integrations/requests/{scenario['integration']['id']}", headers=bearer
        )
        assert got.status_code == 200, got.text
        assert got.json()["external_ref"] is None and got.json()["status"] == "rejected"

    def test_subject_routes_answer_410(self, client, staff, worked, outbox_dir, clock):
        scenario, _ = worked
        access = scenario["access"]
        # A token from before the purge (the subject came back just in time).
        sign_in = client.post(
            "/v1/requests/sign-in",
            json={"reference": access["reference"], "email": "hong.gildong@example.com"},
        )
        assert sign_in.status_code == 202
        code = latest_code(outbox_dir, access["id"])
        got = client.post(f"/v1/requests/{access['id']}/verification", json={"code": code})
        assert got.status_code == 200, got.text
        token = {"Authorization": f"Bearer {got.json()['access_token']}"}
        _purge(client)
        rid = access["id"]
        for method, path, kwargs in (
            ("get", f"/v1/requests/{rid}", {}),
            ("get", f"/v1/requests/{access['reference']}", {}),
            ("get", f"/v1/requests/{rid}/result", {}),
            ("post", f"/v1/requests/{rid}/withdraw", {"json": {}}),
            ("post", f"/v1/requests/{rid}/objections", {"json": {"reason": "다시"}}),
            (
                "post",
                f"/v1/requests/{rid}/documents",
                {
                    "data": {"kind": "identity_proof"},
                    "files": {"file": ("a.pdf", PDF, "application/pdf")},
                },
            ),
        ):
            response = getattr(client, method)(path, headers=token, **kwargs)
            assert response.status_code == 410, (path, response.text)
            assert response.json()["type"] == "/problems/request-purged"
            assert "홍길동" not in response.text
        # Signing in again finds no address to match: the same answer, and no code goes out.
        sent = len(read_outbox(outbox_dir))
        again = client.post(
            "/v1/requests/sign-in",
            json={"reference": access["reference"], "email": "hong.gildong@example.com"},
        )
        assert again.status_code == 202 and len(read_outbox(outbox_dir)) == sent
        clock.advance(minutes=2)  # past the resend cooldown: no address to send a code to
        assert client.post(f"/v1/requests/{rid}/verification/resend").status_code == 409

    def test_writes_to_a_purged_request_are_409(self, client, staff, worked):
        scenario, _ = worked
        cpo = staff["cpo"]["headers"]
        _purge(client)
        # A refused request may be reassigned (for an objection's review), but not once purged.
        response = client.post(
            f"/v1/staff/requests/{scenario['access']['id']}/assign",
            headers={
                **cpo,
                "If-Match": str(staff_read(client, cpo, scenario["access"]["id"])["version"]),
            },
            json={"assignee": "me"},
        )
        assert response.status_code == 409 and response.json()["type"] == "/problems/request-purged"
        # A hold may be released in any status, but not once purged.
        rid = scenario["deletion"]["id"]
        response = client.delete(
            f"/v1/staff/requests/{rid}/holds/{scenario['deletion']['hold']}",
            headers={**cpo, "If-Match": str(staff_read(client, cpo, rid)["version"])},
        )
        assert response.status_code == 409 and response.json()["type"] == "/problems/request-purged"
        for action, body in (
            ("decision", REFUSE),
            ("extend", EXTEND),
            ("complete", None),
            ("verify", {"outcome": "verified", "method": "id_card_in_person"}),
        ):
            act(client, cpo, scenario["correction"]["id"], action, body, expect=409)

    def test_a_stale_copy_is_412_after_the_purge(self, client, staff, worked):
        scenario, _ = worked
        cpo = staff["cpo"]["headers"]
        rid = scenario["access"]["id"]
        version = staff_read(client, cpo, rid)["version"]
        _purge(client)
        response = client.post(
            f"/v1/staff/requests/{rid}/assign",
            headers={**cpo, "If-Match": str(version)},
            json={"assignee": "me"},
        )
        assert response.status_code == 412

    def test_dry_run_counts_and_changes_nothing(self, client, worked, database_url):
        snapshot = sql_rows(database_url, "SELECT * FROM request ORDER BY id")
        entries = sql_rows(database_url, "SELECT count(*) FROM audit_entry")[0][0]
        ctx = client.app.state.ctx
        with ctx.db.transaction(write=False) as session:
            found = service.preview(session, ctx)
        # Notices went out at once (sync delivery): none holds its text any more.
        assert (found.requests, found.documents, found.results, found.notices) == (4, 1, 1, 0)
        assert found.oldest_closed_at is not None
        assert found.oldest_closed_at.date().isoformat() == "2026-12-01"
        assert sql_rows(database_url, "SELECT * FROM request ORDER BY id") == snapshot
        assert sql_rows(database_url, "SELECT count(*) FROM audit_entry")[0][0] == entries

    def test_notices_still_waiting_lose_their_text(
        self, app, settings, clock, staff, tmp_path, database_url
    ):
        """Delivery off: the receipt and the code wait in the outbox with their text (the
        address, the name) until the purge erases it; they will never be sent."""

        from tests.support import login, make_settings

        quiet = make_settings(settings.database_url, tmp_path, delivery="off")
        with TestClient(create_app(quiet, clock)) as c:
            rid = file_request(c)["id"]
            cpo = login(c, "cpo@example.com")
            act(c, cpo, rid, "verify", {"outcome": "rejected", "method": "email_code"})
        waiting = "SELECT state, payload_enc, last_error FROM outbox_message WHERE request_id = :r"
        assert all(row[1] is not None for row in sql_rows(database_url, waiting, r=rid))
        clock.advance(days=RETENTION + 1)
        ctx = app.state.ctx
        with ctx.db.transaction(write=False) as session:
            assert service.preview(session, ctx).notices == len(
                sql_rows(database_url, waiting, r=rid)
            )
        report = _purge(ctx)
        assert report.requests == 1 and report.totals.notices >= 2
        rows = sql_rows(database_url, waiting, r=rid)
        assert rows and all(row == ("failed", None, "purged") for row in rows), rows

    def test_nothing_is_due_a_day_early(self, client, clock, staff, outbox_dir, database_url):
        created = file_request(client)
        act(
            client,
            staff["cpo"]["headers"],
            created["id"],
            "verify",
            {"outcome": "rejected", "method": "email_code"},
        )
        clock.advance(days=RETENTION)  # exactly the retention period: not yet *more* than it
        assert _purge(client).requests == 0
        clock.advance(seconds=1)
        assert _purge(client).requests == 1

    def test_the_due_query_walks_the_partial_index(self, client, database_url):
        ctx = client.app.state.ctx
        query = (
            service.select(service.Request.id)
            .where(*service._due(ctx.clock.now()))
            .order_by(service.Request.closed_at)
            .limit(100)
        )
        engine = _engine(database_url)
        try:
            with engine.begin() as conn:
                compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
                if conn.dialect.name == "sqlite":
                    plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
                else:
                    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                    plan = conn.exec_driver_sql(f"EXPLAIN {compiled}").all()
        finally:
            engine.dispose()
        assert "ix_request_unpurged_closed_at" in str(plan), plan


def test_an_open_hold_keeps_the_data_until_it_is_released(
    client, clock, staff, outbox_dir, database_url
):
    """An investigation or a debt (policy Art. 3) is a reason the law lets data be kept: past
    the retention period the purge leaves a held request alone, counts it as held in the dry
    run, and purges it once the hold is released."""
    cpo = staff["cpo"]["headers"]
    created, token = verified(
        client, outbox_dir, type="deletion", scope={"categories": ["newsletter", "payment"]}
    )
    rid = created["id"]
    act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    held = client.post(
        f"/v1/staff/requests/{rid}/holds",
        headers={**cpo, "If-Match": str(staff_read(client, cpo, rid)["version"])},
        json={"category": "payment", "kind": "debt", "note": "미수금 12,000원"},
    )
    assert held.status_code == 201, held.text
    withdrawn = client.post(f"/v1/requests/{rid}/withdraw", headers=token, json={"reason": "-"})
    assert withdrawn.status_code == 200, withdrawn.text
    clock.advance(days=RETENTION + 1)
    relogin(client, staff)
    cpo = staff["cpo"]["headers"]

    ctx = client.app.state.ctx
    with ctx.db.transaction(write=False) as session:
        found = service.preview(session, ctx)
    assert (found.requests, found.held) == (0, 1)
    assert _purge(client).requests == 0
    assert _personal(database_url, rid), "held: nothing may be destroyed"

    released = client.delete(
        f"/v1/staff/requests/{rid}/holds/{held.json()['id']}",
        headers={**cpo, "If-Match": str(staff_read(client, cpo, rid)["version"])},
    )
    assert released.status_code == 200, released.text
    report = _purge(client)
    assert report.requests == 1 and report.totals.holds == 1
    assert _personal(database_url, rid) == {}


def test_the_409_names_the_seoul_day_of_the_purge(client, staff, clock):
    """Purged at 00:30 on 2 December 2029 in Seoul (1 December in UTC): a write's 409 says the
    Seoul day, as every date the service shows (issue 23.2)."""
    rid = file_request(client)["id"]
    act(
        client,
        staff["cpo"]["headers"],
        rid,
        "verify",
        {"outcome": "rejected", "method": "email_code"},
    )
    # From 1 December 2026, 10:00 in Seoul: past the three years, to 00:30 the next day.
    clock.advance(days=1095 + 1, hours=14, minutes=30)
    assert clock.now().date().isoformat() == "2029-12-01"  # UTC's date
    ctx = client.app.state.ctx
    assert service.purge(ctx.db, ctx).requests == 1
    relogin(client, staff)
    verify = {"outcome": "verified", "method": "id_card_in_person"}
    refused = act(client, staff["cpo"]["headers"], rid, "verify", verify, expect=409)
    assert refused["type"] == "/problems/request-purged"
    assert "destroyed on 2029-12-02," in refused["detail"], refused["detail"]
