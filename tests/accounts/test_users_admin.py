"""(cpo) Staff administration through `/v1/staff/users` (issue 10.7): create, list, change
role, deactivate and reactivate, unlock; each change in the access record and in force on the
account's existing tokens at once; the company never left without an active CPO."""

from __future__ import annotations

import pytest

from tests.support import login, make_staff, token_response

USERS = "/v1/staff/users"
NEW_PASSWORD = "a long enough passphrase"
NEW = {"email": "New.Handler@Example.com", "role": "handler", "password": NEW_PASSWORD}


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def _fields(response) -> set[str]:
    return {e["field"] for e in _problem(response, 422)["errors"]}


def _entries(client, staff, action: str) -> list[dict]:
    response = client.get(
        "/v1/staff/audit",
        headers=staff["cpo"]["headers"],
        params={"action": action, "limit": 500},
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _patch(client, staff, user_id: str, body, who: str = "cpo"):
    return client.patch(f"{USERS}/{user_id}", headers=staff[who]["headers"], json=body)


def _all(client, staff, **params) -> list[dict]:
    response = client.get(USERS, headers=staff["cpo"]["headers"], params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _no_secrets(entries: list[dict]) -> None:
    for entry in entries:
        text = str(entry["detail"])
        assert "password" not in text and "$argon2" not in text and "@" not in text, entry


# --- GET /v1/staff/users ------------------------------------------------------------------------


class TestList:
    def test_anonymous(self, client):
        response = client.get(USERS)
        assert _problem(response, 401)["type"] == "/problems/unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")

    @pytest.mark.parametrize("who", ["handler", "auditor"])
    def test_wrong_role(self, client, staff, who):
        response = client.get(USERS, headers=staff[who]["headers"])
        assert _problem(response, 403)["type"] == "/problems/forbidden"

    def test_valid(self, client, staff, clock):
        body = client.get(USERS, headers=staff["cpo"]["headers"]).json()
        assert body["next_cursor"] is None
        items = body["items"]
        assert [u["id"] for u in items] == sorted(p["id"] for p in staff.values())  # oldest first
        cpo = next(u for u in items if u["email"] == "cpo@example.com")
        assert cpo == {
            "id": staff["cpo"]["id"],
            "email": "cpo@example.com",
            "role": "cpo",
            "active": True,
            "locked": False,
            "locked_until": None,
            "failed_logins": 0,
            "last_login_at": clock.now().isoformat().replace("+00:00", "Z"),
            "created_at": clock.now().isoformat().replace("+00:00", "Z"),
        }
        assert "password_hash" not in str(body) and "argon2" not in str(body)

    def test_filters(self, client, staff):
        handlers = _all(client, staff, role="handler")
        assert {u["email"] for u in handlers} == {"handler@example.com", "handler2@example.com"}
        assert _patch(client, staff, staff["auditor"]["id"], {"active": False}).status_code == 200
        assert [u["email"] for u in _all(client, staff, active="false")] == ["auditor@example.com"]
        assert len(_all(client, staff, active="true")) == 3
        assert _all(client, staff, role="auditor", active="true") == []

    def test_pagination(self, app, client, staff):
        for i in range(5):
            make_staff(app, f"extra{i}@example.com", "handler")
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            body = client.get(USERS, headers=staff["cpo"]["headers"], params=params).json()
            assert len(body["items"]) <= 2
            seen += [u["id"] for u in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 5 and len(seen) == 9 and seen == sorted(set(seen))

    def test_bad_query(self, client, staff):
        headers = staff["cpo"]["headers"]
        assert _fields(client.get(USERS, headers=headers, params={"role": "root"})) == {
            "query.role"
        }
        assert _fields(client.get(USERS, headers=headers, params={"limit": 0})) == {"query.limit"}
        assert _fields(client.get(USERS, headers=headers, params={"limit": 201})) == {"query.limit"}
        assert _fields(client.get(USERS, headers=headers, params={"active": "maybe"})) == {
            "query.active"
        }
        assert _fields(client.get(USERS, headers=headers, params={"cursor": "x" * 41})) == {
            "query.cursor"
        }
        # SQL-looking text is only a string to compare with.
        odd = client.get(USERS, headers=headers, params={"cursor": "' OR 1=1 --"})
        assert odd.status_code == 200 and len(odd.json()["items"]) == 4


# --- POST /v1/staff/users -----------------------------------------------------------------------


class TestCreate:
    def test_anonymous(self, client):
        _problem(client.post(USERS, json=NEW), 401)

    @pytest.mark.parametrize("who", ["handler", "auditor"])
    def test_wrong_role(self, client, staff, who):
        _problem(client.post(USERS, headers=staff[who]["headers"], json=NEW), 403)
        assert len(_all(client, staff)) == 4

    def test_valid(self, client, staff):
        response = client.post(USERS, headers=staff["cpo"]["headers"], json=NEW)
        assert response.status_code == 201, response.text
        made = response.json()
        assert made["email"] == "new.handler@example.com" and made["role"] == "handler"
        assert made["active"] is True and made["locked"] is False and made["last_login_at"] is None
        assert "password" not in str(made)
        # The new person logs in with that password and works as a handler.
        headers = login(client, "new.handler@example.com", NEW_PASSWORD)
        assert client.get("/v1/staff/requests", headers=headers).status_code == 200
        assert client.get(USERS, headers=headers).status_code == 403
        grants = [e for e in _entries(client, staff, "grant") if e["detail"]["user"] == made["id"]]
        assert len(grants) == 1
        assert grants[0]["actor"] == f"staff:{staff['cpo']['id']}"
        assert grants[0]["detail"] == {"user": made["id"], "role": "handler"}
        _no_secrets(grants)

    def test_existing_e_mail_is_409(self, client, staff):
        body = {**NEW, "email": "HANDLER@example.com"}
        response = client.post(USERS, headers=staff["cpo"]["headers"], json=body)
        assert _problem(response, 409)["type"] == "/problems/conflict"
        assert len(_all(client, staff)) == 4

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"password": "short"}, "password"),
            ({"password": "x" * 11}, "password"),
            ({"password": "x" * 1001}, "password"),
            ({"email": "not-an-e-mail"}, "email"),
            ({"email": "a@b"}, "email"),
            ({"email": "x" * 250 + "@example.com"}, "email"),
            ({"email": "'; DROP TABLE staff_user; --"}, "email"),
            ({"role": "root"}, "role"),
            ({"role": None}, "role"),
            ({"active": False}, "active"),  # unknown in a create body
        ],
    )
    def test_bad_input_names_the_field(self, client, staff, change, field):
        body = {**NEW, **change}
        response = client.post(USERS, headers=staff["cpo"]["headers"], json=body)
        assert field in _fields(response), response.text
        assert len(_all(client, staff)) == 4  # nothing left behind

    def test_missing_fields_and_malformed_json(self, client, staff):
        headers = staff["cpo"]["headers"]
        assert _fields(client.post(USERS, headers=headers, json={})) == {
            "email",
            "role",
            "password",
        }
        malformed = client.post(
            USERS, headers={**headers, "content-type": "application/json"}, content=b"{"
        )
        assert _problem(malformed, 422)["type"] == "/problems/malformed-json"

    def test_short_password_message_names_the_minimum(self, client, staff):
        body = {**NEW, "password": "한국어 비밀번호"}  # 8 characters: too short
        error = _problem(client.post(USERS, headers=staff["cpo"]["headers"], json=body), 422)
        assert error["errors"] == [
            {
                "field": "password",
                "code": "too_short",
                "message": "the password needs at least 12 characters",
            }
        ]


