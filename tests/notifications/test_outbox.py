"""Outbox delivery: retries with backoff, no double sends from parallel workers, SMTP."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from app.core.context import AppContext
from app.main import create_app
from app.notifications.outbox import backoff, deliver_due, drain
from app.notifications.senders import FileSender, SMTPSender
from tests.support import file_request, make_settings


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


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failed_delivery_is_retried_with_backoff(database_url, tmp_path, clock, app):
    settings = make_settings(
        database_url,
        tmp_path,
        delivery="off",
        notify_backend="smtp",
        smtp_port=_closed_port(),
        smtp_timeout_seconds=2,
    )

    with TestClient(create_app(settings, clock)) as c:
        file_request(c)
    ctx = AppContext.build(settings, clock)
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
    ctx.db.dispose()


def test_gives_up_after_max_attempts(database_url, tmp_path, clock, app):
    settings = make_settings(database_url, tmp_path, delivery="off", outbox_max_attempts=2)

    with TestClient(create_app(settings, clock)) as c:
        file_request(c)

    class Broken:
        def send(self, message):
            raise OSError("disk full")

    ctx = AppContext.build(settings, clock)
    deliver_due(ctx.db, ctx, Broken())
    clock.advance(hours=2)
    report = deliver_due(ctx.db, ctx, Broken())
    assert report.failed == 2
    assert {(r.state, r.attempts) for r in _rows(ctx)} == {("failed", 2)}
    ctx.db.dispose()


def test_parallel_workers_send_each_message_once(database_url, tmp_path, clock, app):
    settings = make_settings(database_url, tmp_path, delivery="off")

    with TestClient(create_app(settings, clock)) as c:
        for i in range(15):
            file_request(c, subject={"name": f"사용자{i}", "email": f"user{i}@example.com"})
    ctx = AppContext.build(settings, clock)
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
    ctx.db.dispose()


def test_smtp_sender_against_a_real_local_server(database_url, tmp_path, clock, app):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    port = _closed_port()
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
            file_request(c)
        ctx = AppContext.build(settings, clock)
        assert drain(ctx.db, ctx, SMTPSender(settings)).sent == 2
        ctx.db.dispose()
    finally:
        controller.stop()
    assert [e.rcpt_tos for e in received] == [["hong.gildong@example.com"]] * 2
    text_body = b"".join(e.content for e in received).decode()
    assert "Subject:" in text_body


def test_backoff_grows_and_caps():
    assert [backoff(n) for n in (1, 2, 3)] == [
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
    ]
    assert backoff(50) == timedelta(hours=1)
