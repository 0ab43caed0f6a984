"""Field errors name the field and say what is wrong in words (issue 10, item 5): a rule about
one field reports that field, not `body`; malformed JSON says where; a body that is not JSON is
a 415 that says to send JSON; a bad phone number is described, not shown as a regex; a
malformed If-Match is a 400 that says so; the log-in route says it wants the OAuth2 form.
Each answer is a problem document and changes nothing."""

from __future__ import annotations

import pytest

from tests.support import count_rows, read_outbox, request_body, staff_read, verified

PROBLEM = "application/problem+json"


def _problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    doc = response.json()
    assert doc["type"] == f"/problems/{slug}" and doc["status"] == status
    return doc


def _only_error(doc: dict) -> dict:
    assert len(doc["errors"]) == 1, doc
    error = doc["errors"][0]
    assert set(error) == {"field", "code", "message"}
    return error


def _nothing_filed(database_url: str, outbox_dir) -> None:
    assert count_rows(database_url, "request") == 0
    assert count_rows(database_url, "audit_entry") == 0
    assert read_outbox(outbox_dir) == []


DELEGATE = {"kind": "delegate", "name": "김대리", "email": "agent@example.com"}

RULES = {
    "self-filer without an e-mail": (
        request_body(subject={"name": "홍길동", "phone": "010-1234-5678"}),
        "subject.email",
        "missing",
        "one-time code",
    ),
    "correction without items": (
        request_body(type="correction"),
        "scope.corrections",
        "missing",
        "at least one item",
    ),
    "correction with an empty list": (
        request_body(type="correction", scope={"corrections": []}),
        "scope.corrections",
        "missing",
        "at least one item",
    ),
    "corrections on an access request": (
        request_body(scope={"corrections": [{"item": "phone", "requested": "010-0000-0000"}]}),
        "scope.corrections",
        "value_error",
        "only for a correction request",
    ),
    "delegate without a power of attorney": (
        request_body(requester=DELEGATE),
        "power_of_attorney",
        "missing",
        "power of attorney",
    ),
    "proxy with the subject's e-mail": (
        request_body(
            requester={
                **DELEGATE,
                "kind": "legal_representative",
                "email": "HONG.gildong@example.com",
            }
        ),
        "requester.email",
        "value_error",
        "differ from the subject's",
    ),
}


@pytest.mark.parametrize(("body", "field", "code", "words"), RULES.values(), ids=RULES.keys())
def test_a_rule_names_its_field(client, database_url, outbox_dir, body, field, code, words):
    doc = _problem(client.post("/v1/requests", json=body), 422, "validation-error")
    error = _only_error(doc)
    assert (error["field"], error["code"]) == (field, code)
    assert words in error["message"] and not error["message"].startswith("Value error")
    _nothing_filed(database_url, outbox_dir)


def test_staff_entry_without_offset_names_received_at(client, staff, database_url):
    body = request_body(channel="letter", received_at="2026-03-02T10:00:00")
    response = client.post("/v1/staff/requests", json=body, headers=staff["cpo"]["headers"])
    error = _only_error(_problem(response, 422, "validation-error"))
    assert error["field"] == "received_at" and "time-zone offset" in error["message"]
    assert count_rows(database_url, "request") == 0


def test_extension_without_offset_names_due_at(client, outbox_dir, staff):
    created, _ = verified(client, outbox_dir)
    cpo = staff["cpo"]["headers"]
    before = staff_read(client, cpo, created["id"])
    response = client.post(
        f"/v1/staff/requests/{created['id']}/extend",
        headers={**cpo, "If-Match": str(before["version"])},
        json={"reason": "자료 확인", "due_at": "2026-12-24T12:00:00"},
    )
    error = _only_error(_problem(response, 422, "validation-error"))
    assert error["field"] == "due_at"
    assert error["message"].startswith("needs a time-zone offset")
    after = staff_read(client, cpo, created["id"])
    assert (after["version"], after["due_at"]) == (before["version"], before["due_at"])


def test_bad_phone_is_described_not_a_regex(client, database_url, outbox_dir):
    body = request_body(subject={"name": "홍길동", "email": "a@example.com", "phone": "call me"})
    error = _only_error(_problem(client.post("/v1/requests", json=body), 422, "validation-error"))
    assert (error["field"], error["code"]) == ("subject.phone", "string_pattern_mismatch")
    assert "phone number" in error["message"] and "010-1234-5678" in error["message"]
    assert not any(c in error["message"] for c in "^$[]{}\\")
    _nothing_filed(database_url, outbox_dir)


def test_nested_field_paths_are_dotted(client):
    body = request_body(
        type="correction", scope={"corrections": [{"item": "phone", "requested": ""}]}
    )
    error = _only_error(_problem(client.post("/v1/requests", json=body), 422, "validation-error"))
    assert error["field"] == "scope.corrections.0.requested"


def test_unknown_field_is_named_and_explained(client):
    body = request_body(subject={"name": "홍길동", "email": "a@example.com", "nickname": "길동"})
    error = _only_error(_problem(client.post("/v1/requests", json=body), 422, "validation-error"))
    assert (error["field"], error["code"]) == ("subject.nickname", "extra_forbidden")
    assert "not a field" in error["message"]


