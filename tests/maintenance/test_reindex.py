"""`rightsdesk keys reindex`: the e-mail blind index moves to a new key; while the previous key
is configured, rows not yet moved are still found."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.core.crypto import BlindIndex, KeyRing
from app.core.db import Database
from app.main import create_app
from app.maintenance.keys import Reindex
from tests.maintenance.conftest import DELEGATE, POA, settings_with
from tests.support import TEST_KEY, latest_code, read_outbox, relogin, request_body, rightsdesk

OLD_BIDX = "test-blind-index"  # tests/support.py make_settings
NEW_BIDX = "new-blind-index-key-" + "z" * 20


def test_candidates_are_the_new_digest_first_then_the_previous():
    moving = BlindIndex(NEW_BIDX, OLD_BIDX)
    assert moving.email_candidates(" Hong@Example.com ") == (
        BlindIndex(NEW_BIDX).email("hong@example.com"),
        BlindIndex(OLD_BIDX).email("hong@example.com"),
    )
    assert moving.email("a@example.com") == BlindIndex(NEW_BIDX).email("a@example.com")
    assert BlindIndex(NEW_BIDX).email_candidates("a@example.com") == (
        BlindIndex(NEW_BIDX).email("a@example.com"),
    )
    assert BlindIndex(NEW_BIDX, NEW_BIDX).email_candidates("a@example.com") == (
        BlindIndex(NEW_BIDX).email("a@example.com"),
    )
    assert BlindIndex(NEW_BIDX).fingerprint != BlindIndex(OLD_BIDX).fingerprint


def _filed(client) -> dict[str, str]:
    """A subject's own request and a delegate's (the proxy's address is indexed too)."""
    own = client.post("/v1/requests", json=request_body())
    proxied = client.post(
        "/v1/requests",
        json=request_body(
            subject={"name": "김갑순", "email": "kim@example.com"},
            requester=DELEGATE,
            power_of_attorney=POA,
        ),
    )
    assert own.status_code == 201 and proxied.status_code == 201, proxied.text
    return {"own": own.json()["id"], "proxied": proxied.json()["id"]}


def _bidx(database_url: str, request_id: str) -> tuple[str | None, str | None]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT subject_email_bidx, requester_email_bidx FROM request WHERE id = :i"),
                {"i": request_id},
            ).one()
    finally:
        engine.dispose()
    return row[0], row[1]


def _search(c, headers, email: str) -> list[str]:
    response = c.get("/v1/staff/requests", headers=headers, params={"q": email})
    assert response.status_code == 200, response.text
    return [i["id"] for i in response.json()["items"]]


def _sign_in_sends_a_code(c, outbox_dir, reference: str, email: str) -> bool:
    before = len(read_outbox(outbox_dir))
    response = c.post("/v1/requests/sign-in", json={"reference": reference, "email": email})
    assert response.status_code == 202
    return len(read_outbox(outbox_dir)) > before


def _reference(c, headers, request_id: str) -> str:
    return c.get(f"/v1/staff/requests/{request_id}", headers=headers).json()["reference"]


def test_while_moving_unmoved_rows_are_found_with_the_previous_key(
    app, client, staff, outbox_dir, database_url, tmp_path, clock
):
    ids = _filed(client)
    moving = create_app(
        settings_with(
            database_url,
            tmp_path,
            blind_index_key=NEW_BIDX,
            blind_index_previous_key=OLD_BIDX,
        ),
        clock,
    )
    with TestClient(moving, raise_server_exceptions=False) as c:
        relogin(c, staff)
        cpo = staff["cpo"]["headers"]
        ref = _reference(c, cpo, ids["own"])
        # Sign-in (verification/service.py) tries every candidate: found before the move.
        clock.advance(minutes=2)  # past the code's resend cooldown
        assert _sign_in_sends_a_code(c, outbox_dir, ref, "hong.gildong@example.com")
        # Staff search: needs requests/queue.py to search `IN (email_candidates)`.
        assert _search(c, cpo, "hong.gildong@example.com") == [ids["own"]]
        assert _search(c, cpo, "proxy@example.com") == [ids["proxied"]]


