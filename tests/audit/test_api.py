"""GET /v1/staff/audit and /v1/staff/audit/verify."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.support import file_request, login, make_staff, verified


@pytest.fixture
def people(app, client):
    for email, role in (
        ("cpo@example.com", "cpo"),
        ("auditor@example.com", "auditor"),
        ("handler@example.com", "handler"),
    ):
        make_staff(app, email, role)
    return {role: login(client, f"{role}@example.com") for role in ("cpo", "auditor", "handler")}


def test_read_filter_and_page(client, outbox_dir, people):
    created, _ = verified(client, outbox_dir)
    file_request(client, subject={"name": "다른", "email": "other@example.com"})
    h = people["auditor"]
    entries = client.get("/v1/staff/audit", headers=h, params={"request_id": created["id"]}).json()
    assert [e["action"] for e in entries["items"]] == ["create", "change"]
    assert all(e["request_id"] == created["id"] for e in entries["items"])
    logins = client.get("/v1/staff/audit", headers=h, params={"action": "login"}).json()["items"]
    assert len(logins) == 3
    seen, cursor = [], None
    while True:
        page = client.get(
            "/v1/staff/audit",
            headers=h,
            params={"limit": 4, **({"cursor": cursor} if cursor else {})},
        ).json()
        seen += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    # Reading the record is itself recorded.
    views = client.get("/v1/staff/audit", headers=h, params={"action": "view"}).json()["items"]
    assert views and views[0]["detail"]["what"] == "access_record"


def test_verify_endpoint_detects_tampering(client, outbox_dir, people, database_url):
    verified(client, outbox_dir)
    h = people["cpo"]
    assert client.get("/v1/staff/audit/verify", headers=h).json()["ok"] is True
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET ip = '10.0.0.1' WHERE seq = 4"))
    engine.dispose()
    result = client.get("/v1/staff/audit/verify", headers=h).json()
    assert result["ok"] is False and result["first_bad"] == 4


def test_roles(client, outbox_dir, people):
    _, subject = verified(client, outbox_dir)
    for path in ("/v1/staff/audit", "/v1/staff/audit/verify"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=subject).status_code == 403
        assert client.get(path, headers=people["handler"]).status_code == 403
        assert client.get(path, headers=people["auditor"]).status_code == 200


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 501}, {"cursor": "abc"}, {"since": "2026-12-01T00:00:00"}]
)
def test_bad_parameters(client, people, params):
    assert client.get("/v1/staff/audit", headers=people["cpo"], params=params).status_code == 422


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "9999999999999999999"}, "cursor"),  # past the largest seq a BIGINT holds
        ({"since": "0001-01-01T00:00:00+09:00"}, "since"),  # before year 1 in UTC
        ({"until": "9999-12-31T23:59:59-09:00"}, "until"),  # after year 9999 in UTC
        ({"request_id": "req_\x00"}, "request_id"),
        ({"actor": "staff:\x00"}, "actor"),
        ({"action": "view\x00"}, "action"),
    ],
)
def test_out_of_range_parameters_are_problems(client, people, params, field):
    response = client.get("/v1/staff/audit", headers=people["cpo"], params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"].split(".")[-1] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "9223372036854775807"},
        {"since": "0001-01-01T00:00:00+00:00", "until": "9999-12-31T23:59:59+00:00"},
        {"since": "0001-01-01T09:00:00+09:00", "until": "9999-12-31T14:59:59-09:00"},
    ],
)
def test_extreme_parameters_in_range_are_answered(client, outbox_dir, people, params):
    verified(client, outbox_dir)
    response = client.get("/v1/staff/audit", headers=people["cpo"], params=params)
    assert response.status_code == 200, response.text
