"""Webhook delivery by several workers at once: real `rightsdesk worker` processes killed
(SIGKILL) or stopped (SIGTERM) in the middle of a delivery, and threads claiming in parallel.
A receiver on 127.0.0.1 verifies every signature and counts each webhook-id.

What holds (HTTP cannot be exactly-once; receivers de-duplicate on webhook-id, as the
Standard asks):
- SIGKILL mid-delivery: nothing is lost; the one delivery in flight (the receiver had it, the
  worker died before recording the answer) arrives again, with the same webhook-id, from the
  next worker once the lease has run out; no delivery whose outcome was recorded is sent
  again;
- SIGTERM mid-delivery: the delivery in flight finishes and is recorded, the rest of the batch
  is handed back (due at once, not after the lease): every webhook-id arrives exactly once;
- parallel claims (threads, each its own pool; truly parallel on PostgreSQL): every webhook-id
  arrives exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient

from app.core.clock import Clock
from app.integrations.delivery import deliver_due
from app.main import create_app
from tests.e2e.test_serve import RIGHTSDESK
from tests.integrations.receiver import Receiver, register
from tests.support import (
    TEST_KEY,
    file_request,
    login,
    make_settings,
    make_staff,
    sql_rows,
    wait_for,
)

ENDPOINTS = 3


def _backlog(database_url, tmp_path, receiver: Receiver, filings: int) -> list[str]:
    """`filings` requests filed with delivery off and ENDPOINTS endpoints on the receiver:
    filings × ENDPOINTS webhook deliveries due now (real clock)."""
    settings = make_settings(database_url, tmp_path, delivery="off", webhook_allow_private=True)
    with TestClient(create_app(settings, Clock())) as c:
        make_staff(c.app, "cpo@example.com", "cpo")
        cpo = login(c, "cpo@example.com")
        secrets = [
            register(c, cpo, url=receiver.url, events=["request.created"])["secret"]
            for _ in range(ENDPOINTS)
        ]
        for i in range(filings):
            file_request(c, subject={"name": "작업자", "email": f"worker{i}@example.com"})
    receiver.secrets = secrets
    return [r.id for r in sql_rows(database_url, "SELECT id FROM webhook_delivery")]


def _env(database_url, tmp_path, lease: float) -> dict:
    return {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_VAR_DIR": str(tmp_path / "var"),
        "RIGHTSDESK_NOTIFY_DIR": str(tmp_path / "outbox"),
        "RIGHTSDESK_SECRET_KEY": "test-secret-" + "x" * 40,
        "RIGHTSDESK_ENCRYPTION_KEYS": f"t1:{TEST_KEY}",
        "RIGHTSDESK_BLIND_INDEX_KEY": "test-blind-index",
        "RIGHTSDESK_WEBHOOK_ALLOW_PRIVATE": "true",
        "RIGHTSDESK_WEBHOOK_BATCH_SIZE": "5",
        "RIGHTSDESK_OUTBOX_LEASE_SECONDS": str(lease),
        # A lease must outlast two sends (settings check: lease >= 6 x the timeout).
        "RIGHTSDESK_WEBHOOK_TIMEOUT_SECONDS": str(lease / 6),
        "RIGHTSDESK_OUTBOX_POLL_SECONDS": "0.2",
    }


def _start(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([RIGHTSDESK, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)


def _signal_taken(pid: int, signum: int) -> bool:
    """The kernel has handed `signum` to the process (no thread has it pending any more): its
    handler has run, or runs as the blocked call it interrupted returns (PEP 475)."""
    bit = 1 << (signum - 1)
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        for line in status.read_text().splitlines():
            if line.startswith(("SigPnd:", "ShdPnd:")) and int(line.split()[1], 16) & bit:
                return False
    return True


def _all_delivered(database_url) -> bool:
    rows = sql_rows(
        database_url, "SELECT count(*) FROM webhook_delivery WHERE status <> 'delivered'"
    )
    return rows[0][0] == 0


def _stop(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_a_worker_killed_mid_delivery_loses_nothing(database_url, tmp_path, app):
    lease = 3.0
    with Receiver(delay=0.02) as receiver:
        receiver.script = [204, 204, ("hold", 204)]
        expected = _backlog(database_url, tmp_path, receiver, filings=10)
        assert len(expected) == 30
        env = _env(database_url, tmp_path, lease)
        logs = {n: (tmp_path / f"{n}.log") for n in ("a", "b")}
        procs = []
        try:
            a = _start(env, logs["a"].open("wb"))
            procs.append(a)
            assert receiver.holding.wait(30), logs["a"].read_text()
            a.send_signal(signal.SIGKILL)  # the receiver has the third delivery, unanswered
            a.wait(10)
            held = receiver.held
            batch = sql_rows(
                database_url,
                "SELECT id FROM webhook_delivery WHERE status = 'pending' AND claim_token = "
                "(SELECT claim_token FROM webhook_delivery WHERE id = :held)",
                held=held,
            )
            assert held in {r.id for r in batch} and len(batch) >= 2  # killed mid-batch
            receiver.release.set()
            killed_at = time.monotonic()
            b = _start(env, logs["b"].open("wb"))
            procs.append(b)
            assert wait_for(lambda: _all_delivered(database_url), lease + 30), logs["b"].read_text()
            b.send_signal(signal.SIGTERM)
            assert b.wait(15) == 0, logs["b"].read_text()
        finally:
            receiver.release.set()
            _stop(procs)
        counts = Counter(receiver.ids())
        assert set(counts) == set(expected)  # nothing lost
        assert {i for i, n in counts.items() if n > 1} == {held}  # only the one in flight...
        assert counts[held] == 2  # ...again, with the same webhook-id
        assert receiver.all_verified()
        # A's claimed batch came back only once its lease had run out.
        retaken = [r for r in receiver.received if r.webhook_id in {x.id for x in batch}]
        assert min(r.at for r in retaken[1:]) >= killed_at + lease - 1.0
    rows = sql_rows(
        database_url, "SELECT status, attempts, claim_token, last_error FROM webhook_delivery"
    )
    assert {tuple(r) for r in rows} == {("delivered", 1, None, None)}
    text_logs = logs["a"].read_text() + logs["b"].read_text()
    assert "worker" in text_logs and "@example.com" not in text_logs
    print(f"SIGKILL: {len(counts)} deliveries, 1 re-sent ({held}), batch of {len(batch)} retaken")


def test_a_worker_stopped_mid_delivery_finishes_it_and_hands_back_the_rest(
    database_url, tmp_path, app
):
    lease = 60.0  # were the rest not handed back, the next worker would wait a minute
    with Receiver(delay=0.02) as receiver:
        receiver.script = [204, ("hold", 204)]
        expected = _backlog(database_url, tmp_path, receiver, filings=6)
        env = _env(database_url, tmp_path, lease)
        logs = {n: (tmp_path / f"{n}.log") for n in ("a", "b")}
        procs = []
        try:
            a = _start(env, logs["a"].open("wb"))
            procs.append(a)
            assert receiver.holding.wait(30), logs["a"].read_text()
            a.send_signal(signal.SIGTERM)
            # The signal is taken while the delivery is in flight: released only then.
            assert wait_for(lambda: _signal_taken(a.pid, signal.SIGTERM), 15)
            receiver.release.set()
            assert a.wait(15) == 0, logs["a"].read_text()
            held = receiver.held
            row = sql_rows(
                database_url,
                "SELECT status, attempts, claim_token FROM webhook_delivery WHERE id = :id",
                id=held,
            )[0]
            assert tuple(row) == ("delivered", 1, None)  # finished and recorded
            claimed = sql_rows(
                database_url, "SELECT count(*) FROM webhook_delivery WHERE claim_token IS NOT NULL"
            )[0][0]
            assert claimed == 0  # the rest handed back
            assert "handed back 3" in logs["a"].read_text(), logs["a"].read_text()
            started = time.monotonic()
            b = _start(env, logs["b"].open("wb"))
            procs.append(b)
            assert wait_for(lambda: _all_delivered(database_url), 30), logs["b"].read_text()
            assert time.monotonic() - started < lease / 2
            b.send_signal(signal.SIGTERM)
            assert b.wait(15) == 0
        finally:
            receiver.release.set()
            _stop(procs)
        counts = Counter(receiver.ids())
        assert set(counts) == set(expected)
        assert set(counts.values()) == {1}  # each exactly once
        assert receiver.all_verified()


def test_parallel_deliverers_send_each_webhook_once(database_url, tmp_path, app, app_context):
    """Four deliverers (each its own context and pool) drain one backlog in small batches at
    the same moment; every webhook-id reaches the receiver exactly once."""
    with Receiver(delay=0.005) as receiver:
        expected = _backlog(database_url, tmp_path, receiver, filings=12)
        settings = make_settings(database_url, tmp_path, webhook_allow_private=True)
        contexts = [app_context(settings, Clock()) for _ in range(4)]
        barrier = threading.Barrier(len(contexts))
        reports: list = [[] for _ in contexts]
        errors: list[BaseException] = []

        def run(i: int) -> None:
            ctx = contexts[i]
            try:
                barrier.wait(30)
                while True:
                    report = deliver_due(ctx.db, ctx, limit=3)
                    reports[i].append(report)
                    if not report.claimed:
                        break
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(contexts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        counts = Counter(receiver.ids())
        assert set(counts) == set(expected) and len(expected) == 36
        assert set(counts.values()) == {1}, {k: n for k, n in counts.items() if n > 1}
        assert receiver.all_verified()
        delivered = [sum(r.delivered for r in mine) for mine in reports]
        assert sum(delivered) == 36
        assert sum(1 for n in delivered if n) >= 2  # they did share the work
    rows = sql_rows(database_url, "SELECT status, attempts, claim_token FROM webhook_delivery")
    assert {tuple(r) for r in rows} == {("delivered", 1, None)}
