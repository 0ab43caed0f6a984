"""Webhook delivery to a real receiver on 127.0.0.1 that verifies every signature with the
`standardwebhooks` library: thin bodies, the same webhook-id on every attempt, 503 then 2xx,
a timeout, 410 (endpoint disabled), redirects not followed, backoff for about a day then
failed, a retry by the CPO, and a rotated secret signing beside the new one for 24 h."""

from __future__ import annotations

import itertools
import json
import logging
import time
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.integrations import delivery
from app.integrations.delivery import MAX_ATTEMPTS
from app.main import create_app
from app.models.base import UTCDateTime
from tests.integrations.receiver import ALL_EVENTS, Receiver, deliveries, register
from tests.support import file_request, login, make_settings, make_staff, relogin, verified


def _drain(client):
    ctx = client.app.state.ctx
    return delivery.drain(ctx.db, ctx)


def _rows(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT id, status, attempts, next_attempt_at, last_status_code, last_error, "
                    "claim_token FROM webhook_delivery ORDER BY created_at, id"
                ).columns(next_attempt_at=UTCDateTime())
            ).all()
    finally:
        engine.dispose()


def test_events_arrive_signed_thin_and_once(client, staff, receiver, outbox_dir, caplog):
    caplog.set_level(logging.INFO)
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, receiver)
    before = time.time()
    created, subject = verified(client, outbox_dir)
    response = client.post(f"/v1/requests/{created['id']}/withdraw", headers=subject)
    assert response.status_code == 200, response.text

    got = receiver.received
    types = [r.event["type"] for r in got]
    assert types[:2] == ["request.created", "request.verified"]
    assert types[-1] == "request.withdrawn"
    assert set(types) <= set(ALL_EVENTS)
    assert receiver.all_verified() and all(r.verified_by == [0] for r in got)
    assert len(set(receiver.ids())) == len(got)  # each once
    listed = {d["id"]: d for d in deliveries(client, cpo, hook["id"])}
    assert set(listed) == set(receiver.ids())
    for r in got:
        # The signed time is the real clock at sending, not the service's (frozen) clock.
        assert before - 1 <= int(r.headers["webhook-timestamp"]) <= time.time() + 1
        assert r.headers["content-type"] == "application/json"
        event = r.event
        assert set(event) == {"type", "timestamp", "data"}
        assert event["timestamp"].startswith("2026-12-01T01:00:00")  # the event's own time
        assert event["data"]["request_id"] == created["id"]
        assert event["data"]["reference"] == created["reference"]
        assert event["data"]["request_type"] == "access"
        d = listed[r.webhook_id]
        assert (d["status"], d["attempts"], d["last_status_code"]) == ("delivered", 1, 200 + 4)
        assert d["delivered_at"] and d["next_attempt_at"] is None and d["last_error"] is None
        body = r.body.decode()
        for personal in ("홍길동", "hong.gildong", "010-1234-5678", "example.com"):
            assert personal not in body
    assert [r.event["data"]["status"] for r in got][-1] == "withdrawn"
    assert "hong.gildong" not in caplog.text


def test_a_503_is_retried_after_about_5_seconds_with_the_same_webhook_id(
    client, staff, receiver, clock, database_url
):
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, receiver, events=["request.created"])
    receiver.script = [503]
    file_request(client)
    (first,) = deliveries(client, cpo, hook["id"])
    assert (first["status"], first["attempts"], first["last_status_code"]) == ("pending", 1, 503)
    assert first["last_error"] == "HTTP 503"
    due = datetime.fromisoformat(first["next_attempt_at"])
    assert timedelta(seconds=4) <= due - clock.now() <= timedelta(seconds=6)

    assert _drain(client).claimed == 0  # not due yet
    clock.advance(seconds=6)
    report = _drain(client)
    assert (report.claimed, report.delivered, report.retried) == (1, 1, 0)
    (second,) = deliveries(client, cpo, hook["id"])
    assert (second["status"], second["attempts"], second["last_status_code"]) == (
        "delivered",
        2,
        204,
    )
    assert receiver.ids() == [first["id"], first["id"]]
    assert receiver.all_verified()
    assert [code for _, code in receiver.answered] == [503, 204]
    assert {(r.status, r.claim_token) for r in _rows(database_url)} == {("delivered", None)}


