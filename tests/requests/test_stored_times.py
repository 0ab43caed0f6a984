"""The instants a filing stores: every row of a filing carries its own moment, on both engines.

The hot path binds datetimes on the driver with a shared conversion of the last value
(core/prepared.py); these filings, a minute apart, must not borrow each other's moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from tests.support import request_body

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # the suite's clock: 10:00 in Seoul


def _as_utc(value) -> datetime:
    if isinstance(value, str):  # SQLite keeps text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _times(database_url: str, request_id: str) -> dict[str, set[datetime]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            found: dict[str, set[datetime]] = {}
            queries = {
                "request": "SELECT received_at, created_at, updated_at FROM request WHERE id = :id",
                "timeline": "SELECT at FROM timeline_event WHERE request_id = :id",
                "audit": "SELECT at FROM audit_entry WHERE request_id = :id",
                "outbox": "SELECT created_at FROM outbox_message WHERE request_id = :id",
                "code": "SELECT created_at FROM verification_code WHERE request_id = :id",
            }
            for name, sql in queries.items():
                rows = conn.execute(text(sql), {"id": request_id}).all()
                assert rows, name
                found[name] = {_as_utc(v) for row in rows for v in row}
            return found
    finally:
        engine.dispose()


def test_each_filing_stores_its_own_moment(client, clock, database_url):
    assert clock.now() == T0
    filings = []
    for minute in range(3):
        body = request_body(subject={"name": "홍길동", "email": f"moment{minute}@example.com"})
        response = client.post("/v1/requests", json=body)
        assert response.status_code == 201, response.text
        filings.append((response.json()["id"], clock.now()))
        clock.advance(minutes=1, microseconds=7)

    for request_id, at in filings:
        for table, moments in _times(database_url, request_id).items():
            assert moments == {at}, (table, moments, at)
    assert filings[2][1] - filings[0][1] == timedelta(minutes=2, microseconds=14)
