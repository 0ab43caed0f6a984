"""`rightsdesk keys rotate`: every sealed value moves to the newest key, in resumable batches,
and everything still reads through the API once the old key is gone from the ring."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlmodel import SQLModel

from app.audit.service import verify
from app.core.crypto import KeyRing
from app.core.db import Database
from app.main import create_app
from app.maintenance.keys import Rotation, census, remaining
from app.maintenance.sealed import NOT_RING_SEALED, SEALED
from app.notifications.outbox import drain
from app.notifications.senders import FileSender
from tests.maintenance.conftest import (
    NEW_RING,
    ONLY_NEW,
    fill,
    settings_with,
    values_with_prefix,
)
from tests.support import read_outbox, relogin, rightsdesk, staff_read


def test_the_registry_names_every_sealed_column():
    """A new `*_enc` column must be registered (or excused with a reason)."""
    in_schema = {
        f"{t.name}.{c.name}"
        for t in SQLModel.metadata.sorted_tables
        for c in t.columns
        if c.name.endswith("_enc")
    }
    registered = {s.name for s in SEALED}
    assert len(registered) == len(SEALED), "a column is registered twice"
    assert in_schema - set(NOT_RING_SEALED) == registered
    assert set(NOT_RING_SEALED) <= in_schema
    # Keyset walking needs a string primary key `id` in every registered table.
    for s in SEALED:
        table = SQLModel.metadata.tables[s.table]
        assert [c.name for c in table.primary_key.columns] == ["id"]


def _rotate(database_url: str, ring: str, **kw):
    db = Database(database_url)
    try:
        job = Rotation(db, KeyRing(ring))
        job.start()
        return job.run(**kw)
    finally:
        db.dispose()


def _every_value_opens(database_url: str, ring: KeyRing) -> int:
    """Open every registered value with `ring` and its registry AAD; returns how many."""
    engine = create_engine(database_url)
    opened = 0
    try:
        with engine.connect() as conn:
            for s in SEALED:
                t = SQLModel.metadata.tables[s.table]
                for row_id, value in conn.execute(select(t.c.id, t.c[s.column])):
                    if value:
                        ring.decrypt_bytes(value, s.aad(row_id))
                        opened += 1
    finally:
        engine.dispose()
    return opened


def test_rotation_reseals_everything_and_all_reads_without_the_old_key(
    app, client, staff, outbox_dir, database_url, tmp_path, clock
):
    filled = fill(app, client, staff, outbox_dir, database_url, tmp_path)
    # Every registered column holds a value, so none goes untested.
    before = census(app.state.ctx.db)
    empty = [name for name, per_kid in before.items() if not per_kid]
    assert empty == []
    assert set(values_with_prefix(database_url, "v1.t1.")) == {s.name for s in SEALED}

    report = _rotate(database_url, NEW_RING, batch_size=3)
    assert report.finished and report.unreadable == 0 and report.lost == 0
    assert report.changed == sum(sum(per_kid.values()) for per_kid in before.values())

    # Nothing anywhere is left under the old key, and every value opens with the new alone.
    assert values_with_prefix(database_url, "v1.t1.") == {}
    assert remaining(app.state.ctx.db, "t2") == 0
    assert _every_value_opens(database_url, KeyRing(ONLY_NEW)) == report.changed

    # A new app whose ring holds only the new key reads everything through the API.
    fresh = create_app(settings_with(database_url, tmp_path, encryption_keys=ONLY_NEW), clock)
    with TestClient(fresh, raise_server_exceptions=False) as c:
        relogin(c, staff)
        cpo = staff["cpo"]["headers"]
        proxied = staff_read(c, cpo, filled.requests["proxied"])
        text_of = json.dumps(proxied, ensure_ascii=False)
        for plain in (
            "홍길동",
            "이대리",
            "proxy@example.com",
            "010-2222-3333",
            "위임장을 첨부합니다",
        ):
            assert plain in text_of
        doc = c.get(
            f"/v1/staff/requests/{filled.requests['proxied']}/documents/{filled.document}",
            headers=cpo,
            params={"reason": "위임장 진위 확인"},
        )
        assert doc.status_code == 200 and doc.content.startswith(b"%PDF"), doc.text

        access = staff_read(c, cpo, filled.requests["access"])
        text_of = json.dumps(access, ensure_ascii=False)
        for plain in ("열람을 허용합니다.", "응답 없음", "전화로 완료 안내"):
            assert plain in text_of, plain
        # The waived reason has no route that shows it: read through its service.
        from app.models import Task
        from app.workflow.tasks import waived_reason

        with fresh.state.ctx.db.transaction(write=False) as session:
            waived = session.scalars(select(Task).where(Task.waived_reason_enc.is_not(None))).one()
            assert waived_reason(fresh.state.ctx, waived) == "이용 기록 없음"
        result = c.get(
            f"/v1/requests/{filled.requests['access']}/result",
            headers=filled.subject_tokens["access"],
        )
        assert result.status_code == 200 and "홍길동" in result.text, result.text

        correction = json.dumps(
            staff_read(c, cpo, filled.requests["correction"]), ensure_ascii=False
        )
        for plain in ("확인 중입니다", "연기 사유가 부족합니다", "phone"):
            assert plain in correction, plain
        letter = json.dumps(staff_read(c, cpo, filled.requests["letter"]), ensure_ascii=False)
        assert "신분증 확인" in letter and "윤서연" in letter

        reviews = c.get("/v1/staff/audit/reviews", headers=staff["auditor"]["headers"])
        assert reviews.status_code == 200 and "이상 없음" in reviews.text

        # The Idempotency-Key's stored answer is replayed, the external reference read back.
        from tests.support import client_token, integration_file

        headers = client_token(c, filled.integration["creds"])
        again = integration_file(c, headers, filled.integration["key"], external_ref="ZD-1042")
        assert again == filled.integration["body"]
        read = c.get(f"/v1/integrations/requests/{filled.requests['integration']}", headers=headers)
        assert read.status_code == 200 and read.json()["external_ref"] == "ZD-1042", read.text

        ctx = fresh.state.ctx
        # The webhook's secrets open (current and previous), as delivery would sign with them.
        from app.integrations.webhooks import signing_secrets
        from app.models import WebhookEndpoint

        with ctx.db.transaction(write=False) as session:
            endpoint = session.get(WebhookEndpoint, filled.webhook)
            assert len(signing_secrets(ctx, endpoint, clock.now())) == 2
        # The notice that waited in the outbox is delivered with the new key alone.
        waiting = Path(tmp_path / "late")
        report = drain(ctx.db, ctx, FileSender(waiting))
        # Both of the filing's notices (the receipt and the code) waited.
        assert report.sent == len(read_outbox(waiting)) == 2
        assert {m["to"] for m in read_outbox(waiting)} == {"waiting@example.com"}


def test_a_stopped_rotation_resumes_where_it_stopped(
    app, client, staff, outbox_dir, database_url, tmp_path
):
    fill(app, client, staff, outbox_dir, database_url, tmp_path)
    first = _rotate(database_url, NEW_RING, batch_size=2, max_batches=3)
    assert not first.finished and first.batches == 3 and first.done == 6
    engine = create_engine(database_url)
    with engine.connect() as conn:
        job = conn.execute(text("SELECT * FROM maintenance_job")).mappings().one()
    engine.dispose()
    assert job["name"] == "keys.rotate:t2" and job["done"] == 6 and job["finished_at"] is None
    cursor = job["cursor"] if isinstance(job["cursor"], dict) else json.loads(job["cursor"])
    first_table = next(iter(cursor["tables"]))
    assert cursor["tables"][first_table]["after"] is not None
    left = remaining(app.state.ctx.db, "t2")
    assert left > 0

    # Rerun: continues (does not start over) and finishes.
    second = _rotate(database_url, NEW_RING, batch_size=2)
    assert second.finished and second.done == second.total and second.passes == 1
    assert first.changed + second.changed == sum(
        sum(n for k, n in per_kid.items() if k == "t2")
        for per_kid in census(app.state.ctx.db).values()
    )
    assert remaining(app.state.ctx.db, "t2") == 0
    # A finished job with nothing left does nothing more.
    third = _rotate(database_url, NEW_RING, batch_size=2)
    assert third.batches == 0 and third.changed == 0
    # The finished pass is on the access record, once, with counts only; the chain holds.
    engine = create_engine(database_url)
    with engine.connect() as conn:
        entries = conn.execute(
            text("SELECT actor, detail FROM audit_entry WHERE action = 'keys_rotated'")
        ).all()
    engine.dispose()
    assert len(entries) == 1 and entries[0][0] == "system"
    detail = entries[0][1] if isinstance(entries[0][1], dict) else json.loads(entries[0][1])
    assert detail == {
        "job": "keys.rotate:t2",
        "rows": second.total,
        "left_behind": 0,
        "unreadable": 0,
    }
    with app.state.ctx.db.transaction(write=False) as session:
        assert verify(session).ok


def test_a_finished_job_starts_a_new_pass_when_values_are_left_under_an_old_key(
    app, client, staff, outbox_dir, database_url, tmp_path
):
    """A process still on the old ring went on sealing with the old key after the pass."""
    fill(app, client, staff, outbox_dir, database_url, tmp_path)
    assert _rotate(database_url, NEW_RING).finished
    from tests.support import file_request

    file_request(client)  # `client` is the app still on the old ring (t1)
    assert remaining(app.state.ctx.db, "t2") > 0
    again = _rotate(database_url, NEW_RING)
    assert again.passes == 2 and again.finished and again.changed > 0
    assert remaining(app.state.ctx.db, "t2") == 0


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return rightsdesk(env, "keys", *args)


@pytest.fixture
def cli_env(settings, database_url):
    return {
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_VAR_DIR": str(settings.var_dir),
        "RIGHTSDESK_SECRET_KEY": settings.secret_key,
        "RIGHTSDESK_BLIND_INDEX_KEY": settings.blind_index_key,
        "RIGHTSDESK_ENCRYPTION_KEYS": NEW_RING,
    }


def test_the_command_rotates_resumes_and_says_the_old_key_can_go(
    app, client, staff, outbox_dir, database_url, tmp_path, cli_env
):
    fill(app, client, staff, outbox_dir, database_url, tmp_path)
    stopped = _cli(cli_env, "rotate", "--batch-size", "2", "--max-batches", "1")
    assert stopped.returncode == 3, stopped.stderr
    assert "run `rightsdesk keys rotate` again" in stopped.stdout

    status = _cli(cli_env, "status")
    assert status.returncode == 0, status.stderr
    assert "ring: t2, t1 (seals with t2)" in status.stdout
    assert "job keys.rotate:t2: 2 of " in status.stdout and "not finished" in status.stdout

    done = _cli(cli_env, "rotate", "--batch-size", "50")
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr
    assert (
        "every sealed value is under t2: key(s) t1 can now be removed from "
        "RIGHTSDESK_ENCRYPTION_KEYS"
    ) in done.stdout
    # No personal data in what the command prints.
    for plain in ("홍길동", "hong.gildong", "proxy@example.com", "이대리"):
        assert plain not in done.stdout + done.stderr + stopped.stdout + status.stdout
    assert values_with_prefix(database_url, "v1.t1.") == {}

    # Now without the old key: done already, nothing under t1.
    alone = _cli({**cli_env, "RIGHTSDESK_ENCRYPTION_KEYS": ONLY_NEW}, "rotate")
    assert alone.returncode == 0, alone.stderr
    assert "done already" in alone.stdout and "the only key of the ring" in alone.stdout


def test_the_command_refuses_a_ring_it_cannot_use(
    app, client, staff, outbox_dir, database_url, tmp_path, cli_env
):
    fill(app, client, staff, outbox_dir, database_url, tmp_path)
    # The old key left out too early: its values could not be re-sealed.
    early = _cli({**cli_env, "RIGHTSDESK_ENCRYPTION_KEYS": ONLY_NEW}, "rotate")
    assert early.returncode == 2
    assert early.stderr.strip().splitlines() == [
        "rightsdesk: RIGHTSDESK_ENCRYPTION_KEYS: values are sealed under key(s) t1, which the "
        "ring does not hold; put them back after the new key (t2) and run again"
    ]
    assert values_with_prefix(database_url, "v1.t2.") == {}  # nothing was touched
    broken = _cli({**cli_env, "RIGHTSDESK_ENCRYPTION_KEYS": "t2:not-base64!"}, "rotate")
    assert broken.returncode == 2
    assert broken.stderr.startswith("rightsdesk: RIGHTSDESK_ENCRYPTION_KEYS: ")
    assert len(broken.stderr.strip().splitlines()) == 1
    bad_size = _cli(cli_env, "rotate", "--batch-size", "0")
    assert bad_size.returncode == 2


def test_values_that_do_not_open_are_reported_by_place_and_fail_the_run(
    app, client, staff, outbox_dir, database_url, tmp_path, cli_env
):
    """A value moved to another row does not open (the AAD binds it to its place)."""
    fill(app, client, staff, outbox_dir, database_url, tmp_path)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        ids = conn.execute(text("SELECT id FROM staff_note ORDER BY id")).scalars().all()
        conn.execute(
            text(
                "UPDATE staff_note SET text_enc = (SELECT text_enc FROM staff_note WHERE id = :a) WHERE id = :b"
            ),
            {"a": ids[0], "b": ids[1]},
        )
    engine.dispose()
    run = _cli(cli_env, "rotate")
    assert run.returncode == 1
    assert f"staff_note.text_enc:{ids[1]}" in run.stderr
    assert "1 value(s) are still sealed under older keys (t1: 1)" in run.stderr
    assert values_with_prefix(database_url, "v1.t1.") == {"staff_note.text_enc": 1}
