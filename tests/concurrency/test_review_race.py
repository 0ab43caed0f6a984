"""Parallel monthly reviews and exports (issue 11, item 4).

N reviewers record the same month at the same moment: exactly one 201, every other a 409,
never a 500. The unique constraint on `audit_review.month` decides, not a look-up first: on
PostgreSQL the inserts truly overlap, and a loser's insert waits for the winner's commit and
then fails on the constraint, which the service maps to a 409. Without that mapping the
losers were 500s.

Exports while others write: each export holds exactly the rows its download entry records.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import create_engine, text

from tests.support import count_rows, staff_read, verified

REVIEWS = "/v1/staff/audit/reviews"


def test_parallel_reviews_of_one_month(app, client, staff, race, database_url):
    from tests.audit.test_review import record_since_october

    record_since_october(app)  # November is after the record began (issue 21.11)
    people = [staff["cpo"]["headers"], staff["auditor"]["headers"]]

    def review(i: int):
        r = client.post(REVIEWS, headers=people[i % 2], json={"month": "2026-11", "note": f"#{i}"})
        return r.status_code, r.json()

    results = race(12, review)
    codes = Counter(code for code, _ in results)
    assert codes == {201: 1, 409: 11}, results
    assert all(body["type"] == "/problems/conflict" for code, body in results if code == 409)
    assert count_rows(database_url, "audit_review") == 1
    # One review entry in the access record, and the chain still whole.
    engine = create_engine(database_url)
    with engine.connect() as conn:
        reviews = conn.execute(
            text("SELECT count(*) FROM audit_entry WHERE action = 'review'")
        ).scalar_one()
    engine.dispose()
    assert reviews == 1
    assert client.get("/v1/staff/audit/verify", headers=people[0]).json()["ok"] is True


def test_exports_are_exact_while_others_write(client, staff, race, outbox_dir):
    created, _ = verified(client, outbox_dir)
    auditor, handler = staff["auditor"]["headers"], staff["handler"]["headers"]

    def work(i: int):
        if i % 2:
            staff_read(client, handler, created["id"])
            return None
        r = client.get(
            "/v1/staff/audit/export",
            headers=auditor,
            params={"month": "2026-12", "format": "json", "reason": f"race {i}"},
        )
        assert r.status_code == 200, r.text
        return r.json()

    exports = [doc for doc in race(12, work) if doc is not None]
    assert len(exports) == 6
    downloads = {
        e["detail"]["reason"]: e["detail"]["rows"]
        for e in client.get(
            "/v1/staff/audit", headers=auditor, params={"action": "download", "limit": 500}
        ).json()["items"]
    }
    for doc in exports:
        seqs = [e["seq"] for e in doc["entries"]]
        assert doc["rows"] == len(seqs) and seqs == sorted(seqs)
        # The record grew under the exports, but each holds a gap-free prefix of the chain.
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert sorted(downloads.values()) == sorted(doc["rows"] for doc in exports)
    assert client.get("/v1/staff/audit/verify", headers=auditor).json()["ok"] is True
