"""Trimming the access record after RIGHTSDESK_AUDIT_RETENTION_DAYS: only a contiguous old
prefix goes, the base anchors what is kept, the trim is itself recorded, and parallel trims
and appends leave one chain that verifies."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.audit import service as audit
from app.audit.retention import BrokenChain, trim
from app.core.db import Database
from tests.support import T0, run_cli

OLD = T0 - timedelta(days=800)  # past the two years
RECENT = T0 - timedelta(days=700)  # still inside them


@pytest.fixture
def db(app, database_url):
    """The suite's database (emptied after the test by the `app` fixture)."""
    database = Database(database_url)
    yield database
    database.dispose()


def _append(db: Database, *ats: datetime) -> None:
    with db.transaction() as session:
        for i, at in enumerate(ats):
            audit.append(session, at=at, actor="staff:usr_1", action="view", detail={"i": i})


def _check(db: Database) -> audit.ChainCheck:
    with db.transaction(write=False) as session:
        return audit.verify(session)


def _rows(db: Database, sql: str, **params) -> list:
    with db.transaction(write=False) as session:
        return session.connection().execute(text(sql), params).all()


def _sql(db: Database, sql: str, **params) -> None:
    with db.transaction() as session:
        session.connection().execute(text(sql), params)


def _base(db: Database) -> tuple[int, str]:
    return tuple(_rows(db, "SELECT base_seq, base_hash FROM audit_head WHERE id = 1")[0])


def test_the_old_prefix_goes_and_what_is_kept_verifies(db):
    _append(db, *[OLD + timedelta(minutes=i) for i in range(5)], RECENT, T0)
    fifth = _rows(db, "SELECT hash FROM audit_entry WHERE seq = 5")[0].hash

    report = trim(db, T0, 730)

    assert (report.removed, report.up_to, report.batches) == (5, 5, 1)
    assert _base(db) == (5, fifth)
    assert [r.seq for r in _rows(db, "SELECT seq FROM audit_entry ORDER BY seq")] == [6, 7, 8]
    last = _rows(db, "SELECT actor, action, detail FROM audit_entry WHERE seq = 8")[0]
    detail = last.detail if isinstance(last.detail, dict) else json.loads(last.detail)
    assert (last.actor, last.action) == ("system", "audit_trimmed")
    assert detail == {
        "removed": 5,
        "up_to_seq": 5,
        "base_hash": fifth,
        "cutoff": (T0 - timedelta(days=730)).isoformat(),
    }
    result = _check(db)
    assert (result.ok, result.checked) == (True, 3), result
    # Nothing more is old enough: a second trim removes nothing and records nothing.
    assert trim(db, T0, 730).removed == 0
    assert _rows(db, "SELECT max(seq) AS m FROM audit_entry")[0].m == 8


def test_only_a_contiguous_prefix_goes(db):
    """An old entry after a recent one stays: the chain must keep starting at the base."""
    _append(db, OLD, OLD, RECENT, OLD, T0)
    report = trim(db, T0, 730)
    assert (report.removed, report.up_to) == (2, 2)
    assert [r.seq for r in _rows(db, "SELECT seq FROM audit_entry ORDER BY seq")] == [3, 4, 5, 6]
    assert _check(db).ok


def test_a_longer_retention_keeps_more(db):
    _append(db, OLD, OLD, T0)
    assert trim(db, T0, 900).removed == 0
    assert _base(db) == (0, "0" * 64)


def test_batches_each_record_their_part(db):
    _append(db, *[OLD] * 7, T0)
    report = trim(db, T0, 730, batch=3)
    assert (report.removed, report.up_to, report.batches, report.more) == (7, 7, 3, False)
    trims = _rows(db, "SELECT detail FROM audit_entry WHERE action = 'audit_trimmed' ORDER BY seq")
    parts = [(d if isinstance(d, dict) else json.loads(d)) for (d,) in trims]
    assert [(p["removed"], p["up_to_seq"]) for p in parts] == [(3, 3), (3, 6), (1, 7)]
    assert _check(db).ok


def test_max_batches_stops_early_and_says_so(db):
    _append(db, *[OLD] * 7, T0)
    report = trim(db, T0, 730, batch=3, max_batches=1)
    assert (report.removed, report.more) == (3, True)
    assert _check(db).ok
    assert trim(db, T0, 730, batch=3).removed == 4


def test_dry_run_counts_and_changes_nothing(db):
    _append(db, *[OLD] * 4, T0)
    report = trim(db, T0, 730, batch=3, dry_run=True)
    assert (report.removed, report.up_to) == (4, 4)
    assert _base(db) == (0, "0" * 64)
    assert len(_rows(db, "SELECT seq FROM audit_entry")) == 5


