"""`rightsdesk purge [--dry-run] [--batch-size N]` and the worker's purge step, as real
processes on the real clock: the requests here were filed and closed four years ago (the
app's frozen clock), one more a few days ago. Both commands refuse an access record kept
shorter than two years (RIGHTSDESK_AUDIT_RETENTION_DAYS below 730) in one line."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app.core.clock import FrozenClock
from tests.support import T0, act, file_request, relogin, run_cli, sql_rows

FOUR_YEARS = timedelta(days=4 * 365)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0 - FOUR_YEARS)


def _rejected(client, staff, email: str) -> str:
    rid = file_request(client, subject={"name": "홍길동", "email": email})["id"]
    act(client, staff["cpo"]["headers"], rid, "verify", {"outcome": "rejected", "method": "x"})
    return rid


@pytest.fixture
def closed(client, staff, clock):
    """Three requests closed four years ago and one closed two days ago."""
    old = [_rejected(client, staff, f"old{i}@example.com") for i in range(3)]
    clock.advance(days=FOUR_YEARS.days - 2)
    relogin(client, staff)
    recent = _rejected(client, staff, "recent@example.com")
    return old, recent


def _purged(database_url: str) -> dict[str, bool]:
    rows = sql_rows(database_url, "SELECT id, purged_at, subject_name_enc FROM request")
    for rid, purged_at, name in rows:
        assert (purged_at is None) == (name is not None), rid  # purged iff the name is gone
    return {rid: purged_at is not None for rid, purged_at, _ in rows}


def test_dry_run_then_purge(closed, settings, tmp_path, database_url):
    old, recent = closed
    snapshot = sql_rows(database_url, "SELECT * FROM request ORDER BY id")
    entries = sql_rows(database_url, "SELECT count(*) FROM audit_entry")

    dry = run_cli(tmp_path, settings, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    preview = json.loads(dry.stdout.strip().splitlines()[-1])
    assert preview["dry_run"] is True and preview["requests"] == 3
    assert preview["oldest_closed_at"].startswith((T0 - FOUR_YEARS).date().isoformat())
    assert "would purge 3 request(s)" in dry.stderr
    assert sql_rows(database_url, "SELECT * FROM request ORDER BY id") == snapshot
    assert sql_rows(database_url, "SELECT count(*) FROM audit_entry") == entries

    done = run_cli(tmp_path, settings, "purge", "--batch-size", "2")
    assert done.returncode == 0, done.stderr
    assert "batch 1: purged 2" in done.stderr and "batch 2: purged 1" in done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["requests_purged"] == 3 and summary["batches"] == 2
    assert _purged(database_url) == {**dict.fromkeys(old, True), recent: False}
    for personal in ("홍길동", "example.com"):
        assert personal not in done.stdout + done.stderr
    audited = sql_rows(database_url, "SELECT request_id FROM audit_entry WHERE action = 'purge'")
    assert sorted(r[0] for r in audited) == sorted(old)
    checked = run_cli(tmp_path, settings, "audit", "verify")
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"] is True

    again = run_cli(tmp_path, settings, "purge")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["requests_purged"] == 0


def test_scrub_status_then_rewrite(closed, client, settings, tmp_path, database_url):
    """`rightsdesk scrub --status` lists the tables a purge left for the rewrite (PostgreSQL;
    none on SQLite), `rightsdesk scrub` rewrites them and leaves none. (The purge runs in
    this process: the command is tested above.)"""
    from app.retention.purge import TOUCHED, purge

    sqlite = database_url.startswith("sqlite")
    ctx = client.app.state.ctx
    assert purge(ctx.db, ctx).requests == 3

    status = run_cli(tmp_path, settings, "scrub", "--status")
    assert status.returncode == 0, status.stderr
    waiting = json.loads(status.stdout)["pending"]
    assert [p["table"] for p in waiting] == ([] if sqlite else sorted(TOUCHED))
    assert all(p["destructions"] == 1 for p in waiting)

    scrubbed = run_cli(tmp_path, settings, "scrub", "--lock-timeout", "2")
    assert scrubbed.returncode == 0, scrubbed.stderr
    summary = json.loads(scrubbed.stdout)
    assert summary["rewritten"] == ([] if sqlite else sorted(TOUCHED))
    assert summary["skipped"] == [] and summary["pending"] == []


def test_the_worker_purges(closed, settings, tmp_path, database_url):
    old, recent = closed
    done = run_cli(tmp_path, settings, "worker", "--once")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["requests_purged"] == 3 and summary["failed_steps"] == []
    assert "purged the personal data of 3 request(s)" in done.stderr
    assert "홍길동" not in done.stderr and "old0@" not in done.stderr
    assert _purged(database_url) == {**dict.fromkeys(old, True), recent: False}


@pytest.mark.parametrize("command", [["purge"], ["purge", "--dry-run"], ["worker", "--once"]])
def test_an_access_record_kept_under_two_years_is_refused(
    closed, settings, tmp_path, database_url, command
):
    done = run_cli(tmp_path, settings, *command, RIGHTSDESK_AUDIT_RETENTION_DAYS="729")
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rightsdesk: "), done.stderr
    assert "RIGHTSDESK_AUDIT_RETENTION_DAYS" in lines[0] and "730" in lines[0]
    assert "Traceback" not in done.stderr
    assert not any(_purged(database_url).values())
    # 730 itself is accepted.
    ok = run_cli(tmp_path, settings, *command, RIGHTSDESK_AUDIT_RETENTION_DAYS="730")
    assert ok.returncode == 0, ok.stderr
