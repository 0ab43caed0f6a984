"""Purges racing each other (the CLI beside workers, several workers on PostgreSQL): every due
request is purged exactly once, with one `purged` event and one access-record entry, and the
chain still verifies. Real threads, each purge on its own connection; on PostgreSQL they truly
overlap, on SQLite they queue on the write lock."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import create_engine, text

from app.audit.service import verify
from app.retention.purge import purge
from tests.concurrency.conftest import race
from tests.support import file_request

RACERS = 6
REQUESTS = 24


def _filed(client, n: int) -> list[str]:
    return [
        file_request(client, subject={"name": "홍길동", "email": f"hong{i}@example.com"})["id"]
        for i in range(n)
    ]


def _close_all(app, ids: list[str]) -> None:
    """Close them the quickest way: rejected (identity never confirmed)."""
    from app.core.actors import SYSTEM
    from app.requests import lifecycle
    from app.requests.locks import lock_request

    ctx = app.state.ctx
    with ctx.db.transaction() as session:
        for rid in ids:
            request = lock_request(session, rid)
            lifecycle.transition(
                session, request, lifecycle.Action.reject, actor=SYSTEM, at=ctx.clock.now()
            )


def _counts(database_url: str, sql: str) -> Counter:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return Counter(dict(conn.execute(text(sql)).all()))
    finally:
        engine.dispose()


def test_parallel_purges_purge_each_request_once(app, client, clock, database_url):
    ids = _filed(client, REQUESTS)
    _close_all(app, ids)
    clock.advance(days=1096)
    ctx = app.state.ctx

    # Small batches, so the racers interleave batch by batch over the same requests.
    reports = race(RACERS, lambda _: purge(ctx.db, ctx, batch_size=4))

    assert sum(r.requests for r in reports) == REQUESTS, [r.requests for r in reports]
    entries = _counts(
        database_url,
        "SELECT request_id, count(*) FROM audit_entry WHERE action = 'purge' GROUP BY request_id",
    )
    events = _counts(
        database_url,
        "SELECT request_id, count(*) FROM timeline_event WHERE kind = 'purged' GROUP BY request_id",
    )
    assert entries == Counter(dict.fromkeys(ids, 1)), entries
    assert events == Counter(dict.fromkeys(ids, 1)), events
    with ctx.db.transaction(write=False) as session:
        assert verify(session).ok
