"""The access record: appended by every change, verifiable, tamper-evident, never forked."""

from __future__ import annotations

import threading

from sqlalchemy import text

from app.audit import service as audit
from app.core.db import Database
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