# --- PATCH /v1/staff/users/{id} -----------------------------------------------------------------


class TestChange:
    def test_anonymous(self, client, staff):
        response = client.patch(f"{USERS}/{staff['handler']['id']}", json={"role": "auditor"})
        _problem(response, 401)

    @pytest.mark.parametrize("who", ["handler", "auditor"])
    def test_wrong_role(self, client, staff, who):
        response = _patch(client, staff, staff["handler2"]["id"], {"role": "cpo"}, who=who)
        _problem(response, 403)
        # Not even about oneself: a handler cannot make themself CPO.
        mine = _patch(client, staff, staff[who]["id"], {"role": "cpo"}, who=who)
        _problem(mine, 403)
        assert _entries(client, staff, "role_changed") == []

    def test_valid(self, client, staff):
        response = _patch(client, staff, staff["handler"]["id"], {"role": "auditor"})
        assert response.status_code == 200, response.text
        assert (
            response.json()["role"] == "auditor" and response.json()["id"] == staff["handler"]["id"]
        )

    def test_role_change_ends_the_sessions_and_the_new_role_applies(self, client, staff):
        handler = staff["handler"]
        assert client.get(USERS, headers=handler["headers"]).status_code == 403
        assert _patch(client, staff, handler["id"], {"role": "cpo"}).status_code == 200
        # The token issued while a handler stops working at once (its session ended)…
        assert client.get(USERS, headers=handler["headers"]).status_code == 401
        # …and a new log-in carries the new role.
        handler["headers"] = login(client, handler["email"])
        assert client.get(USERS, headers=handler["headers"]).status_code == 200
        assert _patch(client, staff, handler["id"], {"role": "auditor"}).status_code == 200
        handler["headers"] = login(client, handler["email"])
        # As an auditor, no longer may act on requests.
        assert client.get(USERS, headers=handler["headers"]).status_code == 403
        assert client.get("/v1/staff/audit", headers=handler["headers"]).status_code == 200
        entries = _entries(client, staff, "role_changed")
        assert [e["detail"] for e in entries] == [
            {"user": handler["id"], "from": "handler", "to": "cpo"},
            {"user": handler["id"], "from": "cpo", "to": "auditor"},
        ]
        assert {e["actor"] for e in entries} == {f"staff:{staff['cpo']['id']}"}
        _no_secrets(entries)

    def test_deactivation_ends_tokens_at_once_and_reactivation(self, client, staff):
        handler = staff["handler"]
        assert client.get("/v1/staff/requests", headers=handler["headers"]).status_code == 200
        response = _patch(client, staff, handler["id"], {"active": False})
        assert response.status_code == 200 and response.json()["active"] is False
        # The token issued before is refused on its very next call, and log-in fails.
        refused = client.get("/v1/staff/requests", headers=handler["headers"])
        assert _problem(refused, 401)["type"] == "/problems/unauthorized"
        assert token_response(client, handler["email"]).status_code == 401
        response = _patch(client, staff, handler["id"], {"active": True})
        assert response.status_code == 200 and response.json()["active"] is True
        headers = login(client, handler["email"])
        assert client.get("/v1/staff/requests", headers=headers).status_code == 200
        assert [e["detail"] for e in _entries(client, staff, "deactivated")] == [
            {"user": handler["id"]}
        ]
        assert [e["detail"] for e in _entries(client, staff, "activated")] == [
            {"user": handler["id"]}
        ]

    def test_unlock_after_a_lock_out(self, client, staff, settings):
        email = staff["handler"]["email"]
        for _ in range(settings.login_max_failures):
            assert token_response(client, email, "wrong password!").status_code == 401
        assert token_response(client, email).status_code == 423
        listed = next(u for u in _all(client, staff) if u["email"] == email)
        assert listed["locked"] is True and listed["locked_until"] is not None
        response = _patch(client, staff, staff["handler"]["id"], {"unlock": True})
        assert response.status_code == 200, response.text
        assert response.json()["locked"] is False and response.json()["locked_until"] is None
        assert token_response(client, email).status_code == 200
        [entry] = _entries(client, staff, "unlocked")
        assert entry["detail"] == {
            "user": staff["handler"]["id"],
            "was_locked": True,
            "failed_logins": 0,
        }

    def test_unlock_clears_counted_failures(self, client, staff):
        email = staff["handler"]["email"]
        for _ in range(3):
            assert token_response(client, email, "wrong password!").status_code == 401
        assert next(u for u in _all(client, staff) if u["email"] == email)["failed_logins"] == 3
        assert _patch(client, staff, staff["handler"]["id"], {"unlock": True}).status_code == 200
        [entry] = _entries(client, staff, "unlocked")
        assert entry["detail"]["was_locked"] is False and entry["detail"]["failed_logins"] == 3
        assert next(u for u in _all(client, staff) if u["email"] == email)["failed_logins"] == 0

    def test_what_is_already_so_changes_and_records_nothing(self, client, staff):
        handler = staff["handler"]["id"]
        for body in ({"role": "handler"}, {"active": True}, {"unlock": True}):
            response = _patch(client, staff, handler, body)
            assert response.status_code == 200, response.text
        for action in ("role_changed", "activated", "deactivated", "unlocked"):
            assert _entries(client, staff, action) == []

    def test_several_changes_at_once(self, client, staff):
        handler = staff["handler"]["id"]
        response = _patch(client, staff, handler, {"role": "auditor", "active": False})
        assert response.status_code == 200
        assert response.json()["role"] == "auditor" and response.json()["active"] is False
        assert len(_entries(client, staff, "role_changed")) == 1
        assert len(_entries(client, staff, "deactivated")) == 1

    def test_unknown_account_is_404(self, client, staff):
        response = _patch(client, staff, "usr_nope", {"role": "auditor"})
        assert _problem(response, 404)["type"] == "/problems/not-found"
        _problem(_patch(client, staff, "x" * 255, {"role": "auditor"}), 422)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "body"),
            ({"role": None}, "body"),
            ({"role": "root"}, "role"),
            ({"active": "maybe"}, "active"),
            ({"unlock": False}, "unlock"),
            ({"password": "a new password!"}, "password"),
            ({"email": "other@example.com"}, "email"),
            ([], "body"),
        ],
    )
    def test_bad_body_names_the_field(self, client, staff, body, field):
        response = _patch(client, staff, staff["handler"]["id"], body)
        assert field in _fields(response), response.text
        assert next(u for u in _all(client, staff) if u["id"] == staff["handler"]["id"])[
            "role"
        ] == ("handler")