def test_a_timeout_is_retried(database_url, tmp_path, clock, app, receiver):
    settings = make_settings(
        database_url, tmp_path, webhook_allow_private=True, webhook_timeout_seconds=0.3
    )
    with TestClient(create_app(settings, clock)) as c:
        make_staff(c.app, "cpo@example.com", "cpo")
        cpo = login(c, "cpo@example.com")
        hook = register(c, cpo, receiver, events=["request.created"])
        receiver.script = [("sleep", 1.0, 200)]
        started = time.monotonic()
        file_request(c)
        assert time.monotonic() - started < 1.0  # the answer was not waited for
        (first,) = deliveries(c, cpo, hook["id"])
        assert (first["status"], first["attempts"]) == ("pending", 1)
        assert first["last_error"] == "timeout (ReadTimeout)"
        assert first["last_status_code"] is None
        clock.advance(seconds=6)
        assert _drain(c).delivered == 1
        (second,) = deliveries(c, cpo, hook["id"])
        assert (second["status"], second["attempts"]) == ("delivered", 2)
    assert receiver.ids() == [first["id"]] * 2 and receiver.all_verified()


def test_410_disables_the_endpoint_and_fails_its_pending_deliveries(
    client, staff, receiver, clock, database_url
):
    cpo = staff["cpo"]["headers"]
    gone = register(client, cpo, receiver, events=["request.created"])
    with Receiver() as other:
        kept = register(client, cpo, other, events=["request.created"])
        receiver.script = [503, 410]
        file_request(client, subject={"name": "가", "email": "ga@example.com"})  # 503: pending
        file_request(client, subject={"name": "나", "email": "na@example.com"})  # 410
        listed = client.get("/v1/staff/webhooks", headers=cpo).json()["items"]
        state = {w["id"]: (w["active"], w["disabled_reason"]) for w in listed}
        assert state == {gone["id"]: (False, "410 Gone"), kept["id"]: (True, None)}
        mine = deliveries(client, cpo, gone["id"])
        assert {d["status"] for d in mine} == {"failed"}
        by_code = {d["last_status_code"]: d for d in mine}
        assert by_code[410]["last_error"] == "410 Gone: endpoint disabled"
        assert by_code[503]["last_error"] == "endpoint disabled (410 Gone)"  # never sent again
        clock.advance(minutes=5)
        file_request(client, subject={"name": "다", "email": "da@example.com"})
        assert len(deliveries(client, cpo, gone["id"])) == 2  # nothing new for it
        assert len(receiver.received) == 2
        assert len(other.received) == 3 and other.all_verified()
        retry = client.post(
            f"/v1/staff/webhooks/deliveries/{by_code[410]['id']}/retry", headers=cpo
        )
        assert retry.status_code == 409
        assert "disabled" in retry.json()["detail"]
    audit = client.get(
        "/v1/staff/audit",
        headers=staff["auditor"]["headers"],
        params={"action": "webhook_disabled"},
    ).json()["items"]
    assert [(e["actor"], e["detail"]["webhook"]) for e in audit] == [("system", gone["id"])]


def test_redirects_are_not_followed(client, staff, receiver, clock):
    cpo = staff["cpo"]["headers"]
    with Receiver() as elsewhere:
        hook = register(client, cpo, receiver, events=["request.created"])
        elsewhere.secrets = receiver.secrets
        receiver.script = [("redirect", 307, elsewhere.url)]
        file_request(client)
        (d,) = deliveries(client, cpo, hook["id"])
        assert (d["status"], d["last_status_code"]) == ("pending", 307)
        assert d["last_error"] == "HTTP 307: redirects are not followed"
        assert elsewhere.received == []


