"""Outbox delivery: retries with backoff, no double sends from parallel workers, SMTP, and a
worker that outlives database errors."""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from email import message_from_bytes

from fastapi.testclient import TestClient
from sqlalchemy import text

from app.core.context import AppContext
from app.main import create_app
from app.notifications import outbox
from app.notifications.outbox import backoff, deliver_due, drain
from app.notifications.senders import FileSender, SMTPSender
from tests.support import CODE_RE, file_many, file_request, free_port, make_settings, read_outbox


def _rows(ctx: AppContext):
    with ctx.db.transaction(write=False) as session:
        return (
            session.connection()
            .execute(
                text(
                    "SELECT template, state, attempts, last_error, payload_enc FROM outbox_message "
                    "ORDER BY created_at, id"
                )
            )
            .all()
        )


def test_failed_delivery_is_retried_with_backoff(database_url, tmp_path, clock, app, app_context):
    settings = make_settings(
        database_url,
        tmp_path,
        delivery="off",
        notify_backend="smtp",
        smtp_port=free_port(),
        smtp_timeout_seconds=2,
    )

    with TestClient(create_app(settings, clock)) as c:
        file_request(c)
    ctx = app_context(settings)
    report = deliver_due(ctx.db, ctx, SMTPSender(settings))
    assert (report.sent, report.retried) == (0, 2)
    rows = _rows(ctx)
    assert {r.state for r in rows} == {"pending"}
    assert {r.last_error for r in rows} == {"ConnectionRefusedError"}
    assert all(r.payload_enc for r in rows)  # kept (encrypted) until it is delivered
    # Not due again until the backoff has passed.
    assert deliver_due(ctx.db, ctx, SMTPSender(settings)).claimed == 0
    clock.advance(seconds=backoff(1).total_seconds() + 1)
    report = deliver_due(ctx.db, ctx, FileSender(tmp_path / "later"))
    assert report.sent == 2
    assert {r.state for r in _rows(ctx)} == {"sent"}
    assert len(list((tmp_path / "later").glob("*.json"))) == 2


def test_gives_up_after_max_attempts(database_url, tmp_path, clock, app, app_context):
    settings = make_settings(database_url, tmp_path, delivery="off", outbox_max_attempts=2)

    with TestClient(create_app(settings, clock)) as c:
        file_request(c)

    class Broken:
        def send(self, message):
            raise OSError("disk full")

    ctx = app_context(settings)
    deliver_due(ctx.db, ctx, Broken())
    clock.advance(hours=2)
    report = deliver_due(ctx.db, ctx, Broken())
    assert report.failed == 2
    assert {(r.state, r.attempts) for r in _rows(ctx)} == {("failed", 2)}


def test_parallel_workers_send_each_message_once(database_url, tmp_path, clock, app, app_context):
    settings = make_settings(database_url, tmp_path, delivery="off")

    file_many(settings, clock, 15, "user")
    ctx = app_context(settings)
    sent: list[str] = []
    lock = threading.Lock()

    class Counting:
        def send(self, message):
            with lock:
                sent.append(message.id)

    def work():
        for _ in range(5):
            drain(ctx.db, ctx, Counting())

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(sent) == 30
    assert len(set(sent)) == 30


def test_smtp_sender_against_a_real_local_server(database_url, tmp_path, clock, app, app_context):
    """A batch goes over one connection; each Message-ID is the outbox message id."""
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append((id(session), envelope))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = make_settings(
            database_url,
            tmp_path,
            delivery="off",
            notify_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=port,
        )

        with TestClient(create_app(settings, clock)) as c:
            for i in range(3):
                file_request(c, subject={"name": f"사용자{i}", "email": f"smtp{i}@example.com"})
        ctx = app_context(settings)
        assert drain(ctx.db, ctx, SMTPSender(settings)).sent == 6
        with ctx.db.transaction(write=False) as session:
            ids = session.connection().execute(text("SELECT id FROM outbox_message")).scalars()
            ids = set(ids)
    finally:
        controller.stop()
    assert len({session for session, _ in received}) == 1  # one connection for the batch
    assert sorted(e.rcpt_tos[0] for _, e in received) == sorted(
        f"smtp{i}@example.com" for i in range(3) for _ in range(2)
    )
    mails = [message_from_bytes(e.content) for _, e in received]
    assert {m["Message-ID"] for m in mails} == {f"<{mid}@example.com>" for mid in ids}
    assert all(m["Subject"] for m in mails)


