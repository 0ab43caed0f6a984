"""Run and check Alembic migrations from code (CLI, readiness, tests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from alembic import command


def script_location() -> Path:
    """The migration scripts: `alembic/` in a checkout (or an editable install), shipped in the
    wheel as `app/migrations` (setup.py maps it in), so the installed command migrates from
    any directory without alembic.ini."""
    app_dir = Path(__file__).resolve().parents[1]
    for candidate in (app_dir / "migrations", app_dir.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError(
        "the migration scripts are missing: neither app/migrations (installed package) nor "
        "alembic/ (checkout) holds env.py; reinstall the package"
    )


def alembic_config(url: str) -> Config:
    # Configured in code: alembic.ini (beside the checkout) is only for the `alembic` command
    # developers use to write revisions.
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


@lru_cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
