"""Every migration runs both ways: up to head, down to base, and up again, on a database of its
own (the rest of the suite builds its schema with `upgrade` alone)."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import app.models  # noqa: F401  (every table)
from app.core.migrations import current_revision, downgrade, head_revision, upgrade
from tests.conftest import PG_URL, _recreate_postgres


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def test_up_down_and_up_again(tmp_path, worker_id):
    if PG_URL:
        base = make_url(PG_URL)
        url = base.set(database=f"{base.database}_migrations_{worker_id}").render_as_string(
            hide_password=False
        )
        _recreate_postgres(url)
    else:
        url = f"sqlite:///{tmp_path / 'migrations.db'}"

    upgrade(url)
    assert _revision(url) == head_revision()
    assert _tables(url) == set(SQLModel.metadata.tables)

    downgrade(url, "base")
    assert _revision(url) is None
    assert _tables(url) == set()

    upgrade(url)
    assert _revision(url) == head_revision()
    assert _tables(url) == set(SQLModel.metadata.tables)
