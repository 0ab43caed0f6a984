"""The committed OpenAPI document and the migrations agree with the code."""

from __future__ import annotations

import json
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.cli import openapi_spec

ROOT = Path(__file__).resolve().parents[1]


def test_committed_openapi_is_current():
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == openapi_spec(), "openapi/openapi.json is stale: run `make openapi`"


def test_models_and_migrations_agree(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_every_route_is_described():
    spec = openapi_spec()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            assert op.get("summary") or op.get("description"), f"{method} {path} has no text"


def test_staff_routes_offer_the_password_login_in_the_docs():
    spec = openapi_spec()
    flow = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]
    assert flow["tokenUrl"] == "/v1/auth/token"
    for path, ops in spec["paths"].items():
        for op in ops.values():
            schemes = {name for entry in op.get("security", []) for name in entry}
            if path.startswith("/v1/staff"):
                assert schemes == {"OAuth2PasswordBearer"}, path
            elif path.startswith("/v1/requests/{request_id}") and "verification" not in path:
                assert schemes == {"HTTPBearer"}, path


def test_the_docs_login_form_works(client, staff):
    # What Swagger's Authorize dialog sends for the password flow.
    response = client.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "cpo@example.com",
            "password": "correct horse battery staple",
            "scope": "",
        },
    )
    assert response.status_code == 200
