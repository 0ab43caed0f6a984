"""The production shape, for real: `rightsdesk serve --workers 4` and two `rightsdesk worker`
processes on the suite's database (PostgreSQL in CI; the same shape on SQLite), filings from
8 threads, notices by SMTP to a local relay (aiosmtpd on 127.0.0.1) that counts what it gets,
and one worker killed with SIGKILL in the middle of a batch.

What it asserts:
- every filing is answered 201 (no 5xx) and every acknowledged request is in the database;
- every notice (receipt and code, two per filing) reaches the relay, and each exactly once,
  but for one: the message the killed worker had in flight. The relay took it in full and the
  worker was killed before it heard "250" (the relay holds its reply until the kill), so its
  sending was never recorded, and the other worker sends it again once the lease runs out.
  That is SMTP's at-least-once; the Message-ID (the outbox id) makes the copy recognisable.
  So the test asserts that exactly that message, and no other, arrived twice;
- the rest of the killed worker's batch (claimed, not yet sent) is delivered by the other
  worker, and only after the killed worker's lease had run out;
- every outbox row ends 'sent' with one recorded attempt and no claim left;
- the access record's chain verifies (`rightsdesk audit verify`);
- the surviving worker stops cleanly on SIGTERM; no log holds an e-mail address.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
from collections import Counter
from datetime import UTC, datetime
from email import message_from_bytes

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from app.models.base import UTCDateTime
from tests.e2e.test_serve import Server
from tests.support import RIGHTSDESK, free_port, rightsdesk, start_until_ready, wait_for

FILERS = 8  # threads filing at once
PER_FILER = 2  # filings per thread per wave
LEASE_SECONDS = 8  # short, so the killed worker's batch comes back quickly (≥ 8 × timeout)
BATCH = 8


class ApiCluster(Server):
    """The e2e server, with several worker processes."""

    def __init__(self, *args, workers: int, **env) -> None:
        super().__init__(*args, **env)
        self.workers = workers

    def start(self) -> ApiCluster:
        argv = [RIGHTSDESK, "serve", "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = start_until_ready(argv, self.env, self.log, f"{self.base}/readyz", 60)
        return self


class Relay:
    """A slow SMTP relay that notes every message it takes (Message-ID, envelope sender,
    time). The `hold_at`-th message from `hold_sender` is taken in full, then the reply is
    held back until `release` is set: the test kills that worker meanwhile."""

    def __init__(self, delay: float, hold_sender: str, hold_at: int) -> None:
        self.delay, self.hold_sender, self.hold_at = delay, hold_sender, hold_at
        self.lock = threading.Lock()
        self.deliveries: list[tuple[str, str, datetime]] = []
        self.held: str | None = None
        self.holding, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        message_id = message_from_bytes(envelope.content)["Message-ID"]
        outbox_id = message_id.strip("<>").partition("@")[0]
        with self.lock:
            self.deliveries.append((outbox_id, envelope.mail_from, datetime.now(UTC)))
            nth = sum(1 for d in self.deliveries if d[1] == envelope.mail_from)
        if envelope.mail_from == self.hold_sender and nth == self.hold_at:
            self.held = outbox_id
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        else:
            await asyncio.sleep(self.delay)
        return "250 OK"

    def by(self, sender: str) -> list[str]:
        with self.lock:
            return [d[0] for d in self.deliveries if d[1] == sender]


def _file(base: str, wave: str, filer: int) -> list[tuple[int, str | None]]:
    out = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for k in range(PER_FILER):
            response = http.post(
                "/v1/requests",
                json={
                    "type": "access",
                    "subject": {"name": "동시성", "email": f"{wave}-{filer}-{k}@example.com"},
                },
            )
            out.append((response.status_code, response.json().get("id")))
    return out


@pytest.fixture
def workdir(tmp_path, app):  # `app` cleans the database afterwards
    return tmp_path


def test_serve_and_two_workers_under_concurrent_filing_and_a_kill(database_url, workdir, race):
    relay = Relay(delay=0.03, hold_sender="worker-a@example.com", hold_at=3)
    relay_port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    engine = create_engine(database_url)
    api = ApiCluster(database_url, workdir, workers=4, RIGHTSDESK_DELIVERY="off")
    workers: dict[str, subprocess.Popen] = {}
    logs = {name: workdir / f"{name}.log" for name in ("worker-a", "worker-b")}

    def query(sql: str, columns=None, **params):
        statement = text(sql).columns(**columns) if columns else text(sql)
        with engine.connect() as conn:
            return conn.execute(statement, params).all()

    def worker_logs() -> str:
        return "\n".join(f"--- {n}\n{p.read_text()}" for n, p in logs.items() if p.exists())

    try:
        api.start()
        # Wave 1 before the workers start: a backlog, so each worker's first batch is full.
        filed = [r for batch in race(FILERS, lambda i: _file(api.base, "w1", i)) for r in batch]
        for name, log in logs.items():
            env = {
                **api.env,
                "RIGHTSDESK_NOTIFY_BACKEND": "smtp",
                "RIGHTSDESK_SMTP_HOST": "127.0.0.1",
                "RIGHTSDESK_SMTP_PORT": str(relay_port),
                "RIGHTSDESK_SMTP_FROM": f"{name}@example.com",
                "RIGHTSDESK_SMTP_TIMEOUT_SECONDS": str(LEASE_SECONDS / 8),
                "RIGHTSDESK_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
                "RIGHTSDESK_WEBHOOK_TIMEOUT_SECONDS": str(LEASE_SECONDS / 8),
                "RIGHTSDESK_OUTBOX_BATCH_SIZE": str(BATCH),
                "RIGHTSDESK_OUTBOX_POLL_SECONDS": "0.2",
            }
            workers[name] = subprocess.Popen(
                [RIGHTSDESK, "worker"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
            )
        # Wave 2 while both workers deliver (and while one of them is killed).
        wave2: list = []
        filing = threading.Thread(
            target=lambda: wave2.extend(race(FILERS, lambda i: _file(api.base, "w2", i)))
        )
        filing.start()

        # Worker A has sent two messages of its batch; the relay has taken the third.
        assert relay.holding.wait(30), worker_logs()
        workers["worker-a"].send_signal(signal.SIGKILL)
        workers["worker-a"].wait(10)
        relay.release.set()
        # What A held when it died: its in-flight message and the rest of its batch.
        held = query(
            "SELECT id, next_attempt_at FROM outbox_message WHERE state = 'pending' AND "
            "claim_token = (SELECT claim_token FROM outbox_message WHERE id = :mid)",
            mid=relay.held,
            columns={"next_attempt_at": UTCDateTime()},
        )
        assert relay.held in {r.id for r in held}
        assert len(held) >= 2, "worker A was not killed in the middle of a batch"

        filing.join(60)
        assert not filing.is_alive()
        filed += [r for batch in wave2 for r in batch]
        expected = {r.id for r in query("SELECT id FROM outbox_message")}

        def all_sent() -> bool:
            pending = query("SELECT count(*) FROM outbox_message WHERE state <> 'sent'")
            return pending[0][0] == 0 and expected <= {d[0] for d in relay.deliveries}

        assert wait_for(all_sent, LEASE_SECONDS + 30), worker_logs()
        workers["worker-b"].send_signal(signal.SIGTERM)
        assert workers["worker-b"].wait(15) == 0, worker_logs()
    finally:
        relay.release.set()
        for proc in workers.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        api.kill(signal.SIGTERM)
        controller.stop()

    # Every filing acknowledged, and every acknowledged request is there.
    assert [status for status, _ in filed] == [201] * (2 * FILERS * PER_FILER)
    request_ids = {rid for _, rid in filed}
    assert request_ids <= {r.id for r in query("SELECT id FROM request")}
    # Two notices per filing; all sent, each recorded once, no claim left behind.
    rows = query(
        "SELECT id, template, request_id, state, attempts, claim_token FROM outbox_message"
    )
    assert Counter((r.request_id, r.template) for r in rows) == Counter(
        {(rid, t): 1 for rid in request_ids for t in ("receipt", "verification_code")}
    )
    assert {(r.state, r.attempts, r.claim_token) for r in rows} == {("sent", 1, None)}

    # Delivered exactly once each, but for the message in flight when worker A was killed.
    counts = Counter(d[0] for d in relay.deliveries)
    assert set(counts) == {r.id for r in rows}
    assert {mid for mid, n in counts.items() if n > 1} == {relay.held}
    assert counts[relay.held] == 2
    assert [d[1] for d in relay.deliveries if d[0] == relay.held] == [
        "worker-a@example.com",
        "worker-b@example.com",
    ]
    codes = {r.id for r in rows if r.template == "verification_code"}
    assert all(counts[mid] == 1 for mid in codes - {relay.held})
    # A's batch went out through B, and only once A's lease had run out.
    lease_end = {r.id: r.next_attempt_at for r in held}
    by_b = {d[0]: d[2] for d in relay.deliveries if d[1] == "worker-b@example.com"}
    for mid, end in lease_end.items():
        assert by_b[mid] >= end, (mid, by_b[mid], end)
    assert set(relay.by("worker-a@example.com")).isdisjoint(set(lease_end) - {relay.held})

    # The access record's chain holds.
    audit = rightsdesk(api.env, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    everything = worker_logs() + api.log.read_text()
    assert "@example.com" not in everything.replace("worker-a@example.com", "").replace(
        "worker-b@example.com", ""
    )
    engine.dispose()
