"""Integration clients (issue 9.1, 9.2): granted, rotated and revoked by the CPO; tokens from
the client-credentials grant, with an audience of their own."""

from __future__ import annotations

import base64

import pytest
from jose import jwt

from tests.support import client_token, file_request, make_client, verified

ALL = ["requests:write", "requests:read", "requests:verified", "tasks:read", "tasks:write"]


def _audit_actions(client, headers) -> list[dict]:
    response = client.get("/v1/staff/audit", headers=headers, params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


class TestGrant:
    def test_anonymous_and_other_roles(self, client, staff):
        body = {"name": "Shop", "scopes": ["requests:write"]}
        assert client.post("/v1/staff/clients", json=body).status_code == 401
        for who in ("handler", "auditor"):
            r = client.post("/v1/staff/clients", headers=staff[who]["headers"], json=body)
            assert r.status_code == 403, r.text
            assert client.get("/v1/staff/clients", headers=staff[who]["headers"]).status_code == 403

    def test_cpo_grants_and_the_secret_is_shown_once(self, client, staff, database_url):
        cpo = staff["cpo"]["headers"]
        creds = make_client(client, cpo, ALL, ["nice_payments", "stibee"], name="결제 연동")
        assert creds["client_id"].startswith("cli_")
        assert creds["client_secret"].startswith("rdcs_") and len(creds["client_secret"]) >= 45
        assert creds["scopes"] == ALL and creds["systems"] == ["nice_payments", "stibee"]
        listed = client.get("/v1/staff/clients", headers=cpo).json()
        assert [c["client_id"] for c in listed["items"]] == [creds["client_id"]]
        assert "client_secret" not in listed["items"][0]
        assert creds["client_secret"] not in client.get("/v1/staff/clients", headers=cpo).text
        # Only a keyed hash is stored.
        from sqlalchemy import create_engine, text

        engine = create_engine(database_url)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT secret_hash FROM api_client")).scalar_one()
        engine.dispose()
        assert creds["client_secret"] not in stored and len(stored) == 64
        entry = next(e for e in _audit_actions(client, cpo) if e["action"] == "client_granted")
        assert entry["detail"]["client"] == creds["client_id"]
        assert entry["actor"] == f"staff:{staff['cpo']['id']}"

    @pytest.mark.parametrize(
        "body, field",
        [
            ({"name": "x", "scopes": ["requests:delete"]}, "scopes.0"),
            ({"name": "x", "scopes": []}, "scopes"),
            ({"name": "x", "scopes": ["tasks:read"]}, "systems"),
            ({"name": "x", "scopes": ["tasks:read"], "systems": ["nowhere"]}, "systems"),
            ({"name": "", "scopes": ["requests:write"]}, "name"),
            ({"name": "x", "scopes": ["requests:write"], "secret": "mine"}, "secret"),
        ],
    )
    def test_bad_grants_are_422_naming_the_field(self, client, staff, body, field, database_url):
        response = client.post("/v1/staff/clients", headers=staff["cpo"]["headers"], json=body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in response.json()["errors"]]
        assert (
            client.get("/v1/staff/clients", headers=staff["cpo"]["headers"]).json()["items"] == []
        )

    def test_pagination(self, client, staff):
        cpo = staff["cpo"]["headers"]
        ids = [
            make_client(client, cpo, ["requests:write"], name=f"c{i}")["client_id"]
            for i in range(5)
        ]
        first = client.get("/v1/staff/clients", headers=cpo, params={"limit": 2}).json()
        second = client.get(
            "/v1/staff/clients", headers=cpo, params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        third = client.get(
            "/v1/staff/clients", headers=cpo, params={"limit": 2, "cursor": second["next_cursor"]}
        ).json()
        seen = [c["client_id"] for page in (first, second, third) for c in page["items"]]
        assert seen == sorted(ids) and third["next_cursor"] is None


class TestToken:
    def test_form_and_basic(self, client, staff):
        creds = make_client(client, staff["cpo"]["headers"], ["requests:write", "requests:read"])
        form = client.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        )
        assert form.status_code == 200, form.text
        assert form.json()["scope"] == "requests:write requests:read"
        assert form.json()["token_type"] == "bearer" and "role" not in form.json()
        pair = f"{creds['client_id']}:{creds['client_secret']}".encode()
        basic = client.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials", "scope": "requests:read"},
            headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
        )
        assert basic.status_code == 200, basic.text
        assert basic.json()["scope"] == "requests:read"
        claims = jwt.get_unverified_claims(basic.json()["access_token"])
        assert claims["aud"] == "rightsdesk:integration" and claims["sub"] == creds["client_id"]

    def test_wrong_secret_unknown_client_and_bad_basic_are_401(self, client, staff):
        creds = make_client(client, staff["cpo"]["headers"], ["requests:write"])
        cases = [
            {"client_id": creds["client_id"], "client_secret": creds["client_secret"] + "x"},
            {"client_id": "cli_nobody", "client_secret": creds["client_secret"]},
            {"client_id": "x" * 200, "client_secret": "y"},
            {"client_id": creds["client_id"]},
        ]
        for extra in cases:
            r = client.post("/v1/auth/token", data={"grant_type": "client_credentials", **extra})
            assert r.status_code == 401, r.text
            assert r.json()["error"] == "invalid_client"
        r = client.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic not-base64!"},
        )
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        failures = [e for e in _audit_actions(client, staff["cpo"]["headers"])]
        # Every failed attempt is in the access record (issue 21.4), with a secret or not, and
        # the malformed Basic header too.
        assert sum(e["action"] == "client_auth_failed" for e in failures) == 5

    def test_scope_not_granted_and_unknown_grant_type_are_400(self, client, staff):
        creds = make_client(client, staff["cpo"]["headers"], ["requests:write"])
        r = client.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                "scope": "requests:write tasks:write",
            },
        )
        assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
        r = client.post("/v1/auth/token", data={"grant_type": "authorization_code"})
        assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"

    def test_each_token_is_refused_on_the_others_routes(self, client, staff, outbox_dir):
        creds = make_client(client, staff["cpo"]["headers"], ALL, ["stibee"])
        integration = client_token(client, creds)
        created, subject = verified(client, outbox_dir)
        rid = created["id"]
        # An integration token on staff and subject routes.
        assert client.get("/v1/staff/requests", headers=integration).status_code == 403
        assert client.get(f"/v1/requests/{rid}", headers=integration).status_code == 403
        # Staff and subject tokens on integration routes.
        for headers in (staff["cpo"]["headers"], subject):
            r = client.get("/v1/integrations/tasks", headers=headers)
            assert r.status_code == 403, r.text
            r = client.get(f"/v1/integrations/requests/{rid}", headers=headers)
            assert r.status_code == 403, r.text
        assert client.get("/v1/integrations/tasks").status_code == 401
        assert client.get("/v1/integrations/tasks", headers=integration).status_code == 200

    def test_a_token_without_audience_or_with_a_forged_scope_is_refused(
        self, client, staff, settings, clock
    ):
        creds = make_client(client, staff["cpo"]["headers"], ["requests:read"])
        now = int(clock.now().timestamp())
        base = {
            "iss": "rightsdesk",
            "sub": creds["client_id"],
            "iat": now,
            "exp": now + 600,
            "gen": 1,
            "scope": "tasks:read",
        }
        no_aud = jwt.encode(base, settings.secret_key, algorithm="HS256")
        r = client.get("/v1/integrations/tasks", headers={"Authorization": f"Bearer {no_aud}"})
        assert r.status_code == 401
        # A scope the client was never granted does not count, even in a signed token.
        forged = jwt.encode(
            {**base, "aud": "rightsdesk:integration"}, settings.secret_key, algorithm="HS256"
        )
        r = client.get("/v1/integrations/tasks", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 403 and r.json()["required_scopes"] == ["tasks:read"]

    def test_missing_scope_is_403_insufficient_scope(self, client, staff):
        creds = make_client(client, staff["cpo"]["headers"], ["requests:write"])
        r = client.get("/v1/integrations/tasks", headers=client_token(client, creds))
        assert r.status_code == 403
        assert r.json()["type"].endswith("insufficient-scope")
        assert 'error="insufficient_scope"' in r.headers["www-authenticate"]

    def test_tokens_expire_by_the_service_clock(self, client, staff, clock):
        creds = make_client(client, staff["cpo"]["headers"], ["tasks:read"], ["stibee"])
        headers = client_token(client, creds)
        clock.advance(minutes=16)
        assert client.get("/v1/integrations/tasks", headers=headers).status_code == 401


# Every scope-guarded integration route: (method, path, the scope it needs, a call that the
# scope alone lets through, with the answer it then gets).
GUARDED = [
    ("POST", "/v1/integrations/requests", "requests:write", 201),
    ("GET", "/v1/integrations/requests/{request_id}", "requests:read", 404),
    ("GET", "/v1/integrations/tasks", "tasks:read", 200),
    ("GET", "/v1/integrations/tasks/{task_id}", "tasks:read", 404),
    ("POST", "/v1/integrations/tasks/{task_id}/confirm", "tasks:write", 404),
]


def _call(client, method: str, path: str, headers: dict, key: str):
    url = path.format(request_id="req_unknown", task_id="tsk_unknown")
    if path == "/v1/integrations/requests":
        return client.post(
            url,
            headers={**headers, "Idempotency-Key": key},
            json={
                "type": "access",
                "subject": {"name": "홍길동", "email": f"{key}@example.com"},
            },
        )
    return client.request(method, url, headers=headers)


class TestNarrowedTokens:
    """A token asked for fewer scopes than its client has carries only those: the client's
    other scopes do not come back with it."""

    def test_the_table_is_every_integration_route(self, client):
        paths = client.get("/openapi.json").json()["paths"]
        routes = {
            (method.upper(), path)
            for path, operations in paths.items()
            if path.startswith("/v1/integrations/")
            for method in operations
        }
        assert routes == {(m, p) for m, p, _, _ in GUARDED}

    @pytest.mark.parametrize(("method", "path", "scope", "allowed"), GUARDED)
    def test_each_route_takes_only_the_token_s_scopes(
        self, client, staff, method, path, scope, allowed
    ):
        creds = make_client(client, staff["cpo"]["headers"], ALL, ["stibee"])
        without = client_token(client, creds, scope=" ".join(s for s in ALL if s != scope))
        refused = _call(client, method, path, without, "narrowed-1")
        assert refused.status_code == 403, refused.text
        assert refused.json()["required_scopes"] == [scope]
        only = client_token(client, creds, scope=scope)
        assert _call(client, method, path, only, "narrowed-2").status_code == allowed
        # The narrowed token is refused on every other route.
        for other_method, other_path, other_scope, _ in GUARDED:
            if other_scope != scope:
                r = _call(client, other_method, other_path, only, "narrowed-3")
                assert r.status_code == 403, (other_path, r.text)

    def test_vouching_for_identity_needs_the_verified_scope_in_the_token(self, client, staff):
        creds = make_client(client, staff["cpo"]["headers"], ALL, ["stibee"])
        body = {
            "type": "access",
            "subject": {"name": "홍길동", "email": "hong@example.com"},
            "identity_verified": True,
        }
        narrowed = client_token(client, creds, scope="requests:write")
        refused = client.post(
            "/v1/integrations/requests",
            headers={**narrowed, "Idempotency-Key": "v-1"},
            json=body,
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["required_scopes"] == ["requests:verified"]
        both = client_token(client, creds, scope="requests:write requests:verified")
        filed = client.post(
            "/v1/integrations/requests", headers={**both, "Idempotency-Key": "v-2"}, json=body
        )
        assert filed.status_code == 201, filed.text


class TestRotateAndRevoke:
    def test_rotation_ends_the_old_secret_and_its_tokens_at_once(self, client, staff):
        cpo = staff["cpo"]["headers"]
        creds = make_client(client, cpo, ["tasks:read"], ["stibee"])
        old_token = client_token(client, creds)
        r = client.post(f"/v1/staff/clients/{creds['client_id']}/rotate", headers=cpo)
        assert r.status_code == 200, r.text
        new = r.json()
        assert new["client_secret"] != creds["client_secret"] and new["rotated_at"]
        assert client.get("/v1/integrations/tasks", headers=old_token).status_code == 401
        refused = client.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        )
        assert refused.status_code == 401
        assert (
            client.get("/v1/integrations/tasks", headers=client_token(client, new)).status_code
            == 200
        )
        assert any(e["action"] == "client_rotated" for e in _audit_actions(client, cpo))

    def test_revocation_kills_tokens_at_once_and_is_idempotent(self, client, staff):
        cpo = staff["cpo"]["headers"]
        creds = make_client(client, cpo, ["tasks:read"], ["stibee"])
        token = client_token(client, creds)
        assert (
            client.delete(f"/v1/staff/clients/{creds['client_id']}", headers=cpo).status_code == 204
        )
        assert client.get("/v1/integrations/tasks", headers=token).status_code == 401
        assert (
            client.delete(f"/v1/staff/clients/{creds['client_id']}", headers=cpo).status_code == 204
        )
        assert (
            client.post(f"/v1/staff/clients/{creds['client_id']}/rotate", headers=cpo).status_code
            == 409
        )
        listed = client.get("/v1/staff/clients", headers=cpo, params={"active": False}).json()
        assert listed["items"][0]["active"] is False and listed["items"][0]["revoked_at"]
        revocations = [e for e in _audit_actions(client, cpo) if e["action"] == "client_revoked"]
        assert len(revocations) == 1

    def test_unknown_client_is_404(self, client, staff):
        cpo = staff["cpo"]["headers"]
        assert client.post("/v1/staff/clients/cli_nope/rotate", headers=cpo).status_code == 404
        assert client.delete("/v1/staff/clients/cli_nope", headers=cpo).status_code == 404

    def test_the_portal_filing_is_untouched(self, client):
        assert file_request(client)["status"] == "pending_verification"
