"""The console's administration over HTTP: the monthly access-record review (CPO, auditor),
staff accounts, API clients and webhook deliveries (CPO), the profile as loaded. Each page as
anonymous, as a role the API refuses, and as the CPO; bad input said beside its field and
changing nothing; each action the service's own (its access-record entry, its effect)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from app.integrations.delivery import MAX_ATTEMPTS, drain
from tests.console.support import another_browser, csrf, log_in
from tests.integrations.receiver import Receiver, deliveries, register
from tests.support import (
    PASSWORD,
    audit_entries,
    count_rows,
    file_request,
    make_settings,
    relogin,
    sql_rows,
)

PAGES = (
    "/console/admin",
    "/console/admin/access-record",
    "/console/admin/users",
    "/console/admin/clients",
    "/console/admin/webhooks",
    "/console/admin/profile",
)
CPO_ONLY = ("/console/admin/users", "/console/admin/clients", "/console/admin/webhooks")
POSTS = (
    "/console/admin/access-record/export",
    "/console/admin/access-record/reviews",
    "/console/admin/users",
    "/console/admin/users/usr_0000",
    "/console/admin/clients",
    "/console/admin/clients/cli_0000/rotate",
    "/console/admin/clients/cli_0000/revoke",
    "/console/admin/webhooks/deliveries/whd_0000/retry",
)
NEW_PASSWORD = "a long enough first password"
SECRET = re.compile(r'<code id="client-secret" class="secret">([^<]+)</code>')
CLIENT_ID = re.compile(r'<code id="client-id">([^<]+)</code>')


@pytest.fixture
def settings(database_url, tmp_path):
    """Receivers on 127.0.0.1 (the webhook test), and a low flag threshold: three reads of
    personal data in a day flag it."""
    return make_settings(
        database_url, tmp_path, webhook_allow_private=True, audit_flag_reads_per_day=2
    )


def _error_beside(html: str, field_id: str) -> bool:
    """The message stands beside the input, which is marked invalid and points at it."""
    invalid = re.search(rf'id="{field_id}"[^>]*aria-invalid="true"[^>]*{field_id}-error', html)
    return f'<p class="error" id="{field_id}-error">' in html and invalid is not None


def _token(client, credentials: dict):
    return client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
        },
    )


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/console/admin/users", {"email": "a\x00b@example.com", "role": "handler"}),
        ("/console/admin/clients", {"name": "a\x00b", "scopes": "requests:write"}),
        ("/console/admin/access-record/reviews", {"month": "2026-12", "note": "a\x00b"}),
        ("/console/admin/access-record/export", {"month": "2026-12", "reason": "a\x00b"}),
    ],
)
def test_a_nul_is_refused_at_the_edge_and_changes_nothing(client, staff, database_url, path, form):
    """A NUL in any form is the service's NUL guard's (core/nul_guard.py): a 422 naming the
    field, before any handler runs, as everywhere else in the service."""
    token = log_in(client, staff["cpo"]["email"])
    counts = [count_rows(database_url, t) for t in ("staff_user", "api_client", "audit_review")]
    downloads = len(audit_entries(database_url, "download"))
    response = client.post(path, data={"csrf_token": token, "password": NEW_PASSWORD, **form})
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "nul_character"
    assert [count_rows(database_url, t) for t in ("staff_user", "api_client", "audit_review")] == (
        counts
    )
    assert len(audit_entries(database_url, "download")) == downloads


class TestWhoMayOpen:
    def test_anonymous_goes_to_the_log_in(self, client):
        for path in PAGES:
            response = client.get(path, follow_redirects=False)
            assert (response.status_code, response.headers["location"]) == (
                303,
                "/console/login",
            ), path
        token = csrf(client.get("/console/login").text)
        for path in POSTS:
            response = client.post(path, data={"csrf_token": token}, follow_redirects=False)
            assert (response.status_code, response.headers["location"]) == (
                303,
                "/console/login",
            ), path

    def test_a_handler_is_refused_everything(self, client, staff):
        token = log_in(client, staff["handler"]["email"])
        assert "/console/admin" not in client.get("/console/").text  # no link to it
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 403, path
            assert "허용되지 않음" in response.text
        users = count_rows(client.app.state.ctx.settings.database_url, "staff_user")
        for path in POSTS:
            data = {"csrf_token": token, "email": "x@example.com", "role": "cpo"}
            data |= {"password": NEW_PASSWORD, "month": "2026-11", "reason": "x", "name": "x"}
            assert client.post(path, data=data).status_code == 403, path
        assert count_rows(client.app.state.ctx.settings.database_url, "staff_user") == users

    def test_an_auditor_reads_the_access_record_and_the_profile_only(self, client, staff):
        """As the API: the review is `Overseer` (CPO, auditor), accounts, clients and
        webhooks are the CPO's."""
        for path, api in (
            ("/console/admin/users", "/v1/staff/users"),
            ("/console/admin/clients", "/v1/staff/clients"),
            ("/console/admin/webhooks", "/v1/staff/webhooks"),
        ):
            assert client.get(api, headers=staff["auditor"]["headers"]).status_code == 403
        api = client.get("/v1/staff/audit/reviews", headers=staff["auditor"]["headers"])
        assert api.status_code == 200
        log_in(client, staff["auditor"]["email"])
        assert 'href="/console/admin"' in client.get("/console/").text
        for path in PAGES:
            expected = 403 if path in CPO_ONLY else 200
            assert client.get(path).status_code == expected, path
        index = client.get("/console/admin").text
        assert "/console/admin/users" not in index and "/console/admin/access-record" in index

    def test_the_cpo_opens_every_page(self, client, staff):
        log_in(client, staff["cpo"]["email"])
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["cache-control"] == "no-store"
        assert 'href="/console/admin"' in client.get("/console/").text
        users = client.get("/console/admin/users").text
        assert '<a href="/console/admin/users" aria-current="page">' in users
        assert '<caption class="visually-hidden">직원 계정</caption>' in users

    def test_a_post_without_the_csrf_token_is_refused(self, client, staff, database_url):
        log_in(client, staff["cpo"]["email"])
        users = count_rows(database_url, "staff_user")
        response = client.post(
            "/console/admin/users",
            data={"email": "new@example.com", "role": "handler", "password": NEW_PASSWORD},
        )
        assert response.status_code == 403
        assert count_rows(database_url, "staff_user") == users