def test_a_failing_receiver_is_retried_for_about_a_day_then_failed_and_retried_by_hand(
    client, staff, receiver, clock, database_url
):
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, receiver, events=["request.created"])
    receiver.default = 500
    start = clock.now()
    file_request(client)
    attempts_at = [start]
    while True:
        (row,) = _rows(database_url)
        if row.status != "pending":
            break
        assert row.attempts == len(attempts_at)
        clock.at = row.next_attempt_at
        attempts_at.append(clock.now())
        report = _drain(client)
        assert report.claimed == 1
    (row,) = _rows(database_url)
    assert (row.status, row.attempts, row.last_status_code) == ("failed", MAX_ATTEMPTS, 500)
    assert len(attempts_at) == MAX_ATTEMPTS == len(receiver.received) == 10
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(attempts_at)]
    assert 4 <= gaps[0] <= 6  # the first retry after about 5 s
    assert all(b > a for a, b in itertools.pairwise(gaps[:7]))  # growing ×4, then 8 h apart
    last = (attempts_at[-1] - attempts_at[0]).total_seconds() / 3600
    assert 20 <= last <= 28, last  # the last about a day after the first
    assert len(set(receiver.ids())) == 1 and receiver.all_verified()

    # The CPO retries: due at once (the commit wakes the deliverer), one more attempt.
    relogin(client, staff)  # a day has passed
    cpo = staff["cpo"]["headers"]
    response = client.post(f"/v1/staff/webhooks/deliveries/{row.id}/retry", headers=cpo)
    assert response.status_code == 200, response.text
    (d,) = deliveries(client, cpo, hook["id"])
    assert (d["status"], d["attempts"]) == ("failed", MAX_ATTEMPTS + 1)  # failed once more
    receiver.default = 200
    response = client.post(f"/v1/staff/webhooks/deliveries/{row.id}/retry", headers=cpo)
    assert response.status_code == 200, response.text
    (d,) = deliveries(client, cpo, hook["id"])
    assert (d["status"], d["attempts"], d["last_status_code"]) == (
        "delivered",
        MAX_ATTEMPTS + 2,
        200,
    )
    assert receiver.ids() == [row.id] * (MAX_ATTEMPTS + 2)
    retried = client.post(f"/v1/staff/webhooks/deliveries/{row.id}/retry", headers=cpo)
    assert retried.status_code == 409
    audit = client.get(
        "/v1/staff/audit",
        headers=staff["auditor"]["headers"],
        params={"action": "webhook_delivery_retried"},
    ).json()["items"]
    assert len(audit) == 2


def test_a_rotated_secret_signs_beside_the_new_one_for_24_hours(client, staff, receiver, clock):
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, receiver, events=["request.created"])
    old = hook["secret"]
    rotated = client.post(f"/v1/staff/webhooks/{hook['id']}/rotate-secret", headers=cpo).json()
    receiver.secrets = [rotated["secret"], old]
    file_request(client, subject={"name": "가", "email": "ga@example.com"})
    clock.advance(hours=23)
    file_request(client, subject={"name": "나", "email": "na@example.com"})
    clock.advance(hours=1, seconds=1)
    file_request(client, subject={"name": "다", "email": "da@example.com"})
    got = receiver.received
    assert [r.verified_by for r in got] == [[0, 1], [0, 1], [0]]
    assert [len(r.headers["webhook-signature"].split(" ")) for r in got] == [2, 2, 1]
    assert all(r.headers["webhook-signature"].startswith("v1,") for r in got)


def test_a_deleted_endpoint_gets_nothing_more(client, staff, receiver, clock):
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, receiver, events=["request.created"])
    receiver.script = [503]
    file_request(client)
    assert client.delete(f"/v1/staff/webhooks/{hook['id']}", headers=cpo).status_code == 204
    clock.advance(minutes=1)
    assert _drain(client).claimed == 0
    assert len(receiver.received) == 1
    assert json.loads(receiver.received[0].body)["type"] == "request.created"