@pytest.mark.parametrize(
    ("content", "line", "column"),
    [
        (b'{"type": "access",', 1, 19),
        (b'{\n  "type": "access"\n  "locale": "ko"\n}', 3, 3),
        (b"{'type': 'access'}", 1, 2),
    ],
)
def test_malformed_json_is_the_body_and_says_where(
    client, database_url, outbox_dir, content, line, column
):
    response = client.post(
        "/v1/requests", content=content, headers={"content-type": "application/json"}
    )
    doc = _problem(response, 422, "malformed-json")
    error = _only_error(doc)
    assert (error["field"], error["code"]) == ("body", "json_invalid")
    assert f"line {line}, column {column}" in error["message"]
    assert f"line {line}, column {column}" in doc["detail"]
    _nothing_filed(database_url, outbox_dir)


def test_a_json_list_is_not_a_body(client):
    error = _only_error(
        _problem(client.post("/v1/requests", json=[request_body()]), 422, "validation-error")
    )
    assert error["field"] == "body" and error["message"] == "The body must be a JSON object."


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"type=access&subject.name=x", "application/x-www-form-urlencoded"),
        (b'{"type": "access"}', "text/plain"),
        (b'{"type": "access"}', "application/xml"),
        (b'{"type": "access"}', None),
    ],
)
def test_a_body_that_is_not_json_is_415(client, database_url, outbox_dir, content, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/requests", content=content, headers=headers)
    doc = _problem(response, 415, "unsupported-media-type")
    assert "Content-Type: application/json" in doc["detail"]
    assert "valid dictionary" not in response.text
    _nothing_filed(database_url, outbox_dir)


def test_json_with_a_charset_is_json(client):
    response = client.post(
        "/v1/requests",
        content=b'{"type": "access"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    _problem(response, 422, "validation-error")


def test_staff_routes_refuse_forms_too(client, outbox_dir, staff):
    created, _ = verified(client, outbox_dir)
    response = client.post(
        f"/v1/staff/requests/{created['id']}/assign",
        content=b"assignee=me",
        headers={
            **staff["cpo"]["headers"],
            "If-Match": "1",
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    _problem(response, 415, "unsupported-media-type")


class TestIfMatch:
    @pytest.mark.parametrize("value", ["abc", '"3', "3.0", "-1", "٣", "W/abc", "1 2", ""])
    def test_malformed_is_400_saying_so(self, client, outbox_dir, staff, value):
        created, _ = verified(client, outbox_dir)
        cpo = staff["cpo"]["headers"]
        before = staff_read(client, cpo, created["id"])
        response = client.post(
            f"/v1/staff/requests/{created['id']}/assign",
            json={"assignee": "me"},
            headers={**cpo, "If-Match": value.encode()},
        )
        doc = _problem(response, 400, "malformed-if-match")
        assert "malformed" in doc["detail"] and "required" not in doc["detail"]
        assert staff_read(client, cpo, created["id"])["version"] == before["version"]

    def test_absent_is_still_428(self, client, outbox_dir, staff):
        created, _ = verified(client, outbox_dir)
        response = client.post(
            f"/v1/staff/requests/{created['id']}/assign",
            json={"assignee": "me"},
            headers=staff["cpo"]["headers"],
        )
        _problem(response, 428, "precondition-required")

    @pytest.mark.parametrize("form", ['"{v}"', 'W/"{v}"', " {v} "])
    def test_quoted_and_weak_forms_are_accepted(self, client, outbox_dir, staff, form):
        created, _ = verified(client, outbox_dir)
        cpo = staff["cpo"]["headers"]
        version = staff_read(client, cpo, created["id"])["version"]
        response = client.post(
            f"/v1/staff/requests/{created['id']}/assign",
            json={"assignee": "me"},
            headers={**cpo, "If-Match": form.format(v=version)},
        )
        assert response.status_code == 200, response.text


class TestTokenRoute:
    def test_json_gets_the_form_hint(self, client, staff, database_url):
        before = count_rows(database_url, "audit_entry")
        response = client.post(
            "/v1/auth/token", json={"username": "cpo@example.com", "password": "x"}
        )
        doc = _problem(response, 415, "unsupported-media-type")
        assert "application/x-www-form-urlencoded" in doc["detail"]
        assert "OAuth2" in doc["detail"] and "username" in doc["detail"]
        assert count_rows(database_url, "audit_entry") == before  # no failed log-in counted

    def test_a_body_without_content_type_gets_the_hint_too(self, client, staff):
        response = client.post("/v1/auth/token", content=b"username=cpo@example.com")
        doc = _problem(response, 415, "unsupported-media-type")
        assert "application/x-www-form-urlencoded" in doc["detail"]

    def test_the_form_still_works(self, client, staff):
        ok = client.post(
            "/v1/auth/token",
            data={"username": "cpo@example.com", "password": "wrong password!"},
        )
        assert ok.status_code == 401

    def test_an_empty_form_names_the_missing_fields(self, client):
        response = client.post(
            "/v1/auth/token", headers={"content-type": "application/x-www-form-urlencoded"}
        )
        doc = _problem(response, 422, "validation-error")
        assert {e["field"] for e in doc["errors"]} == {"username", "password"}
