"""`rightsdesk scrub` gives way to a running service: a table whose lock does not come within
the timeout (a transaction reads it) is left pending, not waited for; the others are
rewritten. PostgreSQL only (on SQLite nothing is ever pending: test_purge_on_disk)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app.retention import scrub
from tests.support import act, file_request


def _nothing_waits_on_sqlite(client, staff, clock) -> None:
    """SQLite's checkpoint (secure_delete on) destroyed the purged values at once: nothing is
    recorded as waiting for a rewrite, and the rewrite has nothing to do."""
    from app.retention.purge import purge

    ctx = client.app.state.ctx
    rid = file_request(client)["id"]
    act(client, staff["cpo"]["headers"], rid, "verify", {"outcome": "rejected", "method": "x"})
    clock.advance(days=1096)
    assert purge(ctx.db, ctx).requests == 1
    assert scrub.pending(ctx.db) == []
    done = scrub.rewrite(ctx.db, lock_timeout=0.2)
    assert done.rewritten == [] and done.skipped == []


def test_a_table_in_use_is_left_pending(client, staff, database_url, clock):
    ctx = client.app.state.ctx
    if ctx.db.is_sqlite:
        _nothing_waits_on_sqlite(client, staff, clock)
        return
    rid = file_request(client)["id"]
    act(client, staff["cpo"]["headers"], rid, "verify", {"outcome": "rejected", "method": "x"})
    clock.advance(days=1096)
    from app.retention.purge import purge

    assert purge(ctx.db, ctx).requests == 1
    reader = create_engine(database_url)
    try:
        with reader.connect() as conn:
            conn.execute(text("SELECT count(*) FROM request"))  # ACCESS SHARE until the end
            done = scrub.rewrite(ctx.db, lock_timeout=0.2)
            assert done.skipped == ["request"]
            assert "request" not in done.rewritten and "document" in done.rewritten
            assert [p["table"] for p in scrub.pending(ctx.db)] == ["request"]
            conn.rollback()
        again = scrub.rewrite(ctx.db, lock_timeout=0.2)
        assert again.rewritten == ["request"] and again.skipped == []
        assert scrub.pending(ctx.db) == []
    finally:
        reader.dispose()


def test_the_workers_scrub_runs_in_its_window_only(client, staff, database_url, clock, tmp_path):
    """RIGHTSDESK_SCRUB_WINDOW (Seoul hours): unset, the worker never rewrites; set, it rewrites
    what waits when the clock is inside the window, not outside. On SQLite nothing waits."""
    from app.core.context import AppContext
    from app.jobs import JOBS, Jobs
    from app.retention.purge import purge
    from tests.support import make_settings

    ctx = client.app.state.ctx
    rid = file_request(client)["id"]
    act(client, staff["cpo"]["headers"], rid, "verify", {"outcome": "rejected", "method": "x"})
    clock.advance(days=1096)
    assert purge(ctx.db, ctx).requests == 1
    waiting = scrub.pending(ctx.db)
    assert bool(waiting) != ctx.db.is_sqlite

    [job] = [j for j in JOBS if j.name == "scrub"]
    # T0 + 1096 days, in Seoul: a window of the hour after it and one of the hour before.
    from app.law.deadlines import SEOUL

    hour = clock.now().astimezone(SEOUL).hour
    inside = f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"
    outside = f"{(hour + 1) % 24:02d}:00-{(hour + 2) % 24:02d}:00"
    for window, rewritten in (("", False), (outside, False), (inside, True)):
        worker = AppContext.build(make_settings(database_url, tmp_path, scrub_window=window), clock)
        try:
            Jobs(worker, sender=None, jobs=(job,)).run_due()
        finally:
            worker.db.dispose()
        assert scrub.pending(ctx.db) == ([] if rewritten or ctx.db.is_sqlite else waiting)


def test_a_malformed_window_is_refused(database_url, tmp_path):
    from tests.support import make_settings

    for bad in ("3-4", "03:00-03:00", "25:00-01:00", "03:00"):
        with pytest.raises(ValueError, match="HH:MM-HH:MM"):
            make_settings(database_url, tmp_path, scrub_window=bad)


def test_a_transaction_older_than_the_destruction_holds_the_rewrite_back(
    client, staff, database_url, clock
):
    """VACUUM FULL keeps a dead row a running transaction may still see: with a snapshot
    older than the purge open, nothing is rewritten (all stays pending); once it ends, all is."""
    ctx = client.app.state.ctx
    if ctx.db.is_sqlite:
        _nothing_waits_on_sqlite(client, staff, clock)
        return
    from app.retention.purge import TOUCHED, purge

    rid = file_request(client)["id"]
    act(client, staff["cpo"]["headers"], rid, "verify", {"outcome": "rejected", "method": "x"})
    clock.advance(days=1096)
    old = create_engine(database_url, isolation_level="REPEATABLE READ")
    try:
        with old.connect() as conn:
            conn.execute(text("SELECT count(*) FROM staff_user"))  # a snapshot, on no touched table
            assert purge(ctx.db, ctx).requests == 1
            held = scrub.rewrite(ctx.db, lock_timeout=0.2)
            assert held.rewritten == [] and held.skipped == sorted(TOUCHED)
            conn.rollback()
        done = scrub.rewrite(ctx.db, lock_timeout=0.2)
        assert done.rewritten == sorted(TOUCHED) and scrub.pending(ctx.db) == []
    finally:
        old.dispose()
