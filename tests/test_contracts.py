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