def test_entries_deleted_past_the_base_are_still_missing(db):
    _append(db, OLD, OLD, RECENT, RECENT, T0)
    trim(db, T0, 730)
    _sql(db, "DELETE FROM audit_entry WHERE seq = 3")
    result = _check(db)
    assert (result.ok, result.first_bad, result.problem) == (False, 3, "missing entry")


def test_a_base_that_does_not_anchor_the_kept_chain_is_found(db):
    _append(db, OLD, OLD, RECENT, T0)
    trim(db, T0, 730)
    _sql(db, "UPDATE audit_head SET base_hash = :h WHERE id = 1", h="1" * 64)
    result = _check(db)
    assert (result.ok, result.first_bad, result.problem) == (False, 3, "broken link")


def test_a_broken_stretch_is_not_trimmed_away(db):
    """Removing entries around a gap would destroy the evidence: nothing is removed."""
    _append(db, OLD, OLD, OLD, T0)
    _sql(db, "DELETE FROM audit_entry WHERE seq = 2")
    with pytest.raises(BrokenChain):
        trim(db, T0, 730)
    assert _base(db) == (0, "0" * 64)
    assert len(_rows(db, "SELECT seq FROM audit_entry")) == 3
    assert _check(db).first_bad == 2


def test_parallel_trims_and_appends_keep_one_chain(db):
    """Two trimmers in small batches and four appenders at once, on the real database: each
    old entry is removed once, the base always anchors the first entry kept, and the chain
    verifies. Without the head lock two trims remove the same prefix or move the base past
    each other and a base no longer matches the first entry kept."""
    old = 120
    _append(db, *[OLD + timedelta(seconds=i) for i in range(old)])
    errors: list[BaseException] = []
    reports = []
    start = threading.Barrier(6)

    def trimmer() -> None:
        try:
            start.wait()
            reports.append(trim(db, T0, 730, batch=7))
        except BaseException as exc:
            errors.append(exc)

    def appender(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                with db.transaction() as session:
                    audit.append(session, at=T0, actor=f"staff:w{n}", action="view", detail={})
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=trimmer) for _ in range(2)]
    pool += [threading.Thread(target=appender, args=(n,)) for n in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert sum(r.removed for r in reports) == old
    trims = _rows(db, "SELECT detail FROM audit_entry WHERE action = 'audit_trimmed' ORDER BY seq")
    parts = [(d if isinstance(d, dict) else json.loads(d)) for (d,) in trims]
    assert sum(p["removed"] for p in parts) == old
    assert [p["up_to_seq"] for p in parts] == sorted({p["up_to_seq"] for p in parts})
    assert _base(db)[0] == old
    result = _check(db)
    assert result.ok, result
    assert result.checked == 40 + len(parts)


def test_checks_during_trims_do_not_cry_wolf(db):
    """A check that read the base before a trim committed sees the chain start later: it
    re-reads the base instead of reporting the removed entries as missing."""
    _append(db, *[OLD + timedelta(seconds=i) for i in range(300)], T0)
    results: list[audit.ChainCheck] = []
    done = threading.Event()

    def checker() -> None:
        while not done.is_set():
            results.append(_check(db))

    thread = threading.Thread(target=checker)
    thread.start()
    try:
        trim(db, T0, 730, batch=5)
    finally:
        done.set()
        thread.join()
    assert results and all(r.ok for r in results), [r for r in results if not r.ok][:3]


# The command and the worker step, as real processes on the real clock.
def test_the_trim_command(db, settings, tmp_path):
    now = datetime.now(UTC)
    _append(db, now - timedelta(days=800), now - timedelta(days=799), now)

    dry = run_cli(tmp_path, settings, "audit", "trim", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["removed"] == 2 and json.loads(dry.stdout)["dry_run"]
    assert _base(db)[0] == 0

    refused = run_cli(tmp_path, settings, "audit", "trim", RIGHTSDESK_AUDIT_RETENTION_DAYS="365")
    assert refused.returncode != 0 and "RIGHTSDESK_AUDIT_RETENTION_DAYS" in refused.stderr
    assert _base(db)[0] == 0

    done = run_cli(tmp_path, settings, "audit", "trim")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["removed"], out["up_to"], out["dry_run"]) == (2, 2, False)
    checked = run_cli(tmp_path, settings, "audit", "verify")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {
        "ok": True,
        "checked": 2,
        "first_bad": None,
        "problem": None,
    }


def test_the_worker_trims(db, settings, tmp_path):
    now = datetime.now(UTC)
    _append(db, now - timedelta(days=800), now)
    ran = run_cli(tmp_path, settings, "worker", "--once", RIGHTSDESK_DELIVERY="off")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.strip().splitlines()[-1])["audit_entries_trimmed"] == 1
    assert _base(db)[0] == 1
    assert _check(db).ok