def test_a_refused_message_does_not_take_the_batch_down(
    database_url, tmp_path, clock, app, app_context
):
    """A recipient the relay refuses is retried later; the others go out on the same
    connection."""
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("refused"):
                return "450 mailbox busy"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            received.append((id(session), envelope.rcpt_tos[0]))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = make_settings(
            database_url,
            tmp_path,
            delivery="off",
            notify_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=port,
        )
        with TestClient(create_app(settings, clock)) as c:
            for who in ("first", "refused", "last"):
                file_request(c, subject={"name": who, "email": f"{who}@example.com"})
        ctx = app_context(settings)
        report = drain(ctx.db, ctx, SMTPSender(settings))
    finally:
        controller.stop()
    assert (report.sent, report.retried) == (4, 2)
    assert set(report.errors) == {"SMTPRecipientsRefused"}
    assert len({session for session, _ in received}) == 1
    assert sorted(to for _, to in received) == [
        "first@example.com",
        "first@example.com",
        "last@example.com",
        "last@example.com",
    ]


def test_the_worker_survives_database_errors(tmp_path):
    """`rightsdesk worker` on a database that is not there yet (no tables): it logs the
    error's type, backs off, and once the database is migrated delivers what was queued.
    (Its own SQLite file whatever the suite's database: this is the worker loop's test.)"""
    import subprocess

    from app.core.clock import Clock
    from app.core.migrations import upgrade
    from tests.e2e.test_serve import RIGHTSDESK
    from tests.support import read_outbox, wait_for

    url = f"sqlite:///{tmp_path / 'late.db'}"
    settings = make_settings(url, tmp_path, delivery="off", outbox_poll_seconds=0.1)
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": url,
        "RIGHTSDESK_VAR_DIR": str(tmp_path / "var"),
        "RIGHTSDESK_NOTIFY_DIR": str(tmp_path / "outbox"),
        "RIGHTSDESK_SECRET_KEY": settings.secret_key,
        "RIGHTSDESK_ENCRYPTION_KEYS": settings.encryption_keys,
        "RIGHTSDESK_BLIND_INDEX_KEY": settings.blind_index_key,
        "RIGHTSDESK_OUTBOX_POLL_SECONDS": "0.1",
    }
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [RIGHTSDESK, "worker"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        assert wait_for(lambda: "deliver failed: OperationalError" in log.read_text()), (
            log.read_text()
        )
        assert worker.poll() is None, log.read_text()  # still running
        upgrade(url)
        with TestClient(create_app(settings, Clock())) as c:
            file_request(c)
        assert wait_for(lambda: len(read_outbox(tmp_path / "outbox")) == 2), log.read_text()
        assert worker.poll() is None
    finally:
        worker.terminate()
        assert worker.wait(timeout=15) == 0
    assert "retrying in" in log.read_text()
    assert "hong.gildong@example.com" not in log.read_text()


def test_backoff_grows_and_caps():
    assert [backoff(n) for n in (1, 2, 3)] == [
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
    ]
    assert backoff(50) == timedelta(hours=1)


def _payloads(ctx: AppContext) -> list[dict]:
    with ctx.db.transaction(write=False) as session:
        rows = session.connection().execute(
            text("SELECT id, template, payload_enc FROM outbox_message ORDER BY created_at, id")
        )
        return [
            {"template": r.template}
            | json.loads(ctx.keys.decrypt(r.payload_enc, f"outbox_message.payload:{r.id}"))
            for r in rows
        ]


def test_notices_are_queued_unrendered_and_rendered_when_delivered(
    database_url, tmp_path, clock, app, app_context
):
    """The filing stores the template's context (encrypted), not the text; the deliverer
    renders it, Korean first with the English beside, the company and the right added back."""
    settings = make_settings(database_url, tmp_path, delivery="off")
    with TestClient(create_app(settings, clock)) as c:
        created = file_request(c)
    ctx = app_context(settings)
    stored = _payloads(ctx)
    assert {p["template"] for p in stored} == {"receipt", "verification_code"}
    for p in stored:
        assert p["v"] == 2 and "text" not in p and "subject" not in p
        assert "company" not in p["context"] and "right" not in p["context"]
        assert p["context"]["reference"] == created["reference"]
    assert drain(ctx.db, ctx, FileSender(tmp_path / "out")).sent == 2
    delivered = read_outbox(tmp_path / "out")
    receipt = next(m for m in delivered if m["template"] == "receipt")
    assert created["reference"] in receipt["subject"]
    assert receipt["text"].index("개인정보") < receipt["text"].index("personal")  # ko first
    code = next(m for m in delivered if m["template"] == "verification_code")
    assert CODE_RE.search(code["text"])
    assert {r.payload_enc for r in _rows(ctx)} == {None}  # nothing kept once delivered


def test_a_notice_rendered_at_filing_by_an_older_version_still_delivers(
    database_url, tmp_path, clock, app, app_context
):
    settings = make_settings(database_url, tmp_path, delivery="off")
    ctx = app_context(settings)
    now = clock.now()
    payload = json.dumps({"to": "old@example.com", "subject": "옛 알림 / Old", "text": "본문\n"})
    with ctx.db.transaction() as session:
        session.connection().execute(
            text(
                "INSERT INTO outbox_message (id, kind, template, request_id, locale, payload_enc,"
                " state, attempts, next_attempt_at, created_at) VALUES ('msg_old', 'notice',"
                " 'receipt', NULL, 'ko', :p, 'pending', 0, :now, :now)"
            ),
            {"p": ctx.keys.encrypt(payload, "outbox_message.payload:msg_old"), "now": now},
        )
    assert drain(ctx.db, ctx, FileSender(tmp_path / "out")).sent == 1
    (message,) = read_outbox(tmp_path / "out")
    assert (message["to"], message["subject"], message["text"]) == (
        "old@example.com",
        "옛 알림 / Old",
        "본문\n",
    )


def _states(ctx: AppContext) -> dict[str, tuple]:
    with ctx.db.transaction(write=False) as session:
        rows = session.connection().execute(
            text("SELECT id, state, attempts, claim_token, payload_enc FROM outbox_message")
        )
        return {r.id: (r.state, r.attempts, r.claim_token, r.payload_enc) for r in rows}


def test_sent_messages_are_recorded_in_groups_within_a_fraction_of_a_second(
    database_url, tmp_path, clock, app, app_context
):
    """For a sender where a second delivery is harmless (files), successes are written as a
    group, not one transaction each, but never later than a quarter second after the first:
    a slow sender (0.3 s a message) finds the messages before it recorded as sent while it is
    still sending the batch."""
    settings = make_settings(database_url, tmp_path, delivery="off")
    file_many(settings, clock, 3, "group")
    ctx = app_context(settings)
    sent: list[str] = []
    seen_while_sending: dict[int, dict] = {}

    class Slow:
        idempotent = True  # as the file sender: grouped records

        def send(self, message):
            seen_while_sending[len(sent)] = _states(ctx)
            sent.append(message.id)
            threading.Event().wait(0.3)

    report = deliver_due(ctx.db, ctx, Slow())
    assert (report.claimed, report.sent, report.lost) == (6, 6, 0)
    # While the third message was being sent, the first two were on record (0.6 s in).
    during_third = seen_while_sending[2]
    assert [during_third[mid][0] for mid in sent[:2]] == ["sent", "sent"]
    assert {during_third[mid][0] for mid in sent[2:]} == {"pending"}
    # At the end: every one sent once, payload gone, claim released.
    assert set(_states(ctx).values()) == {("sent", 1, None, None)}


def test_a_batch_is_recorded_as_one_group_at_its_end(
    database_url, tmp_path, clock, app, monkeypatch, app_context
):
    """Within the group's time bound (widened here, so a stall of this machine cannot split
    the group) nothing is on record until the batch ends, then all of it."""
    monkeypatch.setattr(outbox, "_SENT_GROUP_SECONDS", 60.0)
    settings = make_settings(database_url, tmp_path, delivery="off")
    file_many(settings, clock, 4, "fast")
    ctx = app_context(settings)
    seen: list[dict] = []

    class Fast:
        idempotent = True

        def send(self, message):
            seen.append(_states(ctx))

    report = deliver_due(ctx.db, ctx, Fast())
    assert (report.claimed, report.sent) == (8, 8)
    assert {state for snapshot in seen for (state, *_rest) in snapshot.values()} == {"pending"}
    assert set(_states(ctx).values()) == {("sent", 1, None, None)}


def test_an_e_mail_is_on_record_as_soon_as_the_relay_took_it(
    database_url, tmp_path, clock, app, app_context
):
    """A sender whose second delivery would be a second e-mail (SMTP) is not grouped: when it
    starts a message, every message before it is already on record, so a crash repeats at
    most the one in flight."""
    settings = make_settings(database_url, tmp_path, delivery="off")
    file_many(settings, clock, 3, "relay")
    ctx = app_context(settings)
    sent: list[str] = []
    unrecorded_before: list[int] = []

    class Relay:
        def send(self, message):
            states = _states(ctx)
            unrecorded_before.append(sum(states[mid][0] != "sent" for mid in sent))
            sent.append(message.id)

    report = deliver_due(ctx.db, ctx, Relay())
    assert (report.claimed, report.sent) == (6, 6)
    assert unrecorded_before == [0] * 6
    assert set(_states(ctx).values()) == {("sent", 1, None, None)}