def test_reindex_moves_every_index_and_search_finds_with_the_new_key_alone(
    app, client, staff, outbox_dir, database_url, tmp_path, clock
):
    ids = _filed(client)
    before = {k: _bidx(database_url, v) for k, v in ids.items()}
    db = Database(database_url)
    try:
        keys, index = KeyRing(f"t1:{TEST_KEY}"), BlindIndex(NEW_BIDX, OLD_BIDX)
        job = Reindex(db, keys, index)
        job.start()
        first = job.run(batch_size=1, max_batches=1)
        assert not first.finished and first.changed == (1 if ids["own"] < ids["proxied"] else 2)
        job.start()  # resumes
        rest = job.run(batch_size=1)
        assert rest.finished and first.changed + rest.changed == 3 and rest.lost == 0
    finally:
        db.dispose()
    new = BlindIndex(NEW_BIDX)
    assert _bidx(database_url, ids["own"]) == (new.email("hong.gildong@example.com"), None)
    assert _bidx(database_url, ids["proxied"]) == (
        new.email("kim@example.com"),
        new.email("proxy@example.com"),
    )
    assert before["own"][0] == BlindIndex(OLD_BIDX).email("hong.gildong@example.com")

    moved = create_app(settings_with(database_url, tmp_path, blind_index_key=NEW_BIDX), clock)
    with TestClient(moved, raise_server_exceptions=False) as c:
        relogin(c, staff)
        cpo = staff["cpo"]["headers"]
        assert _search(c, cpo, "HONG.GILDONG@example.com") == [ids["own"]]
        assert _search(c, cpo, "proxy@example.com") == [ids["proxied"]]
        clock.advance(minutes=2)
        ref = _reference(c, cpo, ids["proxied"])
        assert _sign_in_sends_a_code(c, outbox_dir, ref, "proxy@example.com")
        latest_code(outbox_dir, ids["proxied"])


def test_the_command_reindexes_and_says_the_previous_key_can_go(
    app, client, staff, outbox_dir, database_url, tmp_path, settings
):
    ids = _filed(client)
    env = dict(
        RIGHTSDESK_DATABASE_URL=database_url,
        RIGHTSDESK_VAR_DIR=str(settings.var_dir),
        RIGHTSDESK_SECRET_KEY=settings.secret_key,
        RIGHTSDESK_ENCRYPTION_KEYS=settings.encryption_keys,
        RIGHTSDESK_BLIND_INDEX_KEY=NEW_BIDX,
        RIGHTSDESK_BLIND_INDEX_PREVIOUS_KEY=OLD_BIDX,
    )

    def run(*args):
        return rightsdesk(env, "keys", "reindex", *args)

    stopped = run("--batch-size", "1", "--max-batches", "1")
    assert stopped.returncode == 3, stopped.stderr
    done = run()
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr
    assert done.stdout.strip().endswith("RIGHTSDESK_BLIND_INDEX_PREVIOUS_KEY can now be unset")
    for plain in ("hong.gildong", "proxy@example.com", "kim@example.com"):
        assert plain not in done.stdout + done.stderr
    new = BlindIndex(NEW_BIDX)
    assert _bidx(database_url, ids["own"])[0] == new.email("hong.gildong@example.com")
    again = run()
    assert again.returncode == 0 and "done already" in again.stdout


def test_while_moving_the_hourly_limit_per_address_counts_rows_under_both_keys(
    app, database_url, tmp_path, clock
):
    """RIGHTSDESK_INTAKE_MAX_PER_EMAIL_PER_HOUR must not restart from zero because the index
    moved: filings indexed under the previous key still count."""
    limit = 2  # (`app`: its teardown empties the database these apps write to)
    before = create_app(
        settings_with(database_url, tmp_path, intake_max_per_email_per_hour=limit), clock
    )
    with TestClient(before) as c:
        for _ in range(limit):
            assert c.post("/v1/requests", json=request_body()).status_code == 201
    moving = create_app(
        settings_with(
            database_url,
            tmp_path,
            intake_max_per_email_per_hour=limit,
            blind_index_key=NEW_BIDX,
            blind_index_previous_key=OLD_BIDX,
        ),
        clock,
    )
    with TestClient(moving) as c:
        refused = c.post("/v1/requests", json=request_body())
        assert refused.status_code == 429, refused.text
        # Another address is not affected.
        other = request_body(subject={"name": "김갑순", "email": "kim@example.com"})
        assert c.post("/v1/requests", json=other).status_code == 201
