"""Integration intake (issue 9.3): POST /v1/integrations/requests under an Idempotency-Key,
and GET /v1/integrations/requests/{id} for the client's own requests."""

from __future__ import annotations

import pytest

from tests.support import (
    client_token,
    count_rows,
    file_request,
    integration_file,
    make_client,
    read_outbox,
    request_body,
)

URL = "/v1/integrations/requests"


@pytest.fixture
def shop(client, staff) -> dict:
    creds = make_client(client, staff["cpo"]["headers"], ["requests:write", "requests:read"])
    return {"creds": creds, "headers": client_token(client, creds)}


def _post(client, headers, key, body):
    extra = {} if key is None else {"Idempotency-Key": key}
    return client.post(URL, headers={**headers, **extra}, json=body)


class TestFiling:
    def test_anonymous_and_wrong_scope(self, client, staff):
        assert _post(client, {}, "k", request_body()).status_code == 401
        reader = make_client(client, staff["cpo"]["headers"], ["requests:read"])
        r = _post(client, client_token(client, reader), "k", request_body())
        assert r.status_code == 403 and r.json()["required_scopes"] == ["requests:write"]

    def test_files_like_the_portal_with_the_clients_reference(
        self, client, shop, outbox_dir, database_url, staff
    ):
        r = _post(
            client, shop["headers"], '"8e03978e-40d5-43e8"', request_body(external_ref="ZD-1042")
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["status"] == "pending_verification" and body["external_ref"] == "ZD-1042"
        assert body["code_sent_to"] and "hong.gildong" not in body["code_sent_to"]
        assert r.headers["location"] == f"/v1/integrations/requests/{body['id']}"
        assert "idempotent-replayed" not in r.headers
        templates = sorted(m["template"] for m in read_outbox(outbox_dir))
        assert templates == ["receipt", "verification_code"]
        view = client.get(f"/v1/staff/requests/{body['id']}", headers=staff["cpo"]["headers"])
        assert view.json()["channel"] == "api"
        events = [e for e in view.json()["timeline"] if e["kind"] == "received"]
        assert events[0]["actor"] == f"integration:{shop['creds']['client_id']}"

    def test_the_same_key_and_body_replays_the_first_answer(
        self, client, shop, database_url, outbox_dir
    ):
        first = _post(client, shop["headers"], "key-1", request_body())
        # The same body with its keys in another order is the same body (canonical JSON).
        reordered = dict(reversed(list(request_body().items())))
        again = _post(client, shop["headers"], "key-1", reordered)
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["location"] == first.headers["location"]
        assert count_rows(database_url, "request") == 1
        assert len(read_outbox(outbox_dir)) == 2  # one receipt, one code: not sent twice

    def test_the_same_key_with_another_body_is_422(self, client, shop, database_url):
        _post(client, shop["headers"], "key-2", request_body())
        other = _post(client, shop["headers"], "key-2", request_body(type="deletion"))
        assert other.status_code == 422, other.text
        assert other.json()["type"].endswith("idempotency-key-reused")
        assert count_rows(database_url, "request") == 1

    def test_keys_are_per_client(self, client, staff, shop, database_url):
        other = make_client(client, staff["cpo"]["headers"], ["requests:write"], name="CRM")
        a = _post(client, shop["headers"], "shared", request_body())
        b = _post(client, client_token(client, other), "shared", request_body())
        assert a.status_code == b.status_code == 201
        assert a.json()["id"] != b.json()["id"]
        assert count_rows(database_url, "request") == 2

    @pytest.mark.parametrize("key", [None, "", '""', "x" * 256, "한글키".encode(), "tab\there"])
    def test_a_missing_or_malformed_key_is_400_and_files_nothing(
        self, client, shop, key, database_url
    ):
        r = _post(client, shop["headers"], key, request_body())
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("idempotency-key-missing")
        assert count_rows(database_url, "request") == 0

    def test_a_refused_filing_hands_the_key_back(self, client, shop, database_url):
        bad = request_body(scope={"categories": ["nowhere"]})
        r = _post(client, shop["headers"], "key-3", bad)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "scope.categories"
        assert count_rows(database_url, "idempotency_key") == 0
        # Fixed and retried under the same key: filed (the key was not spent on the refusal).
        assert _post(client, shop["headers"], "key-3", request_body()).status_code == 201

    @pytest.mark.parametrize(
        "body",
        [
            {"type": "access"},
            {**request_body(), "due_at": "2020-01-01T00:00:00Z"},
            {**request_body(), "external_ref": "x" * 101},
            {**request_body(), "external_ref": "a\x00b"},
        ],
    )
    def test_invalid_bodies_are_422_and_leave_nothing(self, client, shop, body, database_url):
        r = _post(client, shop["headers"], "key-4", body)
        assert r.status_code == 422, r.text
        assert count_rows(database_url, "idempotency_key") == 0
        assert count_rows(database_url, "request") == 0

    def test_a_key_in_flight_is_409_until_its_lease_runs_out(self, app, client, shop, clock):
        from app.integrations import idempotency

        ctx = app.state.ctx
        body = request_body()
        fields = body  # what the client sends is what is fingerprinted
        reservation = idempotency.reserve(
            ctx.db,
            ctx,
            client_id=shop["creds"]["client_id"],
            key="slow",
            fingerprint=idempotency.fingerprint(fields),
        )
        assert isinstance(reservation, idempotency.Reservation)
        busy = _post(client, shop["headers"], "slow", body)
        assert busy.status_code == 409, busy.text
        assert busy.json()["type"].endswith("idempotency-key-in-flight")
        assert "retry-after" in busy.headers
        # The first call died: after its lease another call does the work.
        clock.advance(seconds=61)
        done = _post(client, shop["headers"], "slow", body)
        assert done.status_code == 201, done.text
        # The dead call cannot store an answer over it any more.
        from app.core.errors import Problem

        with pytest.raises(Problem) as lost, ctx.db.transaction() as session:
            idempotency.store(session, ctx, reservation, status=201, body={}, request_id=None)
        assert lost.value.status == 409

    def test_keys_are_kept_24_hours(self, client, shop, clock, database_url, app):
        first = _post(client, shop["headers"], "daily", request_body())
        clock.advance(hours=23)
        headers = client_token(client, shop["creds"])  # the first token has expired
        assert _post(client, headers, "daily", request_body()).json() == first.json()
        clock.advance(hours=2)
        headers = client_token(client, shop["creds"])
        later = _post(client, headers, "daily", request_body(type="deletion"))
        assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
        # The worker forgets expired keys.
        from app.integrations import idempotency

        clock.advance(hours=25)
        assert idempotency.purge_expired(app.state.ctx.db, app.state.ctx) == 1
        assert count_rows(database_url, "idempotency_key") == 0


class TestVerifiedFiling:
    def test_needs_the_verified_scope(self, client, shop, database_url):
        r = _post(client, shop["headers"], "v1", request_body(identity_verified=True))
        assert r.status_code == 403 and r.json()["required_scopes"] == ["requests:verified"]
        assert count_rows(database_url, "request") == 0

    def test_opens_at_once_without_a_code(self, client, staff, outbox_dir):
        creds = make_client(
            client,
            staff["cpo"]["headers"],
            ["requests:write", "requests:verified", "requests:read"],
        )
        headers = client_token(client, creds)
        created = integration_file(client, headers, "v2", identity_verified=True)
        assert created["status"] == "open" and created["code_sent_to"] is None
        assert [m["template"] for m in read_outbox(outbox_dir)] == ["receipt"]
        view = client.get(f"/v1/staff/requests/{created['id']}", headers=staff["cpo"]["headers"])
        verified = [e for e in view.json()["timeline"] if e["kind"] == "status.open"]
        assert verified and verified[0]["actor"] == f"integration:{creds['client_id']}"


class TestReading:
    def test_own_requests_by_id_or_reference(self, client, shop):
        created = integration_file(client, shop["headers"], "r1", external_ref="ZD-7")
        for key in (created["id"], created["reference"], created["reference"].lower()):
            r = client.get(f"{URL}/{key}", headers=shop["headers"])
            assert r.status_code == 200, r.text
            view = r.json()
            assert view["id"] == created["id"] and view["external_ref"] == "ZD-7"
            assert view["status"] == "pending_verification" and view["decision"] is None
            assert view["days_left"] == created["days_left"]
        # Thin: no personal data of the subject.
        assert "홍길동" not in r.text and "hong.gildong" not in r.text

    def test_other_requests_are_404(self, client, staff, shop):
        portal = file_request(client)
        other = make_client(
            client, staff["cpo"]["headers"], ["requests:write", "requests:read"], name="CRM"
        )
        theirs = integration_file(client, client_token(client, other), "o1")
        for key in (portal["id"], portal["reference"], theirs["id"], "req_nope", "RD-2026-999999"):
            r = client.get(f"{URL}/{key}", headers=shop["headers"])
            assert r.status_code == 404, (key, r.text)

    def test_needs_the_read_scope(self, client, staff):
        writer = make_client(client, staff["cpo"]["headers"], ["requests:write"])
        headers = client_token(client, writer)
        created = integration_file(client, headers, "w1")
        assert client.get(f"{URL}/{created['id']}", headers=headers).status_code == 403
