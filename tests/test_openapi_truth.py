"""The OpenAPI document says what the service really answers (issue 10, item 4): every error
response of every operation is `application/problem+json` with the `Problem` schema, FastAPI's
`HTTPValidationError` is gone, and the statuses the middlewares and dependencies answer are
declared. The document is read over HTTP, as clients and schemathesis read it."""

from __future__ import annotations

import json

import pytest

PROBLEM = "application/problem+json"
REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_every_error_response_is_a_problem(spec):
    checked = 0
    for path, method, op in _operations(spec):
        for code, response in op["responses"].items():
            if int(code) >= 400:
                assert response["content"] == {PROBLEM: {"schema": REF}}, (method, path, code)
                assert response["description"], (method, path, code)
                checked += 1
    assert checked > 200  # ~50 operations, several errors each


def test_no_fastapi_validation_error_left(spec):
    text = json.dumps(spec)
    assert "HTTPValidationError" not in text
    assert "#/components/schemas/ValidationError" not in text
    assert "ValidationError" not in spec["components"]["schemas"]


def test_problem_schema_has_field_errors(spec):
    schemas = spec["components"]["schemas"]
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status"}
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    errors = problem["properties"]["errors"]
    assert errors["type"] == "array"
    assert errors["items"] == {"$ref": "#/components/schemas/FieldError"}
    field_error = schemas["FieldError"]
    assert set(field_error["required"]) == {"field", "code", "message"}
    assert all(field_error["properties"][k]["type"] == "string" for k in field_error["required"])


def test_every_operation_declares_what_it_can_answer(spec):
    for path, method, op in _operations(spec):
        codes = set(op["responses"])
        where = (method, path)
        assert "500" in codes, where
        if method in ("post", "put", "patch"):
            assert "413" in codes, where
        if "requestBody" in op:
            assert {"400", "415", "422"} <= codes, where
        if op.get("parameters"):
            assert "422" in codes, where
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            assert "404" in codes, where
        if op.get("security"):
            assert "401" in codes, where
        if any(p["name"] == "If-Match" for p in op.get("parameters", [])):
            assert {"400", "412", "428"} <= codes, where


def test_staff_routes_declare_403_and_if_match(spec):
    assign = spec["paths"]["/v1/staff/requests/{request_id}/assign"]["post"]
    assert {"401", "403", "404", "412", "428"} <= set(assign["responses"])
    if_match = [p for p in assign["parameters"] if p["name"] == "If-Match"]
    assert if_match and if_match[0]["in"] == "header" and if_match[0]["required"] is True


def test_routes_keep_their_own_descriptions(spec):
    filing = spec["paths"]["/v1/requests"]["post"]["responses"]
    assert filing["429"]["description"] == "Too many filings for this e-mail address this hour"
    assert "Retry-After" in filing["429"]["headers"]
    token = spec["paths"]["/v1/auth/token"]["post"]["responses"]
    assert "415" in token and "form" in token["415"]["description"]
    assert "423" in token


def test_the_served_problems_match_the_schema(client):
    """A real 422 has exactly the members the schema promises for `errors`."""
    response = client.post("/v1/requests", json={"type": "access"})
    assert response.headers["content-type"] == PROBLEM
    doc = response.json()
    assert {"type", "title", "status"} <= set(doc)
    assert all(set(e) == {"field", "code", "message"} for e in doc["errors"])
    assert all(isinstance(v, str) for e in doc["errors"] for v in e.values())
