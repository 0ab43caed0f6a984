"""Input that once reached the database as a 500 (on PostgreSQL above all): NUL characters in
paths, queries and forms, and dates near year 1 or 9999. Each is a 4xx problem document that
changes nothing."""

from __future__ import annotations

import pytest

from tests.support import count_rows, staff_read, verified

PROBLEM = "application/problem+json"


def _is_problem(response, *statuses: int) -> dict:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM)
    return response.json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/requests/req_x%00y/verification", {"code": "123456"}),
        ("post", "/v1/requests/req_x%00y/verification/resend", None),
        ("get", "/v1/requests/req_x%00y", None),
        ("get", "/v1/staff/requests/req_x%00y", None),
    ],
)
def test_nul_in_the_path_is_404(client, staff, method, path, body):
    kwargs = {"headers": staff["cpo"]["headers"]} | ({"json": body} if body else {})
    _is_problem(getattr(client, method)(path, **kwargs), 404)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/staff/tasks", {"request_id": "req_\x00"}, "request_id"),
        ("/v1/staff/requests", {"q": "a\x00@example.com"}, "q"),
        ("/v1/staff/requests", {"assignee": "\x00"}, "assignee"),
        ("/v1/staff/requests", {"cursor": "\x00"}, "cursor"),
    ],
)
def test_nul_in_the_query_is_422_naming_it(client, staff, path, params, field):
    doc = _is_problem(client.get(path, params=params, headers=staff["cpo"]["headers"]), 422)
    assert doc["errors"][0]["field"] == f"query.{field}"


def test_nul_in_the_login_form_is_422_and_recorded(client, staff, database_url):
    # Each is a failed log-in in the access record (issue 21.4; tests/accounts/test_token_nul).
    before = count_rows(database_url, "audit_entry")
    for form in (
        {"username": "cpo@example.com\x00", "password": "x"},
        {"username": "cpo@example.com", "password": "pw\x00"},
    ):
        doc = _is_problem(client.post("/v1/auth/token", data=form), 422)
        assert doc["errors"][0]["field"] in ("username", "password")
    assert count_rows(database_url, "audit_entry") == before + 2


def test_forms_without_nul_still_log_in(client, staff):
    assert (
        client.post(
            "/v1/auth/token", data={"username": "cpo@example.com", "password": "wrong password!"}
        ).status_code
        == 401
    )


FAR = ["0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59-09:00", "1969-12-31T00:00:00+00:00"]


@pytest.mark.parametrize("when", FAR)
def test_far_dates_in_the_queue_filter(client, staff, when):
    response = client.get(
        "/v1/staff/requests", params={"due_before": when}, headers=staff["cpo"]["headers"]
    )
    assert _is_problem(response, 422)["errors"][0]["field"] == "query.due_before"


@pytest.mark.parametrize(
    "params",
    [
        {"since": "0001-01-01", "until": "0001-01-02"},
        {"since": "9999-12-30", "until": "9999-12-31"},
        {"until": "0001-01-01"},
        {"since": "9999-12-31"},
    ],
)
def test_far_dates_in_metrics(client, staff, params):
    response = client.get("/v1/staff/metrics", params=params, headers=staff["cpo"]["headers"])
    assert _is_problem(response, 422)["errors"][0]["field"] in ("query.since", "query.until")


@pytest.mark.parametrize("when", FAR)
def test_far_extension_dates_change_nothing(client, outbox_dir, staff, when):
    created, _ = verified(client, outbox_dir)
    cpo = staff["cpo"]["headers"]
    before = staff_read(client, cpo, created["id"])
    response = client.post(
        f"/v1/staff/requests/{created['id']}/extend",
        headers={**cpo, "If-Match": str(before["version"])},
        json={"reason": "자료 확인", "due_at": when},
    )
    assert _is_problem(response, 422)["errors"][0]["field"] == "due_at"
    after = staff_read(client, cpo, created["id"])
    assert (after["version"], after["due_at"]) == (before["version"], before["due_at"])


def test_nul_in_the_document_forms_fields_is_a_4xx(client, outbox_dir):
    """The other multipart form that reaches the database (issue 21.4): a proxy document's
    `kind` and file name; NUL in either is refused or kept sealed, never a 500."""
    from tests.support import verified

    created, token = verified(client, outbox_dir)
    pdf = b"%PDF-1.7\nx\n%%EOF\n"
    url = f"/v1/requests/{created['id']}/documents"
    r = client.post(
        url,
        headers=token,
        data={"kind": "identity_proof\x00"},
        files={"file": ("a.pdf", pdf, "application/pdf")},
    )
    assert r.status_code == 422, r.text
    r = client.post(
        url,
        headers=token,
        data={"kind": "identity_proof"},
        files={"file": ("a\x00b.pdf", pdf, "application/pdf")},
    )
    assert r.status_code == 201, r.text  # the name is sealed as given and made safe on download
