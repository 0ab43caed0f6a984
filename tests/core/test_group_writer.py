"""Group commit: many filings, one transaction; a failing unit never sinks its neighbours."""

from __future__ import annotations

import threading

from sqlalchemy import text

from app.core.db import Database
from app.core.group_writer import GroupWriter
from tests.support import count_rows, request_body


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
