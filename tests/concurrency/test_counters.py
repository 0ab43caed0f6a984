"""Counters and limits under real parallelism (issue 7): wrong codes, right codes, wrong
passwords, resends, documents and filings per e-mail. Each limit must hold when N callers
race on it, and a lost race is a clean 4xx, never a 500."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support import file_request, latest_code, make_settings, make_staff, sql_rows, verified


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _statuses(responses) -> Counter:
    return Counter(r.status_code for r in responses)


def _types(responses) -> Counter:
    return Counter(r.json()["type"] for r in responses)


@pytest.fixture
def settings(request, database_url, tmp_path):
    """The usual test settings, with overrides from indirect parametrisation."""
    return make_settings(database_url, tmp_path, **getattr(request, "param", {}))


class TestCodes:
    def test_parallel_wrong_codes_are_checked_at_most_the_limit(
        self, client, outbox_dir, settings, database_url, race
    ):
        created = file_request(client)
        rid, code = created["id"], latest_code(outbox_dir, created["id"])
        n, limit = 50, settings.code_max_attempts

        responses = race(
            n,
            lambda _: client.post(f"/v1/requests/{rid}/verification", json={"code": _wrong(code)}),
        )

        assert _statuses(responses) == {400: n}
        invalid = [r.json() for r in responses if r.json()["type"] == "/problems/code-invalid"]
        # Each counted wrong try says how many are left, once each: 4, 3, 2, 1.
        assert sorted(p["attempts_left"] for p in invalid) == list(range(1, limit))
        assert _types(responses)["/problems/code-locked"] == n - (limit - 1)
        [(attempts,)] = sql_rows(
            database_url, "SELECT attempts FROM verification_code WHERE request_id = :r", r=rid
        )
        assert attempts == limit
        [(failed,)] = sql_rows(
            database_url,
            "SELECT count(*) FROM timeline_event WHERE request_id = :r "
            "AND kind = 'verification.failed'",
            r=rid,
        )
        assert failed == limit  # exactly `limit` codes were compared and counted
        # The right code is dead too.
        late = client.post(f"/v1/requests/{rid}/verification", json={"code": code})
        assert late.json()["type"] == "/problems/code-locked"

    def test_parallel_right_codes_give_one_token(self, client, outbox_dir, database_url, race):
        created = file_request(client)
        rid, code = created["id"], latest_code(outbox_dir, created["id"])
        n = 8

        responses = race(
            n, lambda _: client.post(f"/v1/requests/{rid}/verification", json={"code": code})
        )

        # The entries take turns on the request row: the first opens the request, each later
        # one finds the code used (not a 409 "changed at the same moment": retrying would not
        # help, and not a 500).
        assert _statuses(responses) == {200: 1, 400: n - 1}, [r.text for r in responses]
        assert _types(r for r in responses if r.status_code == 400) == {
            "/problems/code-used": n - 1
        }
        rows = sql_rows(
            database_url,
            "SELECT kind FROM timeline_event WHERE request_id = :r ORDER BY at, id",
            r=rid,
        )
        assert [k for (k,) in rows] == ["received", "status.open"]
        [(status, version)] = sql_rows(
            database_url, "SELECT status, version FROM request WHERE id = :r", r=rid
        )
        assert (status, version) == ("open", 2)


class TestResend:
    def test_parallel_resends_respect_the_cooldown(self, client, clock, race):
        created = file_request(client)
        rid = created["id"]
        clock.advance(minutes=2)  # past the cooldown of the code sent at filing
        n = 20

        responses = race(n, lambda _: client.post(f"/v1/requests/{rid}/verification/resend"))

        assert _statuses(responses) == {202: 1, 429: n - 1}

    @pytest.mark.parametrize("settings", [{"code_resend_cooldown_seconds": 0}], indirect=True)
    def test_parallel_resends_respect_the_hourly_limit(self, client, settings, database_url, race):
        created = file_request(client)
        rid = created["id"]
        n, limit = 20, settings.code_max_per_hour

        responses = race(n, lambda _: client.post(f"/v1/requests/{rid}/verification/resend"))

        # The code sent at filing counts: limit - 1 more this hour.
        assert _statuses(responses) == {202: limit - 1, 429: n - (limit - 1)}
        [(codes,)] = sql_rows(
            database_url, "SELECT count(*) FROM verification_code WHERE request_id = :r", r=rid
        )
        assert codes == limit
        [(live,)] = sql_rows(
            database_url,
            "SELECT count(*) FROM verification_code WHERE request_id = :r "
            "AND revoked_at IS NULL AND used_at IS NULL",
            r=rid,
        )
        assert live == 1  # each resend revoked the one before it


PDF = b"%PDF-1.7\n" + b"counter test " * 20 + b"\n%%EOF\n"


class TestDocuments:
    def test_parallel_uploads_respect_the_per_request_limit(
        self, client, outbox_dir, settings, database_url, race
    ):
        created, headers = verified(client, outbox_dir)
        rid = created["id"]
        limit = settings.max_documents_per_request
        n = limit + 6

        responses = race(
            n,
            lambda _: client.post(
                f"/v1/requests/{rid}/documents",
                headers=headers,
                data={"kind": "identity_proof"},
                files={"file": ("id.pdf", PDF, "application/pdf")},
            ),
        )

        assert _statuses(responses) == {201: limit, 409: n - limit}
        [(stored,)] = sql_rows(
            database_url, "SELECT count(*) FROM document WHERE request_id = :r", r=rid
        )
        assert stored == limit


class TestLogIn:
    def test_parallel_wrong_passwords_lock_the_account(
        self, app, client, settings, database_url, race
    ):
        user_id = make_staff(app, "racer@example.com", "handler")
        n, limit = 30, settings.login_max_failures

        responses = race(
            n,
            lambda _: client.post(
                "/v1/auth/token", data={"username": "racer@example.com", "password": "wrong" * 3}
            ),
        )

        assert _statuses(responses) == {401: limit, 423: n - limit}
        actions = Counter(
            a
            for (a,) in sql_rows(
                database_url,
                "SELECT action FROM audit_entry WHERE actor = :a",
                a=f"staff:{user_id}",
            )
        )
        assert actions == {
            "login_failed": limit - 1,
            "account_locked": 1,
            "login_refused": n - limit,
        }
        [(failed, locked_until)] = sql_rows(
            database_url,
            "SELECT failed_logins, locked_until FROM staff_user WHERE id = :u",
            u=user_id,
        )
        assert failed == 0 and locked_until is not None


class TestFilings:
    def test_parallel_filings_across_processes_respect_the_hourly_limit(
        self, client, settings, database_url, clock, race
    ):
        """Six app instances (six API worker processes, each with its own engine and group
        writer) file at once for an address one filing short of its hourly limit."""
        limit, workers, rounds = settings.intake_max_per_email_per_hour, 6, 3
        with ExitStack() as stack:
            clients = [client] + [
                stack.enter_context(
                    TestClient(create_app(settings, clock), raise_server_exceptions=False)
                )
                for _ in range(workers - 1)
            ]
            for r in range(rounds):
                body = {
                    "type": "access",
                    "subject": {"name": "김철수", "email": f"flood{r}@example.com"},
                    "locale": "ko",
                }
                for _ in range(limit - 1):
                    file_request(client, **body)
                responses = race(
                    2 * workers, lambda i: clients[i % workers].post("/v1/requests", json=body)
                )
                got = _statuses(responses)
                assert got == {201: 1, 429: 2 * workers - 1}, f"round {r}: {got}"
        [(filed,)] = sql_rows(database_url, "SELECT count(*) FROM request")
        assert filed == limit * rounds
