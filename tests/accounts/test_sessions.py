"""Sliding staff sessions (issue 20, point 1): the refresh-token grant, rotation and reuse
detection, idle and absolute limits, log-out, and the account changes that end a session —
each through HTTP, each log-in, refresh failure and session end in the access record."""

from __future__ import annotations

import pytest
from jose import jwt

from app.core.security import AUD_STAFF, issue_token
from tests.support import PASSWORD, audit_entries, login, make_settings, sql_rows

TOKEN = "/v1/auth/token"
LOGOUT = "/v1/auth/logout"
QUEUE = "/v1/staff/requests"


@pytest.fixture
def settings(request, database_url, tmp_path):
    return make_settings(database_url, tmp_path, **getattr(request, "param", {}))


def _log_in(client, email: str = "handler@example.com") -> dict:
    response = client.post(TOKEN, data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def _refresh(client, token: str, **form):
    return client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": token, **form})


def _bearer(pair: dict) -> dict:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def _problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    if slug:
        assert body["type"] == f"/problems/{slug}"
    return body


def _sessions(database_url, user_id: str) -> list[tuple]:
    return sql_rows(
        database_url,
        "SELECT id, ended_reason, secret_hash FROM staff_session WHERE user_id = :u ORDER BY id",
        u=user_id,
    )


class TestLogIn:
    def test_the_answer_is_oauth2_with_a_refresh_token(self, client, staff, database_url):
        pair = _log_in(client)
        assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
        assert pair["role"] == "handler" and pair["refresh_token"]
        claims = jwt.get_unverified_claims(pair["access_token"])
        sid = claims["sid"]
        assert pair["refresh_token"].startswith(f"{sid}.")
        # Only a hash of the secret is stored.
        [row] = [r for r in _sessions(database_url, staff["handler"]["id"]) if r[0] == sid]
        assert row[1] is None and pair["refresh_token"].split(".")[1] not in row[2]
        [*_, last] = audit_entries(database_url, "login")
        assert last == (
            f"staff:{staff['handler']['id']}",
            "login",
            {"role": "handler", "session": sid},
        )

    def test_a_staff_token_without_a_session_is_refused(self, client, staff, settings, clock):
        token = issue_token(
            settings.secret_key,
            audience=AUD_STAFF,
            subject=staff["cpo"]["id"],
            now=clock.now(),
            ttl=600,
            claims={"role": "cpo"},
        )
        response = client.get(QUEUE, headers={"Authorization": f"Bearer {token}"})
        _problem(response, 401, "unauthorized")
        forged = issue_token(
            settings.secret_key,
            audience=AUD_STAFF,
            subject=staff["cpo"]["id"],
            now=clock.now(),
            ttl=600,
            claims={"role": "cpo", "sid": "ses_nosuchsession"},
        )
        _problem(client.get(QUEUE, headers={"Authorization": f"Bearer {forged}"}), 401)


class TestRefresh:
    def test_rotation(self, client, staff, database_url):
        first = _log_in(client)
        second = _refresh(client, first["refresh_token"]).json()
        assert second["token_type"] == "bearer" and second["expires_in"] == 900
        assert second["role"] == "handler"
        assert second["refresh_token"] != first["refresh_token"]
        assert client.get(QUEUE, headers=_bearer(second)).status_code == 200
        third = _refresh(client, second["refresh_token"])
        assert third.status_code == 200
        assert client.get(QUEUE, headers=_bearer(third.json())).status_code == 200

    def test_reuse_of_a_spent_token_ends_the_session(self, client, staff, database_url):
        first = _log_in(client)
        second = _refresh(client, first["refresh_token"]).json()
        body = _problem(_refresh(client, first["refresh_token"]), 400, "invalid-grant")
        assert body["error"] == "invalid_grant"
        # The thief's or the owner's, whichever: the whole session is over.
        _problem(client.get(QUEUE, headers=_bearer(second)), 401, "unauthorized")
        _problem(_refresh(client, second["refresh_token"]), 400, "invalid-grant")
        sid = jwt.get_unverified_claims(first["access_token"])["sid"]
        me = f"staff:{staff['handler']['id']}"
        entries = audit_entries(database_url, "refresh_failed", "session_ended")
        assert entries == [
            (me, "session_ended", {"session": sid, "reason": "refresh_token_reuse"}),
            (me, "refresh_failed", {"session": sid, "reason": "spent refresh token"}),
            (me, "refresh_failed", {"session": sid, "reason": "session ended"}),
        ]

    def test_the_session_slides_while_used_and_ends_when_idle(self, client, staff, clock):
        pair = _log_in(client)
        for _ in range(4):  # two hours, refreshed every 25 minutes
            clock.advance(minutes=25)
            response = _refresh(client, pair["refresh_token"])
            assert response.status_code == 200, response.text
            pair = response.json()
        clock.advance(minutes=30)
        _problem(_refresh(client, pair["refresh_token"]), 400, "invalid-grant")

    def test_the_absolute_limit(self, client, staff, clock, database_url):
        pair = _log_in(client)
        for _ in range(12 * 60 // 20 - 1):  # up to 11 h 40
            clock.advance(minutes=20)
            pair = _refresh(client, pair["refresh_token"]).json()
        assert client.get(QUEUE, headers=_bearer(pair)).status_code == 200
        clock.advance(minutes=20)  # 12 h
        _problem(_refresh(client, pair["refresh_token"]), 400, "invalid-grant")
        reasons = [r[1] for r in _sessions(database_url, staff["handler"]["id"])]
        assert "expired" in reasons

    @pytest.mark.parametrize(
        "settings", [{"staff_token_ttl_seconds": 7200, "staff_idle_minutes": 30}], indirect=True
    )
    def test_an_access_token_stops_with_its_idle_session(self, client, staff, clock):
        pair = _log_in(client)
        clock.advance(minutes=29)
        assert client.get(QUEUE, headers=_bearer(pair)).status_code == 200
        clock.advance(minutes=2)
        body = _problem(client.get(QUEUE, headers=_bearer(pair)), 401, "unauthorized")
        assert "idle" in body["detail"]

    @pytest.mark.parametrize(
        ("token", "status"),
        [
            ("not-a-token", 400),  # invalid_grant: a token of ours it is not
            ("ses_x.short", 400),
            ("ses_01abc." + "A" * 43 + "!", 400),
            ("", 422),  # the form's refresh_token field is missing
            ("x" * 200, 400),
        ],
    )
    def test_malformed_tokens_are_problems_and_change_nothing(
        self, client, staff, database_url, token, status
    ):
        pair = _log_in(client)
        before = _sessions(database_url, staff["handler"]["id"])
        response = _refresh(client, token)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert _sessions(database_url, staff["handler"]["id"]) == before
        assert client.get(QUEUE, headers=_bearer(pair)).status_code == 200

    def test_a_guessed_secret_for_a_real_session_ends_it(self, client, staff, database_url):
        pair = _log_in(client)
        sid = pair["refresh_token"].split(".")[0]
        _problem(_refresh(client, f"{sid}.{'A' * 43}"), 400, "invalid-grant")
        _problem(client.get(QUEUE, headers=_bearer(pair)), 401)

    def test_nul_bytes(self, client, staff, database_url):
        pair = _log_in(client)
        before = _sessions(database_url, staff["handler"]["id"])
        body = _problem(_refresh(client, pair["refresh_token"] + "\x00"), 422, "validation-error")
        assert body["errors"][0]["field"] == "refresh_token"
        assert _sessions(database_url, staff["handler"]["id"]) == before
        assert audit_entries(database_url, "refresh_failed")[-1][2] == {
            "reason": "malformed refresh token"
        }
        assert _refresh(client, pair["refresh_token"]).status_code == 200

    def test_missing_token(self, client, staff):
        response = client.post(TOKEN, data={"grant_type": "refresh_token"})
        body = _problem(response, 422, "validation-error")
        assert body["errors"][0]["field"] == "refresh_token"

    def test_an_inactive_account_cannot_refresh(self, client, staff, database_url):
        pair = _log_in(client)
        response = client.patch(
            f"/v1/staff/users/{staff['handler']['id']}",
            headers=staff["cpo"]["headers"],
            json={"active": False},
        )
        assert response.status_code == 200
        _problem(_refresh(client, pair["refresh_token"]), 400, "invalid-grant")


class TestLogOut:
    def test_anonymous(self, client, staff):
        _problem(client.post(LOGOUT), 401, "unauthorized")

    def test_wrong_principal(self, client, staff, settings, clock):
        subject = issue_token(
            settings.secret_key,
            audience="rightsdesk:subject",
            subject="req_x",
            now=clock.now(),
            ttl=600,
        )
        _problem(client.post(LOGOUT, headers={"Authorization": f"Bearer {subject}"}), 403)

    def test_valid(self, client, staff, database_url):
        pair = _log_in(client)
        other = _log_in(client)  # another device: its session is its own
        response = client.post(LOGOUT, headers=_bearer(pair))
        assert response.status_code == 204 and response.content == b""
        _problem(client.get(QUEUE, headers=_bearer(pair)), 401)
        _problem(_refresh(client, pair["refresh_token"]), 400, "invalid-grant")
        _problem(client.post(LOGOUT, headers=_bearer(pair)), 401)
        assert client.get(QUEUE, headers=_bearer(other)).status_code == 200
        sid = jwt.get_unverified_claims(pair["access_token"])["sid"]
        assert (
            f"staff:{staff['handler']['id']}",
            "session_ended",
            {"session": sid, "reason": "logout"},
        ) in audit_entries(database_url, "session_ended")


class TestAccountChangesEndSessions:
    @pytest.mark.parametrize(
        ("change", "reason"),
        [({"active": False}, "deactivated"), ({"role": "auditor"}, "role_changed")],
    )
    def test_every_session_ends(self, client, staff, database_url, change, reason):
        handler = staff["handler"]
        assert handler["headers"]  # the fixture's log-in: a session of its own
        pairs = [_log_in(client), _log_in(client)]
        response = client.patch(
            f"/v1/staff/users/{handler['id']}", headers=staff["cpo"]["headers"], json=change
        )
        assert response.status_code == 200, response.text
        for pair in pairs:
            _problem(client.get(QUEUE, headers=_bearer(pair)), 401)
            _problem(_refresh(client, pair["refresh_token"]), 400, "invalid-grant")
        ended = [r[1] for r in _sessions(database_url, handler["id"])]
        assert ended == [reason] * 3  # the fixture's log-in and these two
        cpo = f"staff:{staff['cpo']['id']}"
        assert [
            (actor, detail["reason"])
            for actor, _, detail in audit_entries(database_url, "session_ended")
        ] == [(cpo, reason)] * 3

    def test_unlocking_keeps_sessions(self, client, staff):
        pair = _log_in(client)
        response = client.patch(
            f"/v1/staff/users/{staff['handler']['id']}",
            headers=staff["cpo"]["headers"],
            json={"unlock": True},
        )
        assert response.status_code == 200, response.text
        assert client.get(QUEUE, headers=_bearer(pair)).status_code == 200
        assert login(client, "handler@example.com")
