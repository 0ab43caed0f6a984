"""`rightsdesk scrub` gives way to a running service: a table whose lock does not come within
the timeout (a transaction reads it) is left pending, not waited for; the others are
rewritten. PostgreSQL only (on SQLite nothing is ever pending: test_purge_on_disk)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app.retention import scrub
from tests.support import act, file_request


def test_a_table_in_use_is_left_pending(client, staff, database_url, clock):
    ctx = client.app.state.ctx
    if ctx.db.is_sqlite:
        pytest.skip("PostgreSQL's rewrite; SQLite has none to wait for")
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
