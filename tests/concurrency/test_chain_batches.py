"""The access record when filings append at their batch's commit (core/db.py `BATCH`): the
group writers of several API workers commit batches at once, and the chain must neither fork
nor lose an entry. Each writer here has its own engine, as each worker process has."""

from __future__ import annotations

import json
import threading

from sqlalchemy import text

from app.audit import service as audit
from app.core.db import Database
from app.core.group_writer import GroupWriter, Later
from tests.support import T0

WRITERS, UNITS = 4, 40


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _check(database_url):
    db = Database(database_url)
    try:
        with db.transaction(write=False) as session:
            result = audit.verify(session)
            rows = session.connection().execute(
                text("SELECT seq, actor, detail FROM audit_entry ORDER BY seq")
            )
            # `detail` is stored as the canonical JSON text the hash covers.
            return result, [(r.seq, r.actor, _json(r.detail)) for r in rows]
    finally:
        db.dispose()


def _unit(writer: int, i: int, *, fail: bool = False):
    def work(session):
        audit.append(session, at=T0, actor=f"staff:w{writer}", action="view", detail={"i": i})

        def finish():
            audit.append(
                session, at=T0, actor=f"staff:w{writer}", action="view", detail={"i": i, "n": 2}
            )
            if fail:
                raise RuntimeError("boom")
            return i

        return Later(finish)

    return work


def test_batches_of_several_writers_keep_one_chain(app, database_url):
    databases = [Database(database_url) for _ in range(WRITERS)]
    writers = [GroupWriter(db, max_batch=8) for db in databases]
    start = threading.Barrier(WRITERS)
    futures: list = [None] * WRITERS

    def submit(w: int) -> None:
        start.wait(10)
        # One unit in nine fails in its second step: its batch rolls back and its units run
        # again alone, so rolled-back batches are mixed with committed ones.
        futures[w] = [writers[w].submit(_unit(w, i, fail=(i % 9 == 4))) for i in range(UNITS)]

    threads = [threading.Thread(target=submit, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    outcomes = []
    for w in range(WRITERS):
        for i, future in enumerate(futures[w]):
            try:
                outcomes.append((w, i, future.result(60)))
            except RuntimeError:
                outcomes.append((w, i, "failed"))
    for writer in writers:
        writer.stop()
    for db in databases:
        db.dispose()

    assert all((r == "failed") == (i % 9 == 4) for _, i, r in outcomes), outcomes
    result, rows = _check(database_url)
    assert result.ok, result
    done = [(w, i) for w, i, r in outcomes if r != "failed"]
    # Nothing acknowledged is lost, nothing rolled back is kept, nothing is written twice.
    assert result.checked == len(rows) == 2 * len(done)
    assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
    entries = sorted((actor, d["i"], d.get("n", 1)) for _, actor, d in rows)
    assert entries == sorted((f"staff:w{w}", i, n) for w, i in done for n in (1, 2))
    # Each unit's two entries are in its own order (a batch appends all in one go, at commit).
    position = {(actor, d["i"], d.get("n", 1)): seq for seq, actor, d in rows}
    assert all(position[(f"staff:w{w}", i, 1)] < position[(f"staff:w{w}", i, 2)] for w, i in done)
