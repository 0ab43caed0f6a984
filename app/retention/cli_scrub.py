"""`rightsdesk scrub`: rewrite the tables destructions wrote into, so that PostgreSQL's files
no longer hold the destroyed bytes (retention/scrub.py). `--status` only shows what waits."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.core.config import get_settings


def scrub_command(
    status: Annotated[
        bool,
        typer.Option(
            "--status", help="Only list the tables waiting for a rewrite; change nothing."
        ),
    ] = False,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout",
            min=0.1,
            max=3600,
            help="Seconds to wait for each table's lock before leaving it pending.",
        ),
    ] = 5.0,
) -> None:
    """Make destroyed data irrecoverable on PostgreSQL (PIPA Art. 21(3)): VACUUM FULL each
    table a purge or destruction wrote into since its last rewrite. Each table is locked
    (ACCESS EXCLUSIVE: no reads or writes) while it is rewritten: run it in a quiet window.
    On SQLite nothing waits (the checkpoint after each destruction suffices). A JSON summary
    goes to stdout; exit status 1 when a table is left pending."""
    from app.core.db import Database
    from app.core.logs import configure
    from app.retention import scrub as service

    settings = get_settings()
    configure(settings.resolved_log_format)
    db = Database(settings.resolved_database_url)
    try:
        if status:
            typer.echo(json.dumps({"pending": service.pending(db)}))
            return
        report = service.rewrite(db, lock_timeout=lock_timeout)
        left = service.pending(db)
    finally:
        db.dispose()
    typer.echo(json.dumps({**report.as_dict(), "pending": left}))
    if report.skipped:
        raise typer.Exit(1)
