"""Staff log-in, lock-out, and what a token opens."""

from __future__ import annotations

from jose import jwt
from sqlalchemy import create_engine, text

from app.core.security import AUD_STAFF, issue_token
from tests.support import PASSWORD, file_request, token_response, verified


def _audit_actions(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT action FROM audit_entry ORDER BY seq")).scalars().all()
    engine.dispose()
    return rows


def test_log_in(client, staff):
    response = token_response(client, "cpo@example.com", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["role"] == "cpo" and body["expires_in"] == 900
    claims = jwt.get_unverified_claims(body["access_token"])
    assert claims["aud"] == AUD_STAFF and claims["sub"] == staff["cpo"]["id"]


def test_e_mail_is_case_blind(client, staff):
    assert token_response(client, "CPO@Example.com", PASSWORD).status_code == 200


def test_wrong_password_and_unknown_account_look_the_same(client, staff):
    wrong = token_response(client, "cpo@example.com", "not the password")
    unknown = token_response(client, "nobody@example.com", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["type"] == "/problems/unauthorized"
        assert response.json()["detail"] == "Wrong e-mail or password."


def test_lock_out_after_five_failures(client, staff, clock, database_url):
    for _ in range(5):
        assert token_response(client, "handler@example.com", "wrong password!").status_code == 401
    locked = token_response(client, "handler@example.com", PASSWORD)
    assert locked.status_code == 423
    assert locked.json()["type"] == "/problems/account-locked"
    assert int(locked.headers["retry-after"]) > 0
    clock.advance(minutes=15, seconds=1)
    assert token_response(client, "handler@example.com", PASSWORD).status_code == 200
    actions = _audit_actions(database_url)
    assert actions.count("login_failed") == 4
    assert "account_locked" in actions and "login_refused" in actions
    assert actions[-1] == "login"


def test_missing_form_fields(client):
    response = client.post("/v1/auth/token", data={"username": "x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


class TestWhatATokenOpens:
    def test_anonymous_is_401(self, client):
        response = client.get("/v1/staff/requests")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")

    def test_subject_token_is_403(self, client, outbox_dir, staff):
        _, subject = verified(client, outbox_dir)
        for path in (
            "/v1/staff/requests",
            "/v1/staff/tasks",
            "/v1/staff/grounds",
            "/v1/staff/metrics",
            "/v1/staff/audit",
        ):
            response = client.get(path, headers=subject)
            assert response.status_code == 403, path
            assert response.json()["type"] == "/problems/forbidden"

    def test_staff_token_does_not_open_a_subjects_request(self, client, staff):
        created = file_request(client)
        response = client.get(f"/v1/requests/{created['id']}", headers=staff["cpo"]["headers"])
        assert response.status_code == 403
        assert response.json()["detail"].startswith("A staff token does not open")

    def test_expired_forged_and_unsigned_tokens(self, client, staff, settings, clock):
        good = staff["cpo"]["headers"]["Authorization"].removeprefix("Bearer ")
        claims = jwt.get_unverified_claims(good)
        forged = jwt.encode(claims, "another-secret-" + "q" * 40, algorithm="HS256")
        header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
        unsigned = f"{header}.{good.split('.')[1]}."
        hs512 = jwt.encode(claims, settings.secret_key, algorithm="HS512")
        for bad in (forged, unsigned, hs512):
            response = client.get("/v1/staff/requests", headers={"Authorization": f"Bearer {bad}"})
            assert response.status_code == 401, bad
        clock.advance(minutes=15, seconds=1)
        assert client.get("/v1/staff/requests", headers=staff["cpo"]["headers"]).status_code == 401

    def test_token_of_a_deactivated_account(self, client, staff, database_url):
        headers = staff["handler"]["headers"]  # logged in while active
        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE staff_user SET active = false WHERE email = 'handler@example.com'")
            )
        engine.dispose()
        assert client.get("/v1/staff/requests", headers=headers).status_code == 401

    def test_token_for_a_deleted_account(self, client, staff, settings, clock):
        token = issue_token(
            settings.secret_key,
            audience=AUD_STAFF,
            subject="usr_gone",
            now=clock.now(),
            ttl=600,
            claims={"role": "cpo"},
        )
        response = client.get("/v1/staff/requests", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
