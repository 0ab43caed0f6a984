"""The API's rough edges, as a new user met them (issue 21.11, 21.12), each through HTTP."""

from __future__ import annotations

from tests.support import act, file_request, request_body, staff_read, verified


class TestTaskStatuses:
    def test_repeated_status_values_are_all_taken(self, client, staff, outbox_dir):
        cpo = staff["cpo"]["headers"]
        created, _ = verified(
            client, outbox_dir, type="access", scope={"categories": ["newsletter", "inquiries"]}
        )
        rid = created["id"]
        act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
        plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
        act(client, cpo, rid, "decision", plan["decision"])
        tasks = client.get(
            "/v1/staff/tasks", headers=cpo, params={"request_id": rid, "status": "all"}
        ).json()["items"]
        fulfil = [t for t in tasks if t["kind"] in ("fulfil", "collect")]
        assert len(fulfil) >= 2, tasks
        done = client.post(
            f"/v1/staff/tasks/{fulfil[0]['id']}/complete",
            headers=cpo,
            json={"outcome": "done", "data": {"x": 1}},
        )
        assert done.status_code == 200, done.text
        statuses = {t["status"] for t in tasks} | {"done"}
        assert {"open", "done"} <= statuses
        r = client.get(
            "/v1/staff/tasks",
            headers=cpo,
            params=[("request_id", rid), ("status", "open"), ("status", "done")],
        )
        assert r.status_code == 200, r.text
        got = {t["status"] for t in r.json()["items"]}
        assert got == {"open", "done"}, got
        bad = client.get("/v1/staff/tasks", headers=cpo, params=[("status", "nope")])
        assert bad.status_code == 422


class TestVersions:
    def test_a_staff_entry_returns_its_version_and_etag(self, client, staff):
        cpo = staff["cpo"]["headers"]
        for verified_now in (False, True):
            body = {
                **request_body(subject={"name": "편지", "email": "letter@example.com"}),
                "channel": "letter",
                "received_at": "2026-11-30T10:00:00+09:00",
            }
            if verified_now:
                body |= {"identity_verified": True, "verification_method": "in_person"}
            r = client.post("/v1/staff/requests", headers=cpo, json=body)
            assert r.status_code == 201, r.text
            version = staff_read(client, cpo, r.json()["id"])["version"]
            assert r.json()["version"] == version
            assert r.headers["ETag"] == f'"{version}"'

    def test_write_responses_carry_the_new_version_as_etag(self, client, staff):
        cpo = staff["cpo"]["headers"]
        rid = file_request(client)["id"]
        read = client.get(f"/v1/staff/requests/{rid}", headers=cpo)
        assert read.headers["ETag"] == f'"{read.json()["version"]}"'
        r = client.post(
            f"/v1/staff/requests/{rid}/verify",
            headers={**cpo, "If-Match": read.headers["ETag"]},
            json={"outcome": "verified", "method": "in_person"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["version"] > read.json()["version"]
        assert r.headers["ETag"] == f'"{r.json()["version"]}"'
        # The ETag is what the next write sends.
        again = client.post(
            f"/v1/staff/requests/{rid}/assign",
            headers={**cpo, "If-Match": r.headers["ETag"]},
            json={"assignee": "cpo@example.com"},
        )
        assert again.status_code == 200, again.text
        assert again.headers["ETag"] == f'"{again.json()["version"]}"'


class TestTokenKinds:
    def test_a_staff_or_client_token_on_a_subject_route_is_403_naming_it(self, client, staff):
        from tests.support import client_token, make_client

        rid = file_request(client)["id"]
        creds = make_client(client, staff["cpo"]["headers"], ["requests:read"])
        cases = [
            (staff["cpo"]["headers"], "staff"),
            (client_token(client, creds), "integration client"),
        ]
        for headers, kind in cases:
            for method, path in (
                ("get", f"/v1/requests/{rid}"),
                ("post", f"/v1/requests/{rid}/withdraw"),
            ):
                r = client.request(method, path, headers=headers, json={})
                assert r.status_code == 403, (kind, path, r.text)
                assert kind in r.json()["detail"], r.text
                assert "subject" in r.json()["detail"], r.text
        # A token of no kind at all is still a 401.
        r = client.get(f"/v1/requests/{rid}", headers={"Authorization": "Bearer nonsense"})
        assert r.status_code == 401


def test_a_code_of_the_wrong_shape_says_it_must_be_6_digits(client):
    rid = file_request(client)["id"]
    for code in ("12345", "abcdef", "1234567", " 123456"):
        r = client.post(f"/v1/requests/{rid}/verification", json={"code": code})
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]
        assert error["field"] == "code" and "6 digits" in error["message"], r.text


def test_a_retained_category_names_the_law_and_period_in_words(client, staff, outbox_dir):
    import re

    created, _ = verified(
        client, outbox_dir, type="deletion", scope={"categories": ["payment", "newsletter"]}
    )
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    problem = act(
        client,
        cpo,
        rid,
        "decision",
        {"outcome": "granted", "explanation": "전부 삭제합니다."},
        expect=422,
    )
    retained = [e for e in problem.get("errors", []) if e["code"] == "retained"]
    assert len(retained) == 1, problem["errors"]
    [retained] = retained
    message = retained["message"]
    assert "전자금융거래법" in message
    assert not re.search(r"\bP\d+[YMD]", message), message  # no ISO 8601 durations
    assert re.search(r"\d+년", message) and re.search(r"\d+ years?", message), message


def test_a_month_before_the_access_record_began_is_not_reviewed(client, staff, clock):
    """The record began on 1 December 2026 (the first log-in): November has nothing to review,
    and a review of it would claim what never happened."""
    reviews = "/v1/staff/audit/reviews"
    clock.advance(days=31)  # 1 January 2027: December has ended
    from tests.support import relogin

    relogin(client, staff)
    auditor = staff["auditor"]["headers"]
    for month in ("2026-11", "2025-12"):
        r = client.post(reviews, headers=auditor, json={"month": month})
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]
        assert error["field"] == "month" and error["code"] == "before_record", r.text
        assert "2026-12" in error["message"], r.text
    ok = client.post(reviews, headers=auditor, json={"month": "2026-12"})
    assert ok.status_code == 201, ok.text


def test_a_sign_in_within_the_resend_pause_says_the_same_and_sends_nothing(
    client, outbox_dir, clock
):
    """Issue 21.12: within the pause nothing is sent and the answer does not say so (it is the
    same whether or not the details match); it says a new code can be sent once a minute."""
    from tests.support import read_outbox

    created = file_request(client)
    ref = created["reference"]
    clock.advance(seconds=61)

    def codes() -> int:
        return len([m for m in read_outbox(outbox_dir) if m["template"] == "verification_code"])

    before = codes()
    answers = []
    for email in ("hong.gildong@example.com", "hong.gildong@example.com", "nobody@example.com"):
        r = client.post("/v1/requests/sign-in", json={"reference": ref, "email": email})
        assert r.status_code == 202, r.text
        answers.append(r.json())
    assert codes() == before + 1  # the second, within the pause, sent nothing
    assert answers[0] == answers[1] == answers[2]
    detail = answers[0]["detail"]
    assert "if the details match, a code is on its way" in detail.lower()
    assert "a new code can be sent once a minute" in detail.lower()
    doc = client.get("/openapi.json").json()
    text = doc["paths"]["/v1/requests/sign-in"]["post"]["description"]
    assert "once a minute" in text or "resend pause" in text
