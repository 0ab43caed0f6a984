"""The access record: appended by every change, verifiable, tamper-evident, never forked."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from app.audit import service as audit
from app.audit.chain import GENESIS, entry_hash
from app.core.db import Database
from app.models import AuditEntry
from tests.support import T0, file_request, verified


def _check(database_url):
    db = Database(database_url)
    try:
        with db.transaction(write=False) as session:
            return audit.verify(session)
    finally:
        db.dispose()


def _sql(database_url, statement, **params):
    db = Database(database_url)
    try:
        with db.transaction() as session:
            session.connection().execute(text(statement), params)
    finally:
        db.dispose()


def test_changes_are_recorded_and_the_chain_verifies(client, outbox_dir, database_url):
    created, _ = verified(client, outbox_dir)
    result = _check(database_url)
    assert result.ok
    # received (with its code), verified
    assert result.checked == 2
    db = Database(database_url)
    with db.transaction(write=False) as session:
        rows = (
            session.connection()
            .execute(text("SELECT actor, action, request_id FROM audit_entry ORDER BY seq"))
            .all()
        )
    db.dispose()
    assert [r.action for r in rows] == ["create", "change"]
    assert all(r.request_id == created["id"] for r in rows)
    assert rows[-1].actor == f"subject:{created['id']}"


def _three_entries(client, outbox_dir):
    """Filed (1), verified (2), withdrawn (3)."""
    created, token = verified(client, outbox_dir)
    assert client.post(f"/v1/requests/{created['id']}/withdraw", headers=token).status_code == 200


def test_a_changed_entry_is_found(client, outbox_dir, database_url):
    _three_entries(client, outbox_dir)
    _sql(database_url, "UPDATE audit_entry SET actor = 'staff:mallory' WHERE seq = 2")
    result = _check(database_url)
    assert (result.ok, result.first_bad, result.problem) == (False, 2, "content changed")


# Every field the hash covers, and a value no real entry 2 has.
HASHED = {
    "seq": 7,
    "at": T0 + timedelta(seconds=1),
    "actor": "staff:mallory",
    "action": "delete",
    "request_id": "req_someone_else",
    "ip": "10.9.9.9",
    "detail": {"forged": True},
    "prev_hash": "1" * 64,
}


@pytest.mark.parametrize("field", sorted(HASHED))
def test_every_hashed_field_is_covered(field):
    """Pure: changing any one input changes the hash, so none can be left out of it."""
    entry = dict(seq=2, at=T0, actor="system", action="create", request_id=None, ip=None, detail={})
    base = entry_hash(GENESIS, **entry)
    if field == "prev_hash":
        assert entry_hash(HASHED[field], **entry) != base
    else:
        assert entry_hash(GENESIS, **{**entry, field: HASHED[field]}) != base


@pytest.mark.parametrize("field", sorted(HASHED))
def test_a_change_to_any_hashed_field_is_found(client, outbox_dir, database_url, field):
    _three_entries(client, outbox_dir)
    db = Database(database_url)
    try:
        with db.transaction() as session:
            table = AuditEntry.__table__
            session.connection().execute(
                update(table).where(table.c.seq == 2).values({field: HASHED[field]})
            )
    finally:
        db.dispose()
    result = _check(database_url)
    expected = {"seq": "missing entry", "prev_hash": "broken link"}.get(field, "content changed")
    assert (result.ok, result.first_bad, result.problem) == (False, 2, expected)


def test_a_rewritten_entry_is_found_at_the_next_link(client, outbox_dir, database_url):
    """A forger who rehashes the entry they changed and relinks the next one: the next entry's
    own hash covers the link, so it no longer matches."""
    _three_entries(client, outbox_dir)
    table = AuditEntry.__table__
    db = Database(database_url)
    try:
        with db.transaction() as session:
            conn = session.connection()
            row = conn.execute(table.select().where(table.c.seq == 2)).one()
            fields = {k: getattr(row, k) for k in ("seq", "at", "action", "request_id", "ip")}
            forged = entry_hash(row.prev_hash, **fields, actor="staff:mallory", detail=row.detail)
            conn.execute(
                update(table).where(table.c.seq == 2).values(actor="staff:mallory", hash=forged)
            )
            conn.execute(update(table).where(table.c.seq == 3).values(prev_hash=forged))
    finally:
        db.dispose()
    result = _check(database_url)
    assert (result.ok, result.first_bad, result.problem) == (False, 3, "content changed")


def test_an_entry_slipped_in_past_the_head_is_found(client, outbox_dir, database_url):
    """Well formed and linked to the last entry, but the head never moved to cover it."""
    _three_entries(client, outbox_dir)
    db = Database(database_url)
    try:
        with db.transaction() as session:
            last = session.connection().execute(text("SELECT hash FROM audit_entry WHERE seq = 3"))
            prev = last.scalar_one()
            fields = dict(
                seq=4, at=T0, actor="system", action="view", request_id=None, ip=None, detail={}
            )
            session.connection().execute(
                AuditEntry.__table__.insert(),
                {**fields, "prev_hash": prev, "hash": entry_hash(prev, **fields)},
            )
    finally:
        db.dispose()
    result = _check(database_url)
    assert (result.ok, result.checked, result.first_bad) == (False, 3, 4)
    assert result.problem == "entries beyond the head"


def test_a_deleted_entry_is_found(client, outbox_dir, database_url):
    _three_entries(client, outbox_dir)
    _sql(database_url, "DELETE FROM audit_entry WHERE seq = 2")
    result = _check(database_url)
    assert (result.ok, result.first_bad) == (False, 2)


def test_a_cut_tail_is_found(client, outbox_dir, database_url):
    _three_entries(client, outbox_dir)
    _sql(database_url, "DELETE FROM audit_entry WHERE seq = 3")
    result = _check(database_url)
    assert (result.ok, result.first_bad) == (False, 3)


def test_reordered_entries_are_found(client, outbox_dir, database_url):
    _three_entries(client, outbox_dir)
    # Swap the contents of entries 1 and 2 (keeping their places), as a forger reordering would.
    _sql(database_url, "UPDATE audit_entry SET seq = 100 WHERE seq = 1")
    _sql(database_url, "UPDATE audit_entry SET seq = 1 WHERE seq = 2")
    _sql(database_url, "UPDATE audit_entry SET seq = 2 WHERE seq = 100")
    result = _check(database_url)
    assert not result.ok and result.first_bad == 1


def test_parallel_writers_do_not_fork_the_chain(app, database_url):
    """Eight threads, each appending in its own transactions, on the real database."""
    db = Database(database_url)
    per_thread, threads = 15, 8
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(per_thread):
                with db.transaction() as session:
                    audit.append(
                        session, at=T0, actor=f"staff:w{n}", action="view", detail={"i": i}
                    )
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    db.dispose()
    assert errors == []
    result = _check(database_url)
    assert result.ok, result
    assert result.checked == per_thread * threads


def test_requests_filed_in_parallel_keep_one_chain(client, database_url):
    results: list[int] = []

    def file() -> None:
        results.append(
            client.post(
                "/v1/requests",
                json={
                    "type": "deletion",
                    "subject": {"name": "이영희", "email": "lee@example.com"},
                },
            ).status_code
        )

    pool = [threading.Thread(target=file) for _ in range(6)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert results == [201] * 6
    result = _check(database_url)
    assert result.ok and result.checked == 6
    refs = sorted(file_request(client)["reference"] for _ in range(1))
    assert refs == ["RD-2026-000007"]
