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
from tests.support import T0, file_request, sql_rows, verified


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
    # One entry per filing, and one for each filing linked as a duplicate of an earlier open
    # one of the same subject and right (requests/duplicates.py): the five later ones, when
    # each filing sees the ones committed before it.
    linked = sql_rows(database_url, "SELECT count(*) FROM request WHERE duplicate_of IS NOT NULL")
    assert result.ok and result.checked == 6 + linked[0][0]
    refs = sorted(file_request(client)["reference"] for _ in range(1))
    assert refs == ["RD-2026-000007"]


# The check hashes what is stored: `detail` as canonical text (new entries), `at` as text.
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from app.audit.chain import canonical, hash_fields  # noqa: E402

_text = st.text(max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@given(
    seq=st.integers(min_value=1, max_value=2**62),
    at=st.datetimes(timezones=st.just(__import__("datetime").UTC)),
    actor=_text,
    action=_text,
    request_id=st.none() | _text,
    ip=st.none() | _text,
    detail=st.dictionaries(_text, _json, max_size=4),
)
def test_the_fast_hash_is_the_definition(seq, at, actor, action, request_id, ip, detail):
    """Pure: the field-by-field text (what append writes and verify hashes) is exactly the
    definition's json.dumps of a dict, for any text (quotes, backslashes, Korean, controls)."""
    fields = dict(seq=seq, at=at, actor=actor, action=action, request_id=request_id, ip=ip)
    expected = entry_hash(GENESIS, **fields, detail=detail)
    got = hash_fields(
        GENESIS, seq, at.isoformat(), actor, action, request_id, ip, canonical(detail)
    )
    assert got == expected


def _legacy_entries(database_url, n=4):
    """Entries as written before `detail` was stored canonical: the JSON column's own dump
    (spaces, ASCII escapes, keys unsorted)."""
    db = Database(database_url)
    try:
        with db.transaction() as session:
            conn, prev = session.connection(), GENESIS
            for seq in range(1, n + 1):
                fields = dict(
                    seq=seq,
                    at=T0 + timedelta(seconds=seq),
                    actor="staff:usr_1",
                    action="view",
                    request_id=None if seq % 2 else f"req_{seq}",
                    ip="203.0.113.7",
                    detail={"z": "홍길동", "a": [1, {"y": None, "b": 'x"y'}]},
                )
                digest = entry_hash(prev, **fields)
                conn.execute(
                    AuditEntry.__table__.insert(), {**fields, "prev_hash": prev, "hash": digest}
                )
                prev = digest
            conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": n, "h": prev})
    finally:
        db.dispose()


def test_entries_written_before_the_canonical_detail_still_verify(app, database_url):
    _legacy_entries(database_url)
    stored = _one(database_url, "SELECT CAST(detail AS TEXT) FROM audit_entry WHERE seq = 1")
    assert stored != canonical({"z": "홍길동", "a": [1, {"y": None, "b": 'x"y'}]})
    # New entries follow them, canonical.
    db = Database(database_url)
    with db.transaction() as session:
        audit.append(session, at=T0, actor="system", action="view", detail={"b": 1, "a": "한"})
    db.dispose()
    stored = _one(database_url, "SELECT CAST(detail AS TEXT) FROM audit_entry WHERE seq = 5")
    assert stored == '{"a":"한","b":1}'
    result = _check(database_url)
    assert (result.ok, result.checked) == (True, 5), result


def test_a_changed_legacy_entry_is_found(app, database_url):
    _legacy_entries(database_url)
    _sql(database_url, 'UPDATE audit_entry SET detail = \'{"z": "mallory"}\' WHERE seq = 3')
    result = _check(database_url)
    assert (result.ok, result.first_bad, result.problem) == (False, 3, "content changed")


def test_an_at_stored_in_another_shape_is_checked_through_the_column_type(app, database_url):
    """An `at` written another way is read the way the column type reads it: the same instant
    verifies, another instant does not. SQLite keeps text, so the shape is one the fast path
    does not recognise (no microseconds); PostgreSQL keeps timestamptz, so it is the instant
    written in Seoul time."""
    _legacy_entries(database_url)
    same, other = (
        ("2026-12-01 01:00:02", "2026-12-01 01:00:09")
        if database_url.startswith("sqlite")
        else ("2026-12-01 10:00:02+09", "2026-12-01 10:00:09+09")
    )
    _sql(database_url, f"UPDATE audit_entry SET at = '{same}' WHERE seq = 2")
    assert _check(database_url).ok
    _sql(database_url, f"UPDATE audit_entry SET at = '{other}' WHERE seq = 2")
    result = _check(database_url)
    assert (result.ok, result.first_bad, result.problem) == (False, 2, "content changed")


def test_progress_is_reported_per_page(app, database_url):
    _legacy_entries(database_url, n=7)
    seen: list[tuple[int, int]] = []
    db = Database(database_url)
    try:
        with db.transaction(write=False) as session:
            result = audit.verify(session, batch=3, progress=lambda c, t: seen.append((c, t)))
    finally:
        db.dispose()
    assert result.ok and seen == [(3, 7), (6, 7), (7, 7)]


def _one(database_url, statement):
    db = Database(database_url)
    try:
        with db.transaction(write=False) as session:
            return session.connection().execute(text(statement)).scalar_one()
    finally:
        db.dispose()


def test_an_open_transaction_does_not_hold_the_head_until_it_commits(app, database_url):
    """Entries are chained at commit: a transaction that has appended and is still working
    (a verification running its transition's side effects, say) keeps no other writer of the
    record waiting. Before, the head was locked at the first entry and held to the end: on
    PostgreSQL the verifications of a soak spent 56 % of their time waiting for it."""
    db = Database(database_url)
    try:
        if db.is_sqlite:
            return  # one writer at a time holds the whole file: there is no head to wait for
        slow = db.session()
        audit.append(slow, at=T0, actor="system", action="view", detail={"n": 1})
        slow.flush()
        try:
            with db.session() as other:
                # Waiting for the head would fail here, not hang.
                other.connection().exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                audit.append(other, at=T0, actor="system", action="view", detail={"n": 2})
                other.commit()
            audit.append(slow, at=T0, actor="system", action="view", detail={"n": 3})
            slow.commit()
        finally:
            slow.close()
        rows = sql_rows(database_url, "SELECT seq, detail FROM audit_entry ORDER BY seq")
        # Chained in commit order, each transaction's own entries in the order it appended.
        assert [r.seq for r in rows] == [1, 2, 3]
        assert [r.detail["n"] for r in rows] == [2, 1, 3]
        assert _check(database_url).ok
    finally:
        db.dispose()