class TestTheLastCpo:
    def test_the_only_cpo_cannot_step_down(self, client, staff):
        cpo = staff["cpo"]["id"]
        for body in ({"role": "handler"}, {"role": "auditor", "active": True}):
            error = _problem(_patch(client, staff, cpo, body), 409)
            assert error["type"] == "/problems/conflict" and error["reason"] == "last_active_cpo"
        assert client.get(USERS, headers=staff["cpo"]["headers"]).status_code == 200
        assert _entries(client, staff, "role_changed") == []

    def test_no_cpo_deactivates_their_own_account(self, app, client, staff):
        make_staff(app, "cpo2@example.com", "cpo")
        error = _problem(_patch(client, staff, staff["cpo"]["id"], {"active": False}), 409)
        assert error["reason"] == "own_account"
        assert client.get(USERS, headers=staff["cpo"]["headers"]).status_code == 200

    def test_another_cpo_may_be_demoted_or_deactivated_not_the_last(self, app, client, staff):
        second = make_staff(app, "cpo2@example.com", "cpo")
        second_headers = login(client, "cpo2@example.com")
        # With two, one may step down; then the other is the last.
        assert _patch(client, staff, staff["cpo"]["id"], {"role": "handler"}).status_code == 200
        assert client.get(USERS, headers=staff["cpo"]["headers"]).status_code == 401  # ended
        assert client.get(USERS, headers=login(client, "cpo@example.com")).status_code == 403
        staff["cpo2"] = {"headers": second_headers}
        error = _problem(_patch(client, staff, second, {"role": "auditor"}, who="cpo2"), 409)
        assert error["reason"] == "last_active_cpo"
        # Promote again, then the second CPO deactivates the first.
        assert _patch(client, staff, staff["cpo"]["id"], {"role": "cpo"}, "cpo2").status_code == 200
        assert (
            _patch(client, staff, staff["cpo"]["id"], {"active": False}, "cpo2").status_code == 200
        )
        assert client.get(USERS, headers=staff["cpo"]["headers"]).status_code == 401

    def test_an_inactive_cpo_does_not_count(self, app, client, staff):
        second = make_staff(app, "cpo2@example.com", "cpo")
        assert _patch(client, staff, second, {"active": False}).status_code == 200
        error = _problem(_patch(client, staff, staff["cpo"]["id"], {"role": "handler"}), 409)
        assert error["reason"] == "last_active_cpo"
        # Demoting the inactive one is allowed: it removes no active CPO.
        assert _patch(client, staff, second, {"role": "handler"}).status_code == 200
