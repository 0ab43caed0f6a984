"""The console over HTTP: every page and form as anonymous (to the log-in page), a role that
may not (refused), a form without its CSRF token (refused), and valid; the session row behind
the cookie (slides, idles out, ends on log-out and deactivation); what the access record gets."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from app.law.deadlines import SEOUL
from tests.console.support import another_browser, csrf, log_in, version_on
from tests.support import audit_entries as entries
from tests.support import file_request, sql_rows, verified

REF = "RD-2026-000001"
PDF = b"%PDF-1.7\n" + b"CONSOLE-PDF " * 20 + b"\n%%EOF\n"

PAGES = ["/console/", f"/console/requests/{REF}", "/console/intake"]
# Every form of the console but the log-in's: (path, fields).
FORMS = [
    ("/console/search", {"q": REF}),
    (f"/console/requests/{REF}/assign", {"version": "1", "assignee": "me"}),
    (f"/console/requests/{REF}/verify", {"version": "1", "outcome": "verified", "method": "x"}),
    (f"/console/requests/{REF}/extend/confirm", {"version": "1", "reason": "r", "due_date": ""}),
    (f"/console/requests/{REF}/extend", {"version": "1", "reason": "r", "due_date": ""}),
    (f"/console/requests/{REF}/decision", {"version": "1", "outcome": "granted"}),
    (f"/console/requests/{REF}/complete", {"version": "1"}),
    (f"/console/requests/{REF}/holds", {"version": "1", "category": "account"}),
    (f"/console/requests/{REF}/holds/hold_x/release", {"version": "1"}),
    (f"/console/requests/{REF}/tasks/task_x/complete", {"outcome": "done"}),
    (f"/console/requests/{REF}/tasks/task_x/waive", {"reason": "not needed"}),
    (f"/console/requests/{REF}/documents/doc_x", {"reason": "checking"}),
    ("/console/intake", {"channel": "letter"}),
]
# What an auditor (who reads only) may not post, and a handler may not either (the waiver).
ACTIONS = [f for f in FORMS if f[0] not in ("/console/search",)]


def _filed_pending(client) -> dict:
    """A request waiting for verification (no code entered)."""
    return file_request(client)


def _page(client, path: str):
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response


class TestAnonymous:
    @pytest.mark.parametrize("path", PAGES)
    def test_a_page_sends_to_the_log_in(self, client, path):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login"

    @pytest.mark.parametrize(("path", "fields"), FORMS)
    def test_a_form_sends_to_the_log_in(self, client, path, fields):
        token = csrf(client.get("/console/login").text)
        response = client.post(path, data={"csrf_token": token, **fields}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login"

    def test_the_log_in_page_carries_the_pages_headers(self, client):
        response = client.get("/console/login")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert '<html lang="ko">' in response.text
        assert 'name="username"' in response.text and 'name="password"' in response.text
        assert "style=" not in response.text


class TestCsrf:
    @pytest.mark.parametrize(("path", "fields"), [("/console/login", {}), *FORMS])
    def test_a_form_without_its_token_is_refused(self, app, client, staff, path, fields):
        log_in(client, "cpo@example.com")
        response = client.post(path, data=fields, follow_redirects=False)
        assert response.status_code == 403
        assert "양식의 유효 시간이 지났습니다" in response.text

    def test_a_token_from_another_browser_is_refused(self, app, client, staff):
        log_in(client, "cpo@example.com")
        with another_browser(app) as (_other, foreign):
            response = client.post("/console/search", data={"csrf_token": foreign, "q": REF})
        assert response.status_code == 403


class TestWrongRole:
    @pytest.mark.parametrize(("path", "fields"), ACTIONS)
    def test_the_auditor_may_not_act(self, client, staff, path, fields):
        token = log_in(client, "auditor@example.com")
        response = client.post(path, data={"csrf_token": token, **fields})
        assert response.status_code == 403
        assert "허용되지 않음" in response.text

    def test_the_auditor_may_not_enter_a_request(self, client, staff):
        log_in(client, "auditor@example.com")
        assert client.get("/console/intake").status_code == 403

    def test_a_handler_may_not_waive(self, client, staff):
        token = log_in(client, "handler@example.com")
        path, fields = f"/console/requests/{REF}/tasks/task_x/waive", {"reason": "not needed"}
        assert client.post(path, data={"csrf_token": token, **fields}).status_code == 403

    def test_the_auditor_sees_no_action_and_a_forged_decision_is_refused(
        self, app, client, staff, outbox_dir, database_url
    ):
        created, _ = verified(client, outbox_dir)
        token = log_in(client, "auditor@example.com")
        page = _page(client, f"/console/requests/{created['reference']}").text
        assert "/decision" not in page and "/assign" not in page
        forged = client.post(
            f"/console/requests/{created['reference']}/decision",
            data={"csrf_token": token, "version": "2", "outcome": "refused"},
        )
        assert forged.status_code == 403
        assert not sql_rows(database_url, "SELECT id FROM decision")

    def test_a_handler_does_not_see_another_handlers_request(self, app, client, staff, outbox_dir):
        created, _ = verified(client, outbox_dir)
        with another_browser(app, "cpo@example.com") as (cpo, token):
            page = _page(cpo, f"/console/requests/{created['reference']}").text
            given = cpo.post(
                f"/console/requests/{created['reference']}/assign",
                data={
                    "csrf_token": token,
                    "version": version_on(page),
                    "assignee": staff["handler2"]["id"],
                },
                follow_redirects=False,
            )
            assert given.status_code == 303, given.text
        log_in(client, "handler@example.com")
        assert client.get(f"/console/requests/{created['reference']}").status_code == 403
        queue = _page(client, "/console/?assignee=me").text
        assert created["reference"] not in queue


class TestSession:
    def test_the_cookie_is_strict_httponly_and_scoped_to_the_console(self, client, staff):
        token = csrf(client.get("/console/login").text)
        response = client.post(
            "/console/login",
            data={
                "csrf_token": token,
                "username": "cpo@example.com",
                "password": "correct horse battery staple",
            },
            follow_redirects=False,
        )
        cookie = next(c for c in response.headers.get_list("set-cookie") if "rd_console=" in c)
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # development; production sets it (Pages.secure)

    def test_log_in_is_a_console_session_row_and_an_entry(self, client, staff, database_url):
        log_in(client, "handler@example.com")
        rows = sql_rows(
            database_url,
            "SELECT kind, ended_at FROM staff_session WHERE user_id = :u AND kind = 'console'",
            u=staff["handler"]["id"],
        )
        assert len(rows) == 1 and rows[0][1] is None
        logins = [e for e in entries(database_url, "login") if e[2].get("kind") == "console"]
        assert logins and logins[-1][0] == f"staff:{staff['handler']['id']}"

    def test_wrong_password_then_lock_out_as_the_api(self, client, staff, database_url):
        token = csrf(client.get("/console/login").text)
        for _ in range(5):
            wrong = client.post(
                "/console/login",
                data={"csrf_token": token, "username": "cpo@example.com", "password": "nope"},
            )
            assert wrong.status_code == 401
            assert "올바르지 않습니다" in wrong.text
        locked = client.post(
            "/console/login",
            data={
                "csrf_token": token,
                "username": "cpo@example.com",
                "password": "correct horse battery staple",
            },
        )
        assert locked.status_code == 423
        assert entries(database_url, "account_locked")

    def test_empty_fields_are_named(self, client):
        token = csrf(client.get("/console/login").text)
        response = client.post("/console/login", data={"csrf_token": token})
        assert response.status_code == 422
        assert 'id="f-username"' in response.text and "aria-invalid" in response.text

    def test_log_out_ends_the_row_and_the_cookie_stops_working(self, client, staff, database_url):
        token = log_in(client, "cpo@example.com")
        cookie = client.cookies.get("rd_console")
        response = client.post(
            "/console/logout", data={"csrf_token": token}, follow_redirects=False
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login?done=logged_out"
        assert "로그아웃했습니다." in client.get(response.headers["location"]).text
        # Only the known reasons are ever shown; anything else in `done` is ignored.
        assert "notice" not in client.get("/console/login?done=%3Cb%3Ehi").text
        reasons = sql_rows(
            database_url,
            "SELECT ended_reason FROM staff_session WHERE kind = 'console'",
        )
        assert reasons == [("logout",)]
        client.cookies.set("rd_console", cookie, path="/console")
        assert client.get("/console/", follow_redirects=False).status_code == 303

    def test_the_session_slides_while_used_and_ends_when_idle(
        self, client, staff, clock, database_url
    ):
        log_in(client, "cpo@example.com")
        for _ in range(3):  # 60 minutes in all, never 30 idle
            clock.advance(minutes=20)
            assert client.get("/console/", follow_redirects=False).status_code == 200
        clock.advance(minutes=31)
        ended = client.get("/console/", follow_redirects=False)
        assert ended.status_code == 303
        assert ended.headers["location"] == "/console/login?done=session_ended"
        assert "세션이 종료되었습니다" in client.get(ended.headers["location"]).text
        assert client.get("/console/", follow_redirects=False).headers["location"] == (
            "/console/login"  # the dead cookie went with the first answer
        )
        assert sql_rows(
            database_url, "SELECT ended_reason FROM staff_session WHERE kind = 'console'"
        ) == [("idle",)]

    def test_the_absolute_limit_ends_it(self, client, staff, clock, database_url):
        log_in(client, "cpo@example.com")
        for _ in range(35):  # 11 h 40 min of work, a page every 20 minutes
            clock.advance(minutes=20)
            assert client.get("/console/", follow_redirects=False).status_code == 200
        clock.advance(minutes=20)  # 12 hours after the log-in
        assert client.get("/console/", follow_redirects=False).status_code == 303
        assert sql_rows(
            database_url, "SELECT ended_reason FROM staff_session WHERE kind = 'console'"
        ) == [("expired",)]

    def test_the_log_in_page_sends_a_logged_in_user_to_the_queue(self, client, staff):
        log_in(client, "cpo@example.com")
        response = client.get("/console/login", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/"

    @pytest.mark.parametrize("change", [{"active": False}, {"role": "auditor"}])
    def test_deactivation_or_a_role_change_ends_an_open_session(self, client, staff, change):
        log_in(client, "handler@example.com")
        assert client.get("/console/", follow_redirects=False).status_code == 200
        response = client.patch(
            f"/v1/staff/users/{staff['handler']['id']}",
            headers=staff["cpo"]["headers"],
            json=change,
        )
        assert response.status_code == 200, response.text
        assert client.get("/console/", follow_redirects=False).status_code == 303

    def test_a_forged_cookie_is_nobody(self, client, staff):
        client.cookies.set("rd_console", "ses_forged." + "x" * 43, path="/console")
        assert client.get("/console/", follow_redirects=False).status_code == 303


class TestQueue:
    def test_open_work_by_deadline_with_days_left_in_words(self, client, staff, clock):
        first = file_request(client)
        clock.advance(days=8)
        second = file_request(client, subject={"name": "김철수", "email": "kim@example.com"})
        log_in(client, "cpo@example.com")
        page = _page(client, "/console/").text
        assert page.index(first["reference"]) < page.index(second["reference"])
        assert re.search(r'class="days soon">\d일 남음', page)
        clock.advance(days=30)
        log_in(client, "cpo@example.com")  # a month idle: the session ended
        page = _page(client, "/console/?overdue=1").text
        assert 'class="days overdue">' in page and "일 지남" in page

    def test_filters(self, client, staff, outbox_dir):
        pending = file_request(client)
        created, _ = verified(client, outbox_dir, subject={"name": "김", "email": "k@example.com"})
        log_in(client, "cpo@example.com")
        page = _page(client, "/console/?status=pending_verification").text
        assert pending["reference"] in page
        # status=open: the verified one
        page = _page(client, "/console/?status=open&type=access&assignee=none").text
        assert created["reference"] in page and pending["reference"] not in page
        page = _page(client, "/console/?assignee=me").text
        assert created["reference"] not in page
        # Unknown filter values are ignored; a cursor that is not ours is refused (not a 500).
        assert client.get("/console/?status=nonsense&type=x").status_code == 200
        assert client.get("/console/?type=%00").status_code == 422  # the NUL guard, as anywhere
        assert client.get("/console/?cursor=zzz").status_code == 422

    def test_paging(self, client, staff):
        for i in range(27):
            file_request(client, subject={"name": f"사람{i}", "email": f"p{i}@example.com"})
        log_in(client, "cpo@example.com")
        page = _page(client, "/console/").text
        assert page.count("/console/requests/RD-") == 25
        next_url = re.search(r'href="(/console/\?[^"]*cursor=[^"]+)" rel="next"', page).group(1)
        rest = _page(client, next_url.replace("&amp;", "&")).text
        assert rest.count("/console/requests/RD-") == 2

    def test_search_by_email_is_posted_and_recorded(self, client, staff, database_url):
        created = file_request(client)
        token = log_in(client, "cpo@example.com")
        response = client.post(
            "/console/search", data={"csrf_token": token, "q": "hong.gildong@example.com"}
        )
        assert response.status_code == 200
        assert created["reference"] in response.text
        assert "hong.gildong" not in str(response.url)
        searches = entries(database_url, "search")
        assert searches[-1][2] == {"what": "queue", "by": "email", "found": [created["id"]]}

    def test_a_search_that_is_neither_is_told(self, client, staff):
        token = log_in(client, "cpo@example.com")
        response = client.post("/console/search", data={"csrf_token": token, "q": "홍길동"})
        assert response.status_code == 422
        assert 'id="f-q-error"' in response.text


class TestRequestPage:
    def test_opening_it_is_an_access_record_entry(self, client, staff, database_url):
        created = file_request(client)
        log_in(client, "handler@example.com")
        page = _page(client, f"/console/requests/{created['reference']}").text
        assert "홍길동" in page and "hong.gildong@example.com" in page
        assert "요구가 접수되었습니다" in page  # the timeline in words
        views = [
            e for e in entries(database_url, "view") if e[0] == f"staff:{staff['handler']['id']}"
        ]
        assert views and views[-1][2]["what"] == "request"

    def test_unknown_reference_is_404(self, client, staff):
        log_in(client, "cpo@example.com")
        assert client.get(f"/console/requests/{REF}").status_code == 404
        assert client.get("/console/requests/nonsense").status_code == 404

    def test_verify_by_a_person(self, client, staff, database_url):
        created = _filed_pending(client)
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{created['reference']}"
        page = _page(client, path).text
        assert 'action="' + path + '/verify"' in page
        response = client.post(
            path + "/verify",
            data={
                "csrf_token": token,
                "version": version_on(page),
                "outcome": "verified",
                "method": "id_card_in_person",
                "note": "신분증 확인",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == path + "?done=verify"
        after = _page(client, path).text
        assert "신분증 확인" in after
        assert sql_rows(database_url, "SELECT status FROM request") == [("open",)]

    def test_a_missing_method_is_shown_beside_the_form(self, client, staff):
        created = _filed_pending(client)
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{created['reference']}"
        page = _page(client, path).text
        response = client.post(
            path + "/verify",
            data={"csrf_token": token, "version": version_on(page), "outcome": "verified"},
        )
        assert response.status_code == 422
        assert 'id="verify-method-error"' in response.text

    def test_a_stale_version_says_it_changed_and_offers_a_reload(self, app, client, staff):
        created = _filed_pending(client)
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{created['reference']}"
        page = _page(client, path).text
        with another_browser(app, "handler@example.com") as (other, other_token):
            taken = other.post(
                path + "/assign",
                data={"csrf_token": other_token, "version": version_on(page), "assignee": "me"},
                follow_redirects=False,
            )
            assert taken.status_code == 303, taken.text
        late = client.post(
            path + "/verify",
            data={
                "csrf_token": token,
                "version": version_on(page),
                "outcome": "verified",
                "method": "call",
            },
        )
        assert late.status_code == 412
        assert "요구가 변경되었습니다" in late.text
        assert f'href="{path}"' in late.text
        assert "handler@example.com" in late.text  # who changed it

    def test_take_decide_carry_out_and_complete(self, client, staff, outbox_dir, database_url):
        created, _ = verified(client, outbox_dir)
        token = log_in(client, "handler@example.com")
        path = f"/console/requests/{created['reference']}"
        page = _page(client, path).text
        assert ">내가 맡기<" in page  # a handler takes it; only the CPO picks someone
        client.post(
            path + "/assign",
            data={"csrf_token": token, "version": version_on(page), "assignee": "me"},
        )
        page = _page(client, path).text
        # The picker shows the grounds of this type only (access: Art. 35(4)).
        assert "PIPA-35-4-1" in page and "PIPA-36-1-1" not in page
        assert "처리 계획" in page
        response = client.post(
            path + "/decision",
            data={
                "csrf_token": token,
                "version": version_on(page),
                "outcome": "granted",
                "explanation": "요구하신 정보를 열람하실 수 있습니다.",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        page = _page(client, path).text
        task_ids = re.findall(r"/tasks/(tsk_[^/]+)/complete", page)
        assert task_ids
        for task_id in task_ids:
            done = client.post(
                f"{path}/tasks/{task_id}/complete",
                data={
                    "csrf_token": token,
                    "outcome": "done",
                    "data": "email: hong.gildong@example.com\nplan: basic",
                },
                follow_redirects=False,
            )
            assert done.status_code == 303, done.text
        page = _page(client, path).text
        response = client.post(
            path + "/complete",
            data={"csrf_token": token, "version": version_on(page), "note": "결과 파일 준비"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert sql_rows(database_url, "SELECT status FROM request") == [("completed",)]

    def test_a_refusal_needs_a_ground(self, client, staff, outbox_dir, database_url):
        created, _ = verified(client, outbox_dir)
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{created['reference']}"
        page = _page(client, path).text
        client.post(
            path + "/assign",
            data={"csrf_token": token, "version": version_on(page), "assignee": staff["cpo"]["id"]},
        )
        page = _page(client, path).text
        response = client.post(
            path + "/decision",
            data={
                "csrf_token": token,
                "version": version_on(page),
                "outcome": "refused",
                "explanation": "거절합니다.",
            },
        )
        assert response.status_code == 422
        assert not sql_rows(database_url, "SELECT id FROM decision")
        response = client.post(
            path + "/decision",
            data={
                "csrf_token": token,
                "version": version_on(page),
                "outcome": "refused",
                "explanation": "법률에 따라 제한됩니다.",
                "grounds": "PIPA-35-4-1",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert sql_rows(database_url, "SELECT outcome FROM decision") == [("refused",)]

    def test_a_partial_grant_decides_per_category(self, client, staff, outbox_dir, database_url):
        created, _ = verified(client, outbox_dir)  # every category
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{created['reference']}"
        page = _page(client, path).text
        client.post(
            path + "/assign",
            data={"csrf_token": token, "version": version_on(page), "assignee": staff["cpo"]["id"]},
        )
        page = _page(client, path).text
        categories = re.findall(r'name="item_category" value="([^"]+)"', page)
        assert len(categories) > 1  # those the plan covers
        results = ["granted"] + ["refused"] * (len(categories) - 1)
        response = client.post(
            path + "/decision",
            data={
                "csrf_token": token,
                "version": version_on(page),
                "outcome": "partially_granted",
                "grounds": "PIPA-35-4-1",
                "item_category": categories,
                "item_result": results,
                "explanation": "일부 항목은 법률에 따라 열람이 제한됩니다.",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert sql_rows(database_url, "SELECT outcome FROM decision") == [("partially_granted",)]

    def test_extend_shows_the_new_date_before_it_is_made(
        self, client, staff, outbox_dir, database_url
    ):
        created, _ = verified(client, outbox_dir)
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{created['reference']}"
        page = _page(client, path).text
        new_day = (date.fromisoformat(created["due_date"]) + timedelta(days=5)).isoformat()
        form = {
            "csrf_token": token,
            "version": version_on(page),
            "reason": "자료가 많아 확인에 시간이 필요합니다.",
            "due_date": new_day,
        }
        confirm = client.post(path + "/extend/confirm", data=form)
        assert confirm.status_code == 200, confirm.text
        y, m, d = (int(x) for x in new_day.split("-"))
        assert f"{y}년 {m}월 {d}일" in confirm.text
        assert not sql_rows(database_url, "SELECT id FROM extension")  # nothing yet
        made = client.post(path + "/extend", data=form, follow_redirects=False)
        assert made.status_code == 303, made.text
        assert len(sql_rows(database_url, "SELECT id FROM extension")) == 1

    def test_a_bad_date_is_told_before_the_confirmation(self, client, staff, outbox_dir):
        created, _ = verified(client, outbox_dir)
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{created['reference']}"
        page = _page(client, path).text
        response = client.post(
            path + "/extend/confirm",
            data={
                "csrf_token": token,
                "version": version_on(page),
                "reason": "",
                "due_date": "tomorrow",
            },
        )
        assert response.status_code == 422
        assert 'id="extend-due_date-error"' in response.text

    def test_a_document_is_shown_inline_and_each_view_recorded(
        self, client, staff, outbox_dir, database_url
    ):
        created, subject = verified(client, outbox_dir)
        uploaded = client.post(
            f"/v1/requests/{created['id']}/documents",
            headers=subject,
            data={"kind": "power_of_attorney"},
            files={"file": ("위임장.pdf", PDF, "application/pdf")},
        )
        assert uploaded.status_code == 201, uploaded.text
        doc_id = uploaded.json()["id"]
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{created['reference']}"
        assert f"/documents/{doc_id}" in _page(client, path).text
        for _ in range(2):
            shown = client.post(
                f"{path}/documents/{doc_id}", data={"csrf_token": token, "reason": "위임 권한 확인"}
            )
            assert shown.status_code == 200
            assert shown.headers["content-type"] == "application/pdf"
            assert shown.headers["content-disposition"] == "inline"
            assert shown.content == PDF
        downloads = entries(database_url, "download")
        assert len(downloads) == 2
        short = client.post(f"{path}/documents/{doc_id}", data={"csrf_token": token, "reason": "x"})
        assert short.status_code == 422

    def test_hold_a_category_then_release_it(self, client, staff, outbox_dir, database_url):
        created, _ = verified(
            client, outbox_dir, type="deletion", scope={"categories": ["account"]}
        )
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{created['reference']}"
        page = _page(client, path).text
        held = client.post(
            path + "/holds",
            data={
                "csrf_token": token,
                "version": version_on(page),
                "category": "account",
                "kind": "investigation",
                "note": "경찰 수사 협조 요청 2026-001",
            },
            follow_redirects=False,
        )
        assert held.status_code == 303, held.text
        page = _page(client, path).text
        hold_id = re.search(r"/holds/(hld_[^/]+)/release", page).group(1)
        released = client.post(
            f"{path}/holds/{hold_id}/release",
            data={"csrf_token": token, "version": version_on(page)},
            follow_redirects=False,
        )
        assert released.status_code == 303, released.text
        assert sql_rows(database_url, "SELECT released_at IS NOT NULL FROM hold") == [(True,)]

    def test_a_failed_task_is_waived_by_the_cpo(self, client, staff, outbox_dir, database_url):
        created, _ = verified(client, outbox_dir)
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{created['reference']}"
        page = _page(client, path).text
        client.post(
            path + "/assign",
            data={"csrf_token": token, "version": version_on(page), "assignee": staff["cpo"]["id"]},
        )
        page = _page(client, path).text
        client.post(
            path + "/decision",
            data={
                "csrf_token": token,
                "version": version_on(page),
                "outcome": "granted",
                "explanation": "열람하실 수 있습니다.",
            },
        )
        task_id = re.findall(r"/tasks/(tsk_[^/]+)/complete", _page(client, path).text)[0]
        failed = client.post(
            f"{path}/tasks/{task_id}/complete",
            data={"csrf_token": token, "outcome": "failed", "note": "시스템 점검 중"},
            follow_redirects=False,
        )
        assert failed.status_code == 303, failed.text
        assert f"/tasks/{task_id}/waive" in _page(client, path).text
        empty = client.post(f"{path}/tasks/{task_id}/waive", data={"csrf_token": token})
        assert empty.status_code == 422
        waived = client.post(
            f"{path}/tasks/{task_id}/waive",
            data={"csrf_token": token, "reason": "해당 시스템은 이미 폐기됨"},
            follow_redirects=False,
        )
        assert waived.status_code == 303, waived.text
        assert sql_rows(database_url, "SELECT status FROM task WHERE id = :t", t=task_id) == [
            ("waived",)
        ]


class TestIntake:
    def test_a_letter_with_its_real_time_of_receipt(self, client, staff, clock, database_url):
        token = log_in(client, "handler@example.com")
        page = _page(client, "/console/intake").text
        assert 'name="received_at"' in page and 'name="channel"' in page
        received = (clock.now() - timedelta(days=2)).astimezone(SEOUL)
        response = client.post(
            "/console/intake",
            data={
                "csrf_token": token,
                "channel": "letter",
                "received_at": received.strftime("%Y-%m-%dT%H:%M"),
                "type": "deletion",
                "subject.name": "이영희",
                "subject.phone": "010-2222-3333",
                "categories": "account",
                "identity_verified": "1",
                "verification_method": "id_card_copy",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert re.fullmatch(
            r"/console/requests/RD-\d{4}-\d{6}\?done=entered", response.headers["location"]
        )
        rows = sql_rows(database_url, "SELECT channel, status, type FROM request")
        assert rows == [("letter", "open", "deletion")]

    def test_a_future_time_is_named(self, client, staff, clock, database_url):
        token = log_in(client, "handler@example.com")
        response = client.post(
            "/console/intake",
            data={
                "csrf_token": token,
                "channel": "fax",
                "received_at": "2099-01-01T10:00",
                "type": "access",
                "subject.name": "이영희",
            },
        )
        assert response.status_code == 422
        assert 'id="f-received_at-error"' in response.text
        assert not sql_rows(database_url, "SELECT id FROM request")

    def test_missing_name_is_named(self, client, staff):
        token = log_in(client, "handler@example.com")
        response = client.post(
            "/console/intake", data={"csrf_token": token, "channel": "phone", "type": "access"}
        )
        assert response.status_code == 422
        assert "aria-invalid" in response.text


def test_english_from_the_same_catalogues(client, staff):
    client.get("/console/language/en?next=/console/login")
    page = client.get("/console/login").text
    assert '<html lang="en">' in page and "Log in to the console" in page
    response = client.get(
        "/console/language/ko", params={"next": "//evil.example/"}, follow_redirects=False
    )
    assert response.headers["location"] == "/console/"
