"""The hourly count per address runs under the address's own lock (requests/locks.py
`lock_filers`), not under a lock every filing shares. A group writer's batch takes the
addresses of its filings one after another, so it may wait only for its first ones: waiting
for another address while holding some could deadlock with another worker's batch."""

from __future__ import annotations

from collections import Counter

import pytest

from app.core.db import Database
from app.requests.locks import FilerBusy, lock_filers
from tests.support import sql_rows


def test_a_batch_never_waits_for_an_address_while_holding_others(app, database_url):
    db = Database(database_url)
    if database_url.startswith("sqlite"):
        # SQLite's write transaction is alone: there is nothing to wait for, and nothing is
        # taken (a batch may name any address, any number of times).
        try:
            with db.session() as a:
                lock_filers(a, ["bidx-x"])
                lock_filers(a, ["bidx-y", "bidx-x"])
                assert "filer_locks" not in a.info
        finally:
            db.dispose()
        return

    try:
        with db.session() as a, db.session() as b:
            lock_filers(a, ["bidx-x"])  # a batch's first filing: waited for
            lock_filers(b, ["bidx-y"])  # another worker's batch
            with pytest.raises(FilerBusy):
                lock_filers(a, ["bidx-y"])  # the next filing of a's batch: only tried
            lock_filers(a, ["bidx-x"])  # held already: nothing to take
            b.rollback()  # the other batch ends
            lock_filers(a, ["bidx-y"])
            a.rollback()
            # A new transaction holds nothing: its first addresses are waited for again.
            lock_filers(b, ["bidx-x", "bidx-y"])
            b.rollback()
    finally:
        db.dispose()


def test_one_batch_counts_its_own_filings_for_an_address(client, settings, database_url, race):
    """A batch checks all of its filings before it stores any (their second steps come last):
    the count of the next filing for an address includes the ones checked before it."""
    limit = settings.intake_max_per_email_per_hour
    body = {"type": "access", "subject": {"name": "김철수", "email": "burst@example.com"}}
    for _ in range(limit - 1):
        assert client.post("/v1/requests", json=body).status_code == 201
    responses = race(12, lambda _: client.post("/v1/requests", json=body))
    assert Counter(r.status_code for r in responses) == {201: 1, 429: 11}
    [(filed,)] = sql_rows(database_url, "SELECT count(*) FROM request")
    assert filed == limit
