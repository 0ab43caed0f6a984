"""Group commit: many filings, one transaction; a failing unit never sinks its neighbours."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import text

from app.core.db import Database, after_commit
from app.core.group_writer import GroupWriter
from tests.support import count_rows, request_body, sql_rows


def test_concurrent_filings_with_one_bad_apple(client, database_url):
    statuses: dict[int, int] = {}

    def file(i: int) -> None:
        body = request_body(subject={"name": f"사람{i}", "email": f"p{i}@example.com"})
        if i == 3:
            body["scope"] = {"categories": ["no_such_category"]}
        statuses[i] = client.post("/v1/requests", json=body).status_code

    threads = [threading.Thread(target=file, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.pop(3) == 422
    assert set(statuses.values()) == {201}
    assert count_rows(database_url, "request") == 11


def test_a_unit_that_fails_after_writing_leaves_nothing(app, database_url):
    db = Database(database_url)
    writer = GroupWriter(db, max_batch=8)
    barrier = threading.Event()

    def insert(n: int, fail: bool = False):
        def work(session):
            barrier.wait(5)
            session.connection().execute(
                text("INSERT INTO reference_counter (year, last) VALUES (:y, 0)"), {"y": n}
            )
            if fail:
                raise RuntimeError("boom")
            return n

        return work

    futures = [writer.submit(insert(n, fail=(n == 2003))) for n in range(2000, 2006)]
    barrier.set()
    results = []
    for f in futures:
        try:
            results.append(f.result(10))
        except RuntimeError:
            results.append("failed")
    writer.stop()
    assert results == [2000, 2001, 2002, "failed", 2004, 2005]
    with db.transaction(write=False) as session:
        years = (
            session.connection()
            .execute(text("SELECT year FROM reference_counter ORDER BY year"))
            .scalars()
            .all()
        )
    db.dispose()
    assert years == [2000, 2001, 2002, 2004, 2005]


def _years(db: Database) -> list[int]:
    with db.transaction(write=False) as session:
        rows = session.connection().execute(text("SELECT year FROM reference_counter ORDER BY 1"))
        return list(rows.scalars())


def _unit(year: int, *, gate=None, started=None, callback=None):
    def work(session):
        if started is not None:
            started.set()
        if gate is not None:
            assert gate.wait(5)
        session.connection().execute(
            text("INSERT INTO reference_counter (year, last) VALUES (:y, 0)"), {"y": year}
        )
        if callback is not None:
            after_commit(session, callback)
        return year

    return work


def test_a_cancelled_waiter_does_not_stop_the_writer(app, database_url):
    """A caller that goes away (a dropped connection cancels its future) costs nobody else."""
    db = Database(database_url)
    writer = GroupWriter(db)
    gate, started = threading.Event(), threading.Event()
    try:
        running = writer.submit(_unit(3001, gate=gate, started=started))
        assert started.wait(5)
        queued = writer.submit(_unit(3002))
        running.cancel()
        queued.cancel()
        gate.set()
        assert writer.submit(_unit(3003)).result(5) == 3003
        assert writer.alive
        # The unit already under way commits; the one not yet begun is never run.
        assert _years(db) == [3001, 3003]
    finally:
        gate.set()
        writer.stop()
        db.dispose()


def test_a_failing_after_commit_callback_neither_reruns_nor_fails_units(app, database_url, caplog):
    db = Database(database_url)
    writer = GroupWriter(db)
    gate, started = threading.Event(), threading.Event()
    email = "hong.gildong@example.com"
    calls: list[int] = []

    def kick() -> None:
        calls.append(1)
        raise RuntimeError(f"could not reach {email}")

    caplog.set_level(logging.INFO)
    try:
        first = writer.submit(_unit(3001, gate=gate, started=started, callback=kick))
        assert started.wait(5)
        # Queued behind the first, these four go in one batch (one transaction, one commit).
        group = [writer.submit(_unit(y, callback=kick)) for y in range(3002, 3006)]
        gate.set()
        assert [f.result(5) for f in (first, *group)] == [3001, 3002, 3003, 3004, 3005]
        assert writer.submit(_unit(3006)).result(5) == 3006
        assert writer.alive
    finally:
        gate.set()
        writer.stop()
    assert _years(db) == [3001, 3002, 3003, 3004, 3005, 3006]  # each once
    db.dispose()
    assert len(calls) == 2  # once per commit
    assert "RuntimeError" in caplog.text and email not in caplog.text


def test_a_dead_writer_fails_its_callers_instead_of_leaving_them_waiting(app, database_url):
    """Only an exit signal (SystemExit, KeyboardInterrupt) ends the writer thread."""
    db = Database(database_url)
    writer = GroupWriter(db)

    def fatal(session):
        raise SystemExit(1)

    try:
        assert writer.submit(_unit(3001)).result(5) == 3001
        dying = writer.submit(fatal)
        try:
            dying.result(5)
        except Exception as exc:  # a Problem (503), never the SystemExit itself
            assert getattr(exc, "status", None) == 503
        else:
            raise AssertionError("the unit that stopped the writer did not fail")
        assert not writer.alive
        later = writer.submit(_unit(3002))
        exc = later.exception(5)
        assert getattr(exc, "status", None) == 503
    finally:
        writer.stop()
    assert _years(db) == [3001]
    db.dispose()


def test_an_error_in_a_statement_sent_without_waiting_fails_its_unit(app, database_url):
    """On PostgreSQL a batch sends its INSERTs without waiting for their answers (core/
    prepared.py, pipeline mode): an error among them must still fail its unit before any
    answer, and only its unit (the batch reruns its units alone)."""
    from sqlalchemy import insert

    from app.models import ReferenceCounter

    statement = insert(ReferenceCounter.__table__)
    db = Database(database_url)
    writer = GroupWriter(db, max_batch=8)

    def unit(year: int):
        def work(session):
            session.connection().execute(statement, {"year": year, "last": 0})
            return year

        return work

    # Seen once first: the prepared path compiles a statement from its second use.
    for year in (1900, 1901):
        assert writer.submit(unit(year)).result(10) == year
    # 1901: taken
    outcomes = _one_batch(writer, [unit(year) for year in (1902, 1903, 1901, 1904)])
    writer.stop()
    db.dispose()
    assert outcomes == [1902, 1903, "IntegrityError", 1904]
    assert count_rows(database_url, "reference_counter") >= 5


def test_a_statement_whose_rows_are_read_later_fails_its_unit_read_or_not(app, database_url):
    """On PostgreSQL a batch's statements that return rows are pipelined too, their rows
    fetched when first read (core/prepared.py): the rows are the statement's own, and an error
    fails its unit (only its unit) whether the unit read the answer or never did."""
    from sqlalchemy import insert

    from app.models import ReferenceCounter

    table = ReferenceCounter.__table__
    statement = insert(table).returning(table.c.last)
    db = Database(database_url)
    writer = GroupWriter(db, max_batch=8)

    def unit(year: int, *, read: bool):
        def work(session):
            result = session.connection().execute(statement, {"year": year, "last": year - 1900})
            return result.scalar_one() if read else year

        return work

    # Seen once first: the prepared path compiles a statement from its second use.
    assert writer.submit(unit(1910, read=True)).result(10) == 10
    outcomes = _one_batch(
        writer,
        [
            unit(year, read=read)
            for year, read in [
                (1911, True),
                (1912, False),
                (1910, True),
                (1910, False),
                (1913, True),
            ]
        ],
    )
    writer.stop()
    db.dispose()
    assert outcomes == [11, 1912, "IntegrityError", "IntegrityError", 13]
    assert sql_rows(database_url, "SELECT year, last FROM reference_counter WHERE year > 1900 "
                    "ORDER BY year") == [(1910, 10), (1911, 11), (1912, 12), (1913, 13)]  # fmt: skip


def _one_batch(writer: GroupWriter, units) -> list:
    """Run `units` in one batch of `writer` (queued while a first unit holds the writer), and
    give each one's result, or the name of its exception."""
    gate = threading.Event()
    futures = [writer.submit(lambda session: gate.wait(5))]
    futures += [writer.submit(unit) for unit in units]
    gate.set()
    outcomes = []
    for future in futures[1:]:
        try:
            outcomes.append(future.result(10))
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    return outcomes
