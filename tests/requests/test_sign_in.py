"""Coming back (issue 8, point 6): sign-in with the reference and e-mail, and every public
`{id}` also taking the reference."""

from __future__ import annotations

from tests.support import (
    count_rows,
    file_request,
    latest_code,
    read_outbox,
    verified,
)

SIGN_IN = "/v1/requests/sign-in"
EMAIL = "hong.gildong@example.com"


def _codes(outbox_dir, request_id: str) -> int:
    return sum(
        1
        for m in read_outbox(outbox_dir)
        if m["template"] == "verification_code" and m["request_id"] == request_id
    )


def _token_for(client, key: str, code: str) -> dict:
    response = client.post(f"/v1/requests/{key}/verification", json={"code": code})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class TestSignIn:
    def test_match_sends_a_fresh_code_and_the_reference_opens_the_request(
        self, client, outbox_dir, clock
    ):
        created, _ = verified(client, outbox_dir)
        ref, rid = created["reference"], created["id"]
        clock.advance(minutes=2)  # past the resend cooldown
        before = _codes(outbox_dir, rid)

        response = client.post(SIGN_IN, json={"reference": ref, "email": EMAIL})

        assert response.status_code == 202
        assert _codes(outbox_dir, rid) == before + 1
        headers = _token_for(client, ref, latest_code(outbox_dir, rid))
        by_ref = client.get(f"/v1/requests/{ref}", headers=headers)
        by_id = client.get(f"/v1/requests/{rid}", headers=headers)
        assert by_ref.status_code == by_id.status_code == 200
        assert by_ref.json()["id"] == rid and by_ref.json()["reference"] == ref
        assert by_ref.json()["status"] == "open"

    def test_same_answer_whether_or_not_it_matches(self, client, outbox_dir, clock):
        created, _ = verified(client, outbox_dir)
        clock.advance(minutes=2)
        rid, ref = created["id"], created["reference"]
        answers = [
            client.post(SIGN_IN, json={"reference": ref, "email": "someone.else@example.com"}),
            client.post(SIGN_IN, json={"reference": "RD-2026-999999", "email": EMAIL}),
            client.post(SIGN_IN, json={"reference": ref, "email": EMAIL}),
        ]
        assert [a.status_code for a in answers] == [202, 202, 202]
        assert answers[0].json() == answers[1].json() == answers[2].json()
        assert "verification" not in answers[0].json()
        # Only the match sent a code (the one at filing, plus this one).
        assert _codes(outbox_dir, rid) == 2

    def test_email_match_is_case_blind_and_a_lower_case_reference_works(
        self, client, outbox_dir, clock
    ):
        created, _ = verified(client, outbox_dir)
        clock.advance(minutes=2)
        response = client.post(
            SIGN_IN,
            json={"reference": created["reference"].lower(), "email": "Hong.GilDong@Example.com"},
        )
        assert response.status_code == 202
        assert _codes(outbox_dir, created["id"]) == 2

    def test_a_proxy_signs_in_with_the_proxys_address_not_the_subjects(
        self, client, outbox_dir, clock
    ):
        created = file_request(
            client,
            subject={"name": "김아이", "birth_date": "2016-03-01"},
            requester={
                "kind": "legal_representative",
                "name": "김부모",
                "email": "parent@example.com",
                "relationship": "모",
            },
        )
        clock.advance(minutes=2)
        ref, rid = created["reference"], created["id"]
        client.post(SIGN_IN, json={"reference": ref, "email": "child@example.com"})
        assert _codes(outbox_dir, rid) == 1
        client.post(SIGN_IN, json={"reference": ref, "email": "parent@example.com"})
        assert _codes(outbox_dir, rid) == 2
        sent = [m for m in read_outbox(outbox_dir) if m["template"] == "verification_code"]
        assert sent[-1]["to"] == "parent@example.com"

    def test_rate_limited_like_resend_but_still_202(self, client, outbox_dir, clock):
        created, _ = verified(client, outbox_dir)
        ref, rid = created["reference"], created["id"]
        # Within the cooldown of the code sent at filing: no new code, same answer.
        response = client.post(SIGN_IN, json={"reference": ref, "email": EMAIL})
        assert response.status_code == 202
        assert _codes(outbox_dir, rid) == 1
        # At most code_max_per_hour (5) codes an hour, whatever the mix of routes.
        for _ in range(6):
            clock.advance(minutes=1, seconds=1)
            assert client.post(SIGN_IN, json={"reference": ref, "email": EMAIL}).status_code == 202
        assert _codes(outbox_dir, rid) == 5
        clock.advance(minutes=1, seconds=1)
        assert client.post(f"/v1/requests/{ref}/verification/resend").status_code == 429

    def test_works_in_a_closed_status(self, client, outbox_dir, clock):
        created, headers = verified(client, outbox_dir)
        rid, ref = created["id"], created["reference"]
        assert client.post(f"/v1/requests/{rid}/withdraw", headers=headers).status_code == 200
        clock.advance(hours=2)  # the subject token has expired; an hour's codes too
        assert client.get(f"/v1/requests/{ref}", headers=headers).status_code == 401
        assert client.post(SIGN_IN, json={"reference": ref, "email": EMAIL}).status_code == 202
        headers = _token_for(client, ref, latest_code(outbox_dir, rid))
        view = client.get(f"/v1/requests/{ref}", headers=headers).json()
        assert view["status"] == "withdrawn" and view["days_left"] is None

    def test_the_code_email_links_to_the_portal_page(self, client, outbox_dir, clock):
        created, _ = verified(client, outbox_dir)
        clock.advance(minutes=2)
        client.post(SIGN_IN, json={"reference": created["reference"], "email": EMAIL})
        code_mail = [m for m in read_outbox(outbox_dir) if m["template"] == "verification_code"]
        assert (
            f"http://127.0.0.1:8000/portal/requests/{created['reference']}" in code_mail[-1]["text"]
        )

    def test_bad_input_is_a_422_problem_and_sends_nothing(
        self, client, outbox_dir, clock, database_url
    ):
        created, _ = verified(client, outbox_dir)
        clock.advance(minutes=2)
        ref = created["reference"]
        codes = count_rows(database_url, "verification_code")
        for body in (
            {"reference": ref},
            {"email": EMAIL},
            {"reference": ref, "email": "not-an-address"},
            {"reference": "RD-2026-1", "email": EMAIL},
            {"reference": "' OR 1=1 --", "email": EMAIL},
            {"reference": ref + "\u0000", "email": EMAIL},
            {"reference": "가" * 5000, "email": EMAIL},
            {"reference": ref, "email": EMAIL, "id": created["id"]},
            {"reference": 42, "email": EMAIL},
        ):
            response = client.post(SIGN_IN, json=body)
            assert response.status_code == 422, body
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"]
        malformed = client.post(
            SIGN_IN, content=b"{not json", headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 422, malformed.text
        assert count_rows(database_url, "verification_code") == codes


class TestReferenceInEveryPublicPath:
    def test_verification_resend_withdraw_and_documents_take_the_reference(
        self, client, outbox_dir, clock
    ):
        created = file_request(client)
        ref, rid = created["reference"], created["id"]
        clock.advance(minutes=2)
        assert client.post(f"/v1/requests/{ref}/verification/resend").status_code == 202
        headers = _token_for(client, ref, latest_code(outbox_dir, rid))
        upload = client.post(
            f"/v1/requests/{ref}/documents",
            headers=headers,
            data={"kind": "identity_proof"},
            files={"file": ("id.pdf", b"%PDF-1.7\nproof\n%%EOF\n", "application/pdf")},
        )
        assert upload.status_code == 201, upload.text
        withdrawn = client.post(f"/v1/requests/{ref}/withdraw", headers=headers)
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"

    def test_someone_elses_reference_or_id_is_404_and_anonymous_401(self, client, outbox_dir):
        mine, headers = verified(client, outbox_dir)
        other, _ = verified(client, outbox_dir, subject={"name": "남", "email": "o@example.com"})
        for key in (other["id"], other["reference"], "RD-2026-999999", "req_nothing"):
            for method, path in (
                ("get", f"/v1/requests/{key}"),
                ("post", f"/v1/requests/{key}/withdraw"),
                ("post", f"/v1/requests/{key}/objections"),
            ):
                kwargs = {"json": {"reason": "x"}} if path.endswith("objections") else {}
                response = getattr(client, method)(path, headers=headers, **kwargs)
                assert response.status_code == 404, (method, path)
                assert response.json()["type"] == "/problems/not-found"
        for key in (mine["id"], mine["reference"]):
            assert client.get(f"/v1/requests/{key}").status_code == 401
        assert client.post("/v1/requests/RD-2026-999999/verification/resend").status_code == 404
