"""`rightsdesk purge`: destroy the personal data of requests closed longer ago than
RIGHTSDESK_REQUEST_RETENTION_DAYS (retention/purge.py says what goes and what stays)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.core.config import get_settings


def purge_command(
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Only count what would be purged; change nothing."),
    ] = False,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size", min=1, max=10_000, help="Requests per transaction (each commits)."
        ),
    ] = 100,
) -> None:
    """Destroy the personal data of requests closed more than RIGHTSDESK_REQUEST_RETENTION_DAYS
    ago (PIPA Art. 21): subject and requester, documents, the access result, notice texts, and
    the free text of decisions, extensions, objections, tasks and notes. The reference, type,
    dates, categories, decision outcome and grounds, timeline and access record stay; each
    purge is one access-record entry. Progress goes to stderr, a JSON summary to stdout.
    Safe beside running workers (they purge too, and never the same request twice)."""
    from app.core.context import AppContext
    from app.core.logs import configure
    from app.retention import purge as service

    # A setting out of range (RIGHTSDESK_AUDIT_RETENTION_DAYS below 730, say) is refused
    # here; `rightsdesk`'s main() turns that into one line naming it.
    settings = get_settings()
    configure(settings.resolved_log_format)
    ctx = AppContext.build(settings)
    try:
        service.check_settings(ctx)
        if dry_run:
            with ctx.db.transaction(write=False) as session:
                found = service.preview(session, ctx)
            oldest = found.oldest_closed_at.date().isoformat() if found.oldest_closed_at else "-"
            typer.echo(
                f"would purge {found.requests} request(s) closed before "
                f"{found.cutoff.date().isoformat()}, with {found.documents} document(s), "
                f"{found.results} access result(s) and {found.notices} notice(s); the oldest "
                f"closed on {oldest}",
                err=True,
            )
            typer.echo(json.dumps(found.as_dict()))
            return

        def progress(number: int, purged: int, report: service.PurgeReport) -> None:
            typer.echo(
                f"batch {number}: purged {purged} request(s) ({report.requests} so far)", err=True
            )

        report = service.purge(ctx.db, ctx, batch_size=batch_size, on_batch=progress)
    finally:
        ctx.db.dispose()
    typer.echo(json.dumps(report.as_dict()))