class TestStaffAccounts:
    def test_a_created_account_logs_in(self, client, staff, database_url):
        token = log_in(client, staff["cpo"]["email"])
        response = client.post(
            "/console/admin/users",
            data={
                "csrf_token": token,
                "email": "New.Handler@example.com",
                "role": "handler",
                "password": NEW_PASSWORD,
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/console/admin/users?done=created"
        page = client.get(response.headers["location"]).text
        assert "new.handler@example.com" in page and NEW_PASSWORD not in page
        grants = [d for _, a, d in audit_entries(database_url, "grant")]
        assert any(d.get("role") == "handler" for d in grants)
        with another_browser(client.app) as (other, _):
            log_in(other, "new.handler@example.com", NEW_PASSWORD)
            assert other.get("/console/").status_code == 200

    def test_deactivation_ends_an_open_console_session(self, client, staff, database_url):
        with another_browser(client.app, staff["handler"]["email"]) as (other, _):
            assert other.get("/console/").status_code == 200
            token = log_in(client, staff["cpo"]["email"])
            user_id = staff["handler"]["id"]
            response = client.post(
                f"/console/admin/users/{user_id}",
                data={"csrf_token": token, "action": "deactivate"},
                follow_redirects=False,
            )
            assert response.status_code == 303, response.text
            gone = other.get("/console/", follow_redirects=False)
            assert (gone.status_code, gone.headers["location"]) == (
                303,
                "/console/login?done=session_ended",
            )
            refused = other.post(
                "/console/login",
                data={
                    "csrf_token": csrf(other.get("/console/login").text),
                    "username": staff["handler"]["email"],
                    "password": PASSWORD,
                },
            )
            assert refused.status_code == 401
        assert sql_rows(database_url, "SELECT active FROM staff_user WHERE id = :id", id=user_id)[
            0
        ][0] in (False, 0)
        assert [d for _, _, d in audit_entries(database_url, "deactivated")] == [{"user": user_id}]
        # Reactivated, they log in again.
        response = client.post(
            f"/console/admin/users/{user_id}",
            data={"csrf_token": token, "action": "activate"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        with another_browser(client.app, staff["handler"]["email"]) as (other, _):
            assert other.get("/console/").status_code == 200

    def test_a_new_role_ends_the_sessions_and_takes_effect(self, client, staff, database_url):
        with another_browser(client.app, staff["auditor"]["email"]) as (other, _):
            token = log_in(client, staff["cpo"]["email"])
            response = client.post(
                f"/console/admin/users/{staff['auditor']['id']}",
                data={"csrf_token": token, "action": "role", "role": "handler"},
                follow_redirects=False,
            )
            assert response.status_code == 303, response.text
            assert other.get("/console/", follow_redirects=False).status_code == 303
        changed = [d for _, _, d in audit_entries(database_url, "role_changed")]
        assert changed == [{"user": staff["auditor"]["id"], "from": "auditor", "to": "handler"}]
        with another_browser(client.app, staff["auditor"]["email"]) as (other, _):
            assert other.get("/console/intake").status_code == 200  # a handler's page now

    def test_a_lock_out_is_lifted(self, client, staff, database_url):
        with another_browser(client.app) as (other, token):
            for _ in range(5):
                other.post(
                    "/console/login",
                    data={
                        "csrf_token": token,
                        "username": staff["handler"]["email"],
                        "password": "wrong password here",
                    },
                )
        token = log_in(client, staff["cpo"]["email"])
        page = client.get("/console/admin/users").text
        assert "잠금 해제" in page
        response = client.post(
            f"/console/admin/users/{staff['handler']['id']}",
            data={"csrf_token": token, "action": "unlock"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert len(audit_entries(database_url, "unlocked")) == 1
        with another_browser(client.app, staff["handler"]["email"]) as (other, _):
            assert other.get("/console/").status_code == 200

    @pytest.mark.parametrize(
        ("form", "field"),
        [
            ({"email": "not an address"}, "email"),
            ({"email": "x" * 300 + "@example.com"}, "email"),
            ({"email": "cpo@example.com"}, "email"),  # taken: a 409 beside the e-mail
            ({"role": "root"}, "role"),
            ({"role": ""}, "role"),
            ({"password": "short"}, "password"),
            ({"password": "x" * 1001}, "password"),
        ],
    )
    def test_bad_input_is_said_beside_its_field(self, client, staff, database_url, form, field):
        token = log_in(client, staff["cpo"]["email"])
        users = count_rows(database_url, "staff_user")
        grants = len(audit_entries(database_url, "grant"))
        data = {"email": "new@example.com", "role": "handler", "password": NEW_PASSWORD} | form
        response = client.post("/console/admin/users", data={"csrf_token": token, **data})
        assert response.status_code in (409, 422), response.text
        assert _error_beside(response.text, f"create-{field}"), response.text
        assert f'href="#create-{field}"' in response.text  # the summary links to it
        assert count_rows(database_url, "staff_user") == users
        assert len(audit_entries(database_url, "grant")) == grants

    def test_changes_the_service_refuses(self, client, staff, database_url):
        token = log_in(client, staff["cpo"]["email"])
        me = staff["cpo"]["id"]
        cases = [
            (me, {"action": "deactivate"}, 409, "자신의 계정"),  # own account
            (me, {"action": "role", "role": "handler"}, 409, "마지막"),  # the last CPO
            (me, {"action": "role", "role": "root"}, 422, None),
            (me, {"action": "explode"}, 422, None),
            ("usr_nobody", {"action": "unlock"}, 404, None),
            ("usr_%00", {"action": "unlock"}, 404, None),
            ("x" * 300, {"action": "unlock"}, 404, None),
        ]
        for user_id, form, status, words in cases:
            response = client.post(
                f"/console/admin/users/{user_id}", data={"csrf_token": token, **form}
            )
            assert response.status_code == status, (user_id, form, response.text)
            if status != 404:
                assert f'id="user-{me}-error"' in response.text
            if words:
                assert words in response.text
        assert sql_rows(database_url, "SELECT role, active FROM staff_user WHERE id = :id", id=me)[
            0
        ][0] == ("cpo")
        for action in ("role_changed", "deactivated", "unlocked"):
            assert audit_entries(database_url, action) == []


class TestApiClients:
    def test_the_secret_is_shown_once_and_works(self, client, staff, database_url):
        token = log_in(client, staff["cpo"]["email"])
        response = client.post(
            "/console/admin/clients",
            data={"csrf_token": token, "name": "쇼핑몰 앱", "scopes": ["requests:write"]},
            follow_redirects=False,
        )
        assert response.status_code == 200, response.text  # the answer itself, no redirect
        assert response.headers["cache-control"] == "no-store"
        secret = SECRET.search(response.text).group(1)
        credentials = {"client_id": CLIENT_ID.search(response.text).group(1)}
        credentials["client_secret"] = secret
        issued = _token(client, credentials)
        assert issued.status_code == 200, issued.text
        listing = client.get("/console/admin/clients").text
        assert "쇼핑몰 앱" in listing and credentials["client_id"] in listing
        assert secret not in listing
        assert len(audit_entries(database_url, "client_granted")) == 1

        # A new secret: the old one is refused at once, the new one works.
        rotated = client.post(
            f"/console/admin/clients/{credentials['client_id']}/rotate",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = SECRET.search(rotated.text).group(1)
        assert new_secret != secret
        assert _token(client, credentials).status_code == 401
        credentials["client_secret"] = new_secret
        assert _token(client, credentials).status_code == 200
        assert secret not in client.get("/console/admin/clients").text

        # Revoked: nothing works, and it can no longer be rotated.
        revoked = client.post(
            f"/console/admin/clients/{credentials['client_id']}/revoke",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert (revoked.status_code, revoked.headers["location"]) == (
            303,
            "/console/admin/clients?done=revoked",
        )
        assert _token(client, credentials).status_code == 401
        again = client.post(
            f"/console/admin/clients/{credentials['client_id']}/rotate",
            data={"csrf_token": token},
        )
        assert again.status_code == 409
        assert f'id="client-{credentials["client_id"]}-error"' in again.text
        assert "client-secret" not in again.text

    @pytest.mark.parametrize(
        ("form", "field"),
        [
            ({"scopes": []}, "scopes"),
            ({"scopes": ["everything"]}, "scopes"),
            ({"scopes": ["tasks:read"]}, "systems"),  # a task scope needs its systems
            ({"scopes": ["tasks:read"], "systems": ["nowhere"]}, "systems"),
            ({"name": ""}, "name"),
            ({"name": "x" * 81}, "name"),
        ],
    )
    def test_bad_input_is_said_beside_its_field(self, client, staff, database_url, form, field):
        token = log_in(client, staff["cpo"]["email"])
        data = {"name": "Shop app", "scopes": ["requests:write"]} | form
        response = client.post("/console/admin/clients", data={"csrf_token": token, **data})
        assert response.status_code == 422, response.text
        assert f'id="create-{field}-error"' in response.text
        assert "client-secret" not in response.text
        assert count_rows(database_url, "api_client") == 0

    def test_an_unknown_client_is_404(self, client, staff):
        token = log_in(client, staff["cpo"]["email"])
        for path in ("cli_nothing/rotate", "cli_nothing/revoke", "%00/rotate"):
            response = client.post(f"/console/admin/clients/{path}", data={"csrf_token": token})
            assert response.status_code == 404, path


class TestWebhooks:
    def test_a_failed_delivery_is_sent_again(self, client, staff, clock, database_url):
        with Receiver(default=500) as receiver:
            hook = register(client, staff["cpo"]["headers"], receiver, events=["request.created"])
            file_request(client)
            ctx = client.app.state.ctx
            while True:  # retried with backoff for about a day, then failed
                (row,) = sql_rows(
                    database_url, "SELECT status, next_attempt_at FROM webhook_delivery"
                )
                if row[0] != "pending":
                    break
                clock.advance(days=1)
                drain(ctx.db, ctx)
            relogin(client, staff)
            (failed,) = deliveries(client, staff["cpo"]["headers"], hook["id"])
            assert (failed["status"], failed["attempts"]) == ("failed", MAX_ATTEMPTS)

            token = log_in(client, staff["cpo"]["email"])
            page = client.get("/console/admin/webhooks").text
            assert receiver.url in page and "실패" in page
            action = f"/console/admin/webhooks/deliveries/{failed['id']}/retry"
            assert f'action="{action}"' in page
            receiver.default = 200
            response = client.post(action, data={"csrf_token": token}, follow_redirects=False)
            assert (response.status_code, response.headers["location"]) == (
                303,
                "/console/admin/webhooks?done=retried",
            )
            (sent,) = deliveries(client, staff["cpo"]["headers"], hook["id"])
            assert (sent["status"], sent["attempts"]) == ("delivered", MAX_ATTEMPTS + 1)
            assert receiver.ids()[-1] == failed["id"]
            assert len(audit_entries(database_url, "webhook_delivery_retried")) == 1

            # Not failed any more: refused beside its row, nothing recorded.
            again = client.post(action, data={"csrf_token": token})
            assert again.status_code == 409
            assert f'id="delivery-{failed["id"]}-error"' in again.text
            assert len(audit_entries(database_url, "webhook_delivery_retried")) == 1
        bad = client.post(
            "/console/admin/webhooks/deliveries/whd_nothing/retry", data={"csrf_token": token}
        )
        assert bad.status_code == 404


class TestAccessRecordReview:
    def _ended_month(self, client, staff, clock) -> str:
        """Three opened requests in December 2026 (a flagged day), then January 2027."""
        filed = file_request(client)
        for _ in range(3):
            client.get(f"/v1/staff/requests/{filed['id']}", headers=staff["cpo"]["headers"])
        clock.advance(days=35)
        return "2026-12"

    def test_a_review_is_recorded_and_shown(self, client, staff, clock, database_url):
        month = self._ended_month(client, staff, clock)
        token = log_in(client, staff["cpo"]["email"])
        page = client.get("/console/admin/access-record").text
        assert "2026-12" in page and "검토하지 않음" in page
        row = re.search(r'<th scope="row">2026-12</th>(.*?)</tr>', page, re.S).group(1)
        assert "검토하지 않음" in row
        assert "2026년 12월 1일: cpo@example.com, 3회 열람" in row  # a flagged day, by e-mail
        response = client.post(
            "/console/admin/access-record/reviews",
            data={"csrf_token": token, "month": month, "note": "이상 없음을 확인함"},
            follow_redirects=False,
        )
        assert (response.status_code, response.headers["location"]) == (
            303,
            "/console/admin/access-record?done=reviewed",
        )
        page = client.get(response.headers["location"]).text
        assert "이상 없음을 확인함" in page and "검토 완료" in page
        relogin(client, staff)
        api = client.get("/v1/staff/audit/reviews", headers=staff["auditor"]["headers"]).json()
        assert [(r["month"], r["note"]) for r in api["items"]] == [(month, "이상 없음을 확인함")]
        assert api["unreviewed"] == []
        assert len(audit_entries(database_url, "review")) == 1

        again = client.post(
            "/console/admin/access-record/reviews",
            data={"csrf_token": token, "month": month},
        )
        assert again.status_code == 409
        assert _error_beside(again.text, "review-month")
        assert "이미 점검" in again.text

    @pytest.mark.parametrize(
        ("form", "field", "words"),
        [
            ({"month": "2026-13"}, "month", "YYYY-MM"),
            ({"month": "2027-01"}, "month", "끝난"),  # the current month has not ended
            ({"month": "2026-11"}, "month", "시작되기 전"),  # before the record began
            ({"month": "x" * 5000}, "month", None),
            ({"note": "a\x07b"}, "note", None),  # a control character
            ({"note": "x" * 2001}, "note", None),
        ],
    )
    def test_bad_input_is_said_beside_its_field(
        self, client, staff, clock, database_url, form, field, words
    ):
        self._ended_month(client, staff, clock)
        token = log_in(client, staff["auditor"]["email"])  # the API lets an auditor review
        data = {"month": "2026-12", "note": "확인"} | form
        response = client.post(
            "/console/admin/access-record/reviews", data={"csrf_token": token, **data}
        )
        assert response.status_code == 422, response.text
        assert _error_beside(response.text, f"review-{field}"), response.text
        if words:
            assert words in response.text
        assert count_rows(database_url, "audit_review") == 0

    def test_a_month_is_exported_with_its_reason(self, client, staff, clock, database_url):
        month = self._ended_month(client, staff, clock)
        token = log_in(client, staff["auditor"]["email"])
        response = client.post(
            "/console/admin/access-record/export",
            data={"csrf_token": token, "month": month, "reason": "월간 점검", "format": "csv"},
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["cache-control"] == "no-store"
        assert 'filename="access-record-2026-12.csv"' in response.headers["content-disposition"]
        rows = list(
            csv.reader(io.StringIO(response.content.decode("utf-8").removeprefix("\ufeff")))
        )
        assert rows[0][:4] == ["seq", "at", "actor", "action"] and len(rows) > 4
        exported = client.post(
            "/console/admin/access-record/export",
            data={"csrf_token": token, "month": month, "reason": "월간 점검", "format": "json"},
        )
        body = json.loads(exported.content)
        assert body["month"] == month and body["rows"] == len(rows) - 1
        assert [f["reads"] for f in body["flags"]] == [3]
        downloads = [d for _, _, d in audit_entries(database_url, "download")]
        assert [(d["month"], d["reason"], d["format"]) for d in downloads] == [
            (month, "월간 점검", "csv"),
            (month, "월간 점검", "json"),
        ]

    @pytest.mark.parametrize(
        ("form", "field"),
        [
            ({"reason": ""}, "reason"),
            ({"reason": "a\nb"}, "reason"),  # one line
            ({"reason": "x" * 201}, "reason"),
            ({"month": "2027-02"}, "month"),  # not begun yet
            ({"month": "nope"}, "month"),
            ({"format": "xlsx"}, "format"),
        ],
    )
    def test_a_bad_export_is_said_beside_its_field(
        self, client, staff, clock, database_url, form, field
    ):
        self._ended_month(client, staff, clock)
        token = log_in(client, staff["cpo"]["email"])
        data = {"month": "2026-12", "reason": "월간 점검", "format": "csv"} | form
        response = client.post(
            "/console/admin/access-record/export", data={"csrf_token": token, **data}
        )
        assert response.status_code == 422, response.text
        assert _error_beside(response.text, f"export-{field}"), response.text
        assert audit_entries(database_url, "download") == []


def test_the_profile_as_loaded(client, staff):
    public = client.get("/v1/profile/public").json()
    ctx = client.app.state.ctx
    log_in(client, staff["cpo"]["email"])
    page = client.get("/console/admin/profile").text
    assert public["company_ko"] in page
    for right in public["rights"]:
        assert right["name_ko"] in page
    for key in ctx.profile.retention:
        assert f"<code>{key}</code>" in page
    for processor in ctx.profile.processors.values():
        assert processor.name in page
    client.cookies.set("rd_lang", "en", path="/")
    english = client.get("/console/admin/profile").text
    assert public["company_en"] in english and "Retention rules" in english
