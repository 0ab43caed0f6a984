"""The `rightsdesk` command: serve, migrate, worker, openapi, audit verify."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import signal
import sys
import threading
import time
from typing import Annotated

import typer

from app.core.config import Settings, get_settings
from app.integrations.cli_clients import clients_cli

cli = typer.Typer(
    help="Rights Desk: PIPA data-subject rights requests.",
    no_args_is_help=True,
    add_completion=False,
)
audit_cli = typer.Typer(help="The access record (접속기록).", no_args_is_help=True)
cli.add_typer(audit_cli, name="audit")
profile_cli = typer.Typer(help="The company profile (categories, retention, processors).")
cli.add_typer(profile_cli, name="profile")
cli.add_typer(clients_cli, name="clients")


@profile_cli.command("check")
def profile_check(
    path: Annotated[
        str | None,
        typer.Argument(
            help="A profile YAML file; default: RIGHTSDESK_PROFILE_PATH or the built-in."
        ),
    ] = None,
) -> None:
    """Check a profile file: its shape, periods, and every rule, system and processor it
    names. Prints a summary, or every problem and exits 1."""
    from app.profile.loader import DEFAULT_PROFILE, ProfileError, load_profile

    source = path or get_settings().profile_path or str(DEFAULT_PROFILE)
    try:
        profile = load_profile.__wrapped__(source)
    except ProfileError as exc:
        typer.echo(f"rightsdesk: {exc}", err=True)
        raise typer.Exit(1) from None
    bound = sum(len(c.retention) for c in profile.categories.values())
    typer.echo(
        f"profile {source}: ok — {len(profile.categories)} categories, "
        f"{len(profile.retention)} retention rules ({bound} bound to categories), "
        f"{len(profile.processors)} processors, {len(profile.systems)} in-house systems"
    )


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _analyze(url: str) -> None:
    from app.core.db import Database, refresh_statistics

    db = Database(url)
    try:
        refresh_statistics(db)
    finally:
        db.dispose()


@cli.command()
def migrate() -> None:
    """Bring the database schema to the newest migration."""
    from app.core.migrations import upgrade

    _logging()
    settings = get_settings()
    upgrade(settings.resolved_database_url)
    _analyze(settings.resolved_database_url)
    typer.echo("database at head")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log each request (includes client IPs, which are personal data).")
    ] = False,
) -> None:
    """Migrate to head, then serve the API."""
    import uvicorn

    from app.core.migrations import upgrade

    _logging()
    settings = get_settings()
    # Resolve development secrets once, before workers start, so all of them share one set.
    settings.resolved_secret_key()
    settings.resolved_encryption_keys()
    settings.resolved_blind_index_key()
    upgrade(settings.resolved_database_url)
    _analyze(settings.resolved_database_url)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        proxy_headers=False,
        log_level="info",
    )


@cli.command()
def worker(
    once: Annotated[bool, typer.Option(help="Deliver what is due, then exit.")] = False,
) -> None:
    """Deliver queued notices, destroy proxy documents past their retention, and close
    requests whose code was never entered; several workers may run side by side. A failing
    step (the database away, say) is logged and retried with backoff; the worker goes on.
    Also e-mails staff deadline reminders (RIGHTSDESK_REMINDER_DAYS_BEFORE, and overdue), and
    at start recomputes open deadlines under RIGHTSDESK_EXTRA_HOLIDAYS."""
    from app.core.context import AppContext
    from app.core.db import refresh_statistics
    from app.notifications.outbox import drain
    from app.notifications.senders import make_sender
    from app.results.service import destroy_expired as destroy_expired_results
    from app.verification.documents import destroy_expired
    from app.workflow.service import reject_unverified

    _logging()
    log = logging.getLogger("rightsdesk.worker")
    settings = get_settings()
    from app.law import deadlines
    from app.requests.deadline_sync import recompute_deadlines
    from app.workflow.reminders import send_reminders

    deadlines.configure(settings.extra_holiday_dates)  # the calendar, before any counting
    ctx = AppContext.build(settings)
    sender = make_sender(settings)
    stop = threading.Event()
    analyzed_at = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def deliver() -> None:
        report = drain(ctx.db, ctx, sender, stop=stop.is_set)
        if report.claimed:
            log.info(
                "delivered %d, retrying %d, failed %d, taken over %d, handed back %d",
                report.sent,
                report.retried,
                report.failed,
                report.lost,
                report.released,
            )

    def destroy() -> None:
        destroyed = destroy_expired(ctx.db, ctx)
        if destroyed:
            log.info("destroyed %d document(s) past their retention", destroyed)

    def destroy_results() -> None:
        destroyed = destroy_expired_results(ctx.db, ctx)
        if destroyed:
            log.info("destroyed %d access result(s) past their download time", destroyed)

    def expire() -> None:
        expired = reject_unverified(ctx.db, ctx)
        if expired:
            log.info("closed %d request(s) whose code was never entered", expired)

    def analyze() -> None:
        nonlocal analyzed_at
        if time.monotonic() - analyzed_at > 3600:
            refresh_statistics(ctx.db)
            analyzed_at = time.monotonic()

    def remind() -> None:
        send_reminders(ctx.db, ctx)

    try:  # once per start: RIGHTSDESK_EXTRA_HOLIDAYS may have gained a temporary holiday
        recompute_deadlines(ctx.db, ctx)
    except Exception as exc:  # the type only; the next start (or the API's) tries again
        log.error("recomputing deadlines failed: %s", type(exc).__name__)

    failures = 0  # rounds in a row with a failed step
    while True:
        failed = False
        for step in (deliver, destroy, destroy_results, expire, remind, analyze):
            if stop.is_set():
                break
            try:
                step()
            except Exception as exc:  # the type only: a message may carry personal data
                failed = True
                log.error("%s failed: %s", step.__name__, type(exc).__name__)
        failures = failures + 1 if failed else 0
        if once:
            break
        # Back off while steps fail: the poll interval, doubled each round, up to a minute.
        pause = settings.outbox_poll_seconds
        if failures:
            pause = min(max(pause, 60.0), pause * 2**failures)
            log.warning("retrying in %.1f s", pause)
        if stop.wait(pause):
            break
    ctx.db.dispose()
    if once and failures:
        raise typer.Exit(1)


@cli.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Log-in e-mail.")],
    role: Annotated[str, typer.Option(help="cpo, handler or auditor.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a staff account (the grant is written to the access record)."""
    from app.accounts import service
    from app.accounts.schemas import Role
    from app.core.context import AppContext

    if role not in {r.value for r in Role}:
        typer.echo("rightsdesk: --role must be cpo, handler or auditor", err=True)
        raise typer.Exit(2)
    if not password_stdin:
        typer.echo("rightsdesk: pass --password-stdin and the password on standard input", err=True)
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\r\n")
    ctx = AppContext.build(get_settings())
    try:
        with ctx.db.transaction() as session:
            user = service.create_user(
                session, ctx, email=email, role=Role(role), password=password, created_by="cli"
            )
            user_id = user.id
    except ValueError as exc:
        typer.echo(f"rightsdesk: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        ctx.db.dispose()
    typer.echo(json.dumps({"id": user_id, "email": email.strip().lower(), "role": role}))


def openapi_spec() -> dict:
    """The OpenAPI document, built without touching any database or secret on disk."""
    from app.main import create_app

    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings = Settings(
        database_url="sqlite://",
        secret_key=secrets.token_urlsafe(48),
        encryption_keys=f"spec:{key}",
        blind_index_key="spec",
        delivery="off",
    )
    return create_app(settings).openapi()


@cli.command()
def openapi() -> None:
    """Print the OpenAPI document (what openapi/openapi.json holds)."""
    typer.echo(json.dumps(openapi_spec(), indent=2, ensure_ascii=False))


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check the hash chain of the access record; exit 1 if it is broken."""
    from app.audit.service import verify
    from app.core.db import Database

    db = Database(get_settings().resolved_database_url)
    try:
        # Safe while the API appends: the check covers the chain up to the head it read first.
        with db.transaction(write=False) as session:
            result = verify(session)
    finally:
        db.dispose()
    typer.echo(
        json.dumps(
            {
                "ok": result.ok,
                "checked": result.checked,
                "first_bad": result.first_bad,
                "problem": result.problem,
            }
        )
    )
    if not result.ok:
        raise typer.Exit(1)


def main() -> None:
    try:
        cli()
    except ValueError as exc:  # settings refused (e.g. production without keys)
        typer.echo(f"rightsdesk: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
