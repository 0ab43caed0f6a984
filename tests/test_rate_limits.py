"""Rate limits per client address and per identifier (issue 11, item 1): under the limit the
routes answer as usual, over it a 429 problem with Retry-After (the seconds left in the
window), and once the window has passed they answer again. The client address is the peer's,
or behind a trusted proxy the right-most X-Forwarded-For hop that is not a proxy."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.core.config import RATE_LIMITS, RateLimit, Settings
from app.core.rate_limit import purge_expired
from app.main import create_app
from tests.support import (
    PASSWORD,
    T0,
    client_token,
    file_request,
    latest_code,
    make_client,
    make_settings,
    make_staff,
    request_body,
    rightsdesk_process,
    sql_rows,
)

HOUR = 3600
# T0 is 01:00 UTC: an hour's window ends in an hour, a day's at midnight UTC, 23 hours on.
TO_MIDNIGHT = 23 * HOUR


def _limited(response, retry_after: int) -> dict:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["Retry-After"] == str(retry_after)
    body = response.json()
    assert body["type"] == "/problems/rate-limited" and body["status"] == 429
    assert body["retry_after"] == retry_after
    assert f"try again in {retry_after} seconds" in body["detail"]
    return body


def _rate_limited_entries(database_url: str) -> list[tuple]:
    rows = sql_rows(
        database_url,
        "SELECT actor, request_id, ip, detail FROM audit_entry WHERE action = 'rate_limited' "
        "ORDER BY seq",
    )
    return [(a, r, ip, d if isinstance(d, dict) else json.loads(d)) for a, r, ip, d in rows]


@pytest.fixture
def build(app, database_url, tmp_path, clock):
    """build(peer=…, **settings) → a client of an app with these settings (the `app` fixture
    cleans the database afterwards)."""
    opened: list[TestClient] = []

    def make(peer: str = "testclient", **overrides) -> TestClient:
        application = create_app(make_settings(database_url, tmp_path, **overrides), clock)
        client = TestClient(application, raise_server_exceptions=False, client=(peer, 50000))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in reversed(opened):
        client.__exit__(None, None, None)


class TestFiling:
    def test_per_address(self, build, clock, database_url):
        c = build(rate_limit_filing_per_address="3/hour")
        for i in range(3):
            file_request(c, subject={"name": "홍길동", "email": f"f{i}@example.com"})

        refused = c.post("/v1/requests", json=request_body())
        body = _limited(refused, HOUR)
        assert "filings from your network" in body["detail"]
        assert sql_rows(database_url, "SELECT count(*) FROM request") == [(3,)]  # nothing filed

        clock.advance(minutes=59, seconds=30)
        _limited(c.post("/v1/requests", json=request_body()), 30)
        clock.advance(seconds=30)
        file_request(c)

    def test_off(self, build):
        c = build(rate_limit_filing_per_address="off")
        for i in range(4):
            file_request(c, subject={"name": "홍길동", "email": f"o{i}@example.com"})


class TestSignIn:
    def test_per_address_whatever_the_reference(self, build, clock):
        c = build(rate_limit_sign_in_per_address="3/hour", rate_limit_sign_in_per_reference="off")
        ref = file_request(c)["reference"]
        email = "hong.gildong@example.com"
        for reference in (ref, "RD-2026-999999", ref):
            r = c.post("/v1/requests/sign-in", json={"reference": reference, "email": email})
            assert r.status_code == 202, r.text
        # Refused alike whether the reference exists or not: the 429 tells nothing either.
        for reference in (ref, "RD-2026-999999"):
            r = c.post("/v1/requests/sign-in", json={"reference": reference, "email": email})
            _limited(r, HOUR)
        clock.advance(hours=1)
        assert (
            c.post("/v1/requests/sign-in", json={"reference": ref, "email": email}).status_code
            == 202
        )

    def test_per_reference_in_any_case(self, build, clock):
        c = build(rate_limit_sign_in_per_reference="2/hour")
        ref = file_request(c)["reference"]
        for reference in (ref, ref.lower()):
            r = c.post(
                "/v1/requests/sign-in", json={"reference": reference, "email": "a@b.example"}
            )
            assert r.status_code == 202
        body = _limited(
            c.post("/v1/requests/sign-in", json={"reference": ref, "email": "c@d.example"}), HOUR
        )
        assert "for this reference" in body["detail"]
        other = c.post(
            "/v1/requests/sign-in", json={"reference": "RD-2026-000999", "email": "a@b.example"}
        )
        assert other.status_code == 202
        clock.advance(hours=1)
        assert (
            c.post(
                "/v1/requests/sign-in", json={"reference": ref, "email": "a@b.example"}
            ).status_code
            == 202
        )


class TestResend:
    def test_per_request_by_id_or_reference(self, build, clock, outbox_dir):
        c = build(
            rate_limit_resend_per_request="2/day",
            code_resend_cooldown_seconds=0,
            code_max_per_hour=50,
        )
        created = file_request(c)
        rid, ref = created["id"], created["reference"]
        assert c.post(f"/v1/requests/{rid}/verification/resend").status_code == 202
        assert c.post(f"/v1/requests/{ref}/verification/resend").status_code == 202
        body = _limited(c.post(f"/v1/requests/{ref}/verification/resend"), TO_MIDNIGHT)
        assert "code requests for this request" in body["detail"]
        other = file_request(c, subject={"name": "김철수", "email": "kim@example.com"})
        assert c.post(f"/v1/requests/{other['id']}/verification/resend").status_code == 202
        clock.advance(days=1)
        assert c.post(f"/v1/requests/{rid}/verification/resend").status_code == 202

    def test_per_address_counts_unknown_requests_too(self, build, clock):
        c = build(rate_limit_resend_per_address="2/hour")
        rid = file_request(c)["id"]
        assert c.post("/v1/requests/req_nosuchrequest/verification/resend").status_code == 404
        clock.advance(minutes=2)
        assert c.post(f"/v1/requests/{rid}/verification/resend").status_code == 202
        clock.advance(minutes=2)
        _limited(c.post(f"/v1/requests/{rid}/verification/resend"), HOUR - 4 * 60)


class TestCodeCheck:
    def test_per_request_refuses_even_the_right_code_then_lets_it_in(
        self, build, clock, outbox_dir, database_url
    ):
        c = build(rate_limit_code_check_per_request="3/day")
        rid = file_request(c)["id"]
        code = latest_code(outbox_dir, rid)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for left in (4, 3, 2):
            r = c.post(f"/v1/requests/{rid}/verification", json={"code": wrong})
            assert r.status_code == 400 and r.json()["attempts_left"] == left
        for _ in range(2):
            body = _limited(
                c.post(f"/v1/requests/{rid}/verification", json={"code": code}), TO_MIDNIGHT
            )
            assert "code entries for this request" in body["detail"]
        # The limit's refusals compared no code: the code's own count stands at 3 wrong tries.
        assert sql_rows(database_url, "SELECT attempts FROM verification_code") == [(3,)]
        # The access record has the first refusal of the window, once.
        entries = _rate_limited_entries(database_url)
        assert entries == [
            (
                "anonymous",
                rid,
                "testclient",
                {"limit": "code_check_per_request", "max": 3, "window_seconds": 86400},
            )
        ]

        clock.advance(days=1)  # the code has expired meanwhile: a new one, then in
        assert c.post(f"/v1/requests/{rid}/verification/resend").status_code == 202
        fresh = latest_code(outbox_dir, rid)
        r = c.post(f"/v1/requests/{rid}/verification", json={"code": fresh})
        assert r.status_code == 200, r.text

    def test_per_address_across_requests_and_unknown_ones(self, build, clock, database_url):
        c = build(rate_limit_code_check_per_address="3/hour")
        first = file_request(c)["id"]
        second = file_request(c, subject={"name": "김철수", "email": "kim@example.com"})["id"]
        assert (
            c.post(f"/v1/requests/{first}/verification", json={"code": "000000"}).status_code == 400
        )
        assert (
            c.post(f"/v1/requests/{second}/verification", json={"code": "000000"}).status_code
            == 400
        )
        r = c.post("/v1/requests/RD-2026-999999/verification", json={"code": "000000"})
        assert r.status_code == 404
        body = _limited(c.post(f"/v1/requests/{first}/verification", json={"code": "000000"}), HOUR)
        assert "code entries from your network" in body["detail"]
        entries = _rate_limited_entries(database_url)
        assert [(e[1], e[3]["limit"]) for e in entries] == [(None, "code_check_per_address")]
        clock.advance(hours=1)
        assert (
            c.post(f"/v1/requests/{first}/verification", json={"code": "000000"}).status_code == 400
        )


class TestStaffLogIn:
    def test_per_email_across_addresses(self, build, clock, database_url):
        proxy = build(
            peer="10.0.0.2",
            trusted_proxies="10.0.0.2",
            rate_limit_login_per_email="3/hour",
        )
        make_staff(proxy.app, "cpo@example.com", "cpo")
        make_staff(proxy.app, "other@example.com", "handler")

        def log_in(email: str, password: str, i: int):
            return proxy.post(
                "/v1/auth/token",
                data={"username": email, "password": password},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )

        for i in range(3):
            assert log_in("cpo@example.com", "wrong password!", i).status_code == 401
        # The right password from yet another address: refused, and no token.
        body = _limited(log_in(" CPO@example.com ", PASSWORD, 9), HOUR)
        assert "access_token" not in body and "for this account" in body["detail"]
        assert log_in("other@example.com", PASSWORD, 9).status_code == 200
        entries = _rate_limited_entries(database_url)
        assert entries == [
            (
                "anonymous",
                None,
                "198.51.100.9",
                {"limit": "login_per_email", "max": 3, "window_seconds": HOUR},
            )
        ]
        # Three failures are below the lock-out (5): once the window passes, the account opens.
        clock.advance(hours=1)
        assert log_in("cpo@example.com", PASSWORD, 1).status_code == 200

    def test_per_address(self, build, clock):
        c = build(rate_limit_login_per_address="2/hour")
        make_staff(c.app, "cpo@example.com", "cpo")
        assert (
            c.post(
                "/v1/auth/token", data={"username": "a@example.com", "password": "x"}
            ).status_code
            == 401
        )
        assert (
            c.post(
                "/v1/auth/token", data={"username": "cpo@example.com", "password": PASSWORD}
            ).status_code
            == 200
        )
        r = c.post("/v1/auth/token", data={"username": "cpo@example.com", "password": PASSWORD})
        _limited(r, HOUR)
        clock.advance(hours=1)
        assert (
            c.post(
                "/v1/auth/token", data={"username": "cpo@example.com", "password": PASSWORD}
            ).status_code
            == 200
        )


class TestIntegrations:
    def test_client_tokens_per_client(self, build, clock):
        c = build(rate_limit_client_token_per_client="2/hour")
        make_staff(c.app, "cpo@example.com", "cpo")
        cpo = {
            "Authorization": "Bearer "
            + c.post(
                "/v1/auth/token", data={"username": "cpo@example.com", "password": PASSWORD}
            ).json()["access_token"]
        }
        shop = make_client(c, cpo, ["requests:write"])
        other = make_client(c, cpo, ["requests:write"], name="Other")
        client_token(c, shop)
        bad = dict(shop, client_secret="rdcs_" + "x" * 40)
        form = {
            "grant_type": "client_credentials",
            **{k: bad[k] for k in ("client_id", "client_secret")},
        }
        assert c.post("/v1/auth/token", data=form).status_code == 401
        good = {
            "grant_type": "client_credentials",
            "client_id": shop["client_id"],
            "client_secret": shop["client_secret"],
        }
        body = _limited(c.post("/v1/auth/token", data=good), HOUR)
        assert "token requests for this client" in body["detail"]
        client_token(c, other)
        clock.advance(hours=1)
        client_token(c, shop)

    def test_filing_per_client(self, build, clock, database_url):
        c = build(rate_limit_integration_filing_per_client="2/hour")
        make_staff(c.app, "cpo@example.com", "cpo")
        cpo = {
            "Authorization": "Bearer "
            + c.post(
                "/v1/auth/token", data={"username": "cpo@example.com", "password": PASSWORD}
            ).json()["access_token"]
        }
        creds = make_client(c, cpo, ["requests:write"])
        shop = client_token(c, creds)

        def file(key: str, i: int):
            return c.post(
                "/v1/integrations/requests",
                headers={**shop, "Idempotency-Key": key},
                json=request_body(subject={"name": "홍길동", "email": f"i{i}@example.com"}),
            )

        assert file("k1", 1).status_code == 201
        assert file("k2", 2).status_code == 201
        body = _limited(file("k3", 3), HOUR)
        assert "filings for this client" in body["detail"]
        assert sql_rows(database_url, "SELECT count(*) FROM request") == [(2,)]
        clock.advance(hours=1)
        shop = client_token(c, creds)  # the first token has expired
        assert file("k3", 3).status_code == 201


class TestClientAddress:
    """Which address counts: the peer, or behind a trusted proxy the caller it saw."""

    def _audited_ip(self, client: TestClient, database_url: str, **headers) -> str:
        """Fail a log-in and read the address the access record gave it."""
        r = client.post(
            "/v1/auth/token", data={"username": "x@example.com", "password": "x"}, headers=headers
        )
        assert r.status_code == 401
        return sql_rows(
            database_url,
            "SELECT ip FROM audit_entry WHERE action = 'login_failed' ORDER BY seq DESC",
        )[0][0]

    def test_without_trusted_proxies_forwarded_for_is_ignored(self, build, database_url):
        c = build(rate_limit_filing_per_address="2/hour")
        for i in range(2):
            r = c.post(
                "/v1/requests",
                json=request_body(subject={"name": "홍길동", "email": f"s{i}@example.com"}),
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            assert r.status_code == 201
        # A guesser cannot make itself someone new by saying so.
        r = c.post("/v1/requests", json=request_body(), headers={"X-Forwarded-For": "203.0.113.77"})
        _limited(r, HOUR)
        assert self._audited_ip(c, database_url, **{"X-Forwarded-For": "1.2.3.4"}) == "testclient"

    def test_an_untrusted_peer_cannot_spoof(self, build, database_url):
        c = build(peer="192.0.2.50", trusted_proxies="10.0.0.0/8")
        assert self._audited_ip(c, database_url, **{"X-Forwarded-For": "10.0.0.9"}) == "192.0.2.50"

    def test_behind_trusted_proxies(self, build, database_url):
        c = build(
            peer="10.0.0.2",
            trusted_proxies="10.0.0.0/8, 2001:db8:ffff::/48",
            rate_limit_filing_per_address="1/hour",
        )
        ip = self._audited_ip
        assert ip(c, database_url) == "10.0.0.2"  # no header: the proxy itself
        assert ip(c, database_url, **{"X-Forwarded-For": "198.51.100.7"}) == "198.51.100.7"
        # The caller's own claims stand left of what the proxies appended: never read.
        spoof = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.3.0.1"}
        assert ip(c, database_url, **spoof) == "198.51.100.7"
        assert ip(c, database_url, **{"X-Forwarded-For": "[2001:db8::1]:443"}) == "2001:db8::1"
        assert ip(c, database_url, **{"X-Forwarded-For": "198.51.100.8:5000"}) == "198.51.100.8"
        assert ip(c, database_url, **{"X-Forwarded-For": "unknown"}) == "10.0.0.2"
        assert ip(c, database_url, **{"X-Forwarded-For": "10.9.9.9, 10.3.0.1"}) == "10.9.9.9"

        def file(forwarded: str, n: int):
            return c.post(
                "/v1/requests",
                json=request_body(subject={"name": "홍길동", "email": f"p{n}@example.com"}),
                headers={"X-Forwarded-For": forwarded},
            )

        assert file("198.51.100.7", 1).status_code == 201
        _limited(file("6.6.6.6, 198.51.100.7", 2), HOUR)  # the same caller, spoof or not
        assert file("198.51.100.8", 3).status_code == 201  # another caller has its own budget
        # IPv6 counts by /64: one subscriber cannot rotate through its own prefix.
        assert file("2001:db8:1:2::1", 4).status_code == 201
        _limited(file("2001:db8:1:2:ffff::9", 5), HOUR)
        assert file("2001:db8:1:3::1", 6).status_code == 201


class TestStorage:
    def test_keys_are_hashes_and_purge_drops_ended_windows(self, build, clock, database_url):
        c = build(
            peer="10.0.0.2",
            trusted_proxies="10.0.0.2",
            rate_limit_login_per_email="5/hour",
            rate_limit_code_check_per_request="5/day",
        )
        email = "someone@example.com"
        c.post(
            "/v1/auth/token",
            data={"username": email, "password": "x"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        rows = sql_rows(
            database_url, "SELECT name, key, count FROM rate_limit_bucket ORDER BY name"
        )
        assert [(n, k) for n, k, _ in rows] and all(len(k) == 64 for _, k, _ in rows)
        dump = repr(rows)
        assert email not in dump and "198.51.100.7" not in dump and "someone" not in dump
        assert {n for n, _, _ in rows} == {"login_per_address", "login_per_email"}

        rid = file_request(c)["id"]
        c.post(f"/v1/requests/{rid}/verification", json={"code": "000000"})
        ctx = c.app.state.ctx
        clock.advance(hours=1, minutes=10)  # the hour's windows ended (plus the grace)
        # log-in by address and by e-mail, filing and code check by address
        assert purge_expired(ctx.db, ctx) == 4
        left = sql_rows(database_url, "SELECT name FROM rate_limit_bucket")
        assert left == [("code_check_per_request",)]  # its day is not over
        clock.advance(days=1)
        assert purge_expired(ctx.db, ctx) == 1
        assert purge_expired(ctx.db, ctx) == 0


class TestSettings:
    def test_defaults_are_on_and_parse(self):
        s = Settings()
        limits = {name: s.rate_limit(name.removeprefix("rate_limit_")) for name in RATE_LIMITS}
        assert all(isinstance(v, RateLimit) for v in limits.values())
        assert limits["rate_limit_code_check_per_request"] == RateLimit(60, 86400)
        assert s.trusted_proxies == ""

    @pytest.mark.parametrize(
        "value, expected",
        [
            ("20/15 minutes", RateLimit(20, 900)),
            (" 5 / second ", RateLimit(5, 1)),
            ("100/Hours", RateLimit(100, 3600)),
            ("3/2 days", RateLimit(3, 172800)),
            ("OFF", None),
        ],
    )
    def test_forms(self, value, expected):
        assert Settings(rate_limit_login_per_email=value).rate_limit("login_per_email") == expected

    @pytest.mark.parametrize(
        ("env", "name"),
        [
            (
                {"RIGHTSDESK_TRUSTED_PROXIES": "10.0.0.1,proxy.internal"},
                "RIGHTSDESK_TRUSTED_PROXIES",
            ),
            ({"RIGHTSDESK_TRUSTED_PROXIES": "10.0.0.0/33"}, "RIGHTSDESK_TRUSTED_PROXIES"),
            (
                {"RIGHTSDESK_RATE_LIMIT_LOGIN_PER_EMAIL": "0/hour"},
                "RIGHTSDESK_RATE_LIMIT_LOGIN_PER_EMAIL",
            ),
            (
                {"RIGHTSDESK_RATE_LIMIT_FILING_PER_ADDRESS": "lots"},
                "RIGHTSDESK_RATE_LIMIT_FILING_PER_ADDRESS",
            ),
        ],
    )
    def test_a_malformed_setting_refuses_the_start_in_one_line(self, tmp_path, env, name):
        done = rightsdesk_process(env, "serve", "--port", "1", cwd=tmp_path)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and name in lines[0], done.stderr
        assert "Traceback" not in done.stderr
        assert list(tmp_path.iterdir()) == []


def test_the_window_is_the_clocks(clock):
    """Windows are aligned slices of time: the test clock starts on the hour."""
    assert T0.minute == 0 and T0.second == 0 and clock.now() == T0
    assert (T0 + timedelta(hours=23)).hour == 0
