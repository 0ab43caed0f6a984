"""The `rightsdesk` command: serve, migrate, worker, openapi, audit verify."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from typing import Annotated

import typer
import typer.core

from app.accounts.cli_users import users_cli
from app.core.config import Settings, get_settings
from app.integrations.cli_clients import clients_cli
from app.maintenance.cli_keys import keys_cli
from app.retention.cli_purge import purge_command
from app.retention.cli_scrub import scrub_command

# Plain help (click's): paragraphs re-wrapped to the terminal, one line per command, flags
# without `<bool>`; rich kept each docstring's line breaks in the command list.
typer.core.HAS_RICH = False

# The order an operator meets them: run it, then accounts and clients, then maintenance.
ORDER = (
    "serve",
    "migrate",
    "worker",
    "create-user",
    "users",
    "clients",
    "profile",
    "purge",
    "scrub",
    "keys",
    "audit",
    "openapi",
)


class _InOrder(typer.core.TyperGroup):
    def list_commands(self, ctx) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


cli = typer.Typer(
    cls=_InOrder,
    help="Rights Desk: PIPA data-subject rights requests.",
    no_args_is_help=True,
    add_completion=False,
)
audit_cli = typer.Typer(help="The access record (접속기록).", no_args_is_help=True)
cli.add_typer(audit_cli, name="audit")
profile_cli = typer.Typer(help="The company profile (categories, retention, processors).")
cli.add_typer(profile_cli, name="profile")
cli.add_typer(clients_cli, name="clients")
cli.add_typer(users_cli, name="users")
cli.add_typer(keys_cli, name="keys")
cli.command("purge")(purge_command)
cli.command("scrub")(scrub_command)


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
        f"{len(profile.processors)} processors, {len(profile.systems)} in-house systems, "
        f"{len(profile.consents)} consents, {len(profile.automated_decisions)} automated "
        f"decisions, transmission {'covered' if profile.transmission.covered else 'not covered'}"
    )
    from app.profile.loader import is_sample

    if is_sample(source):
        typer.echo(
            "note: this is the bundled sample profile (레퍼런스 주식회사); production refuses it "
            "unless RIGHTSDESK_ALLOW_SAMPLE_PROFILE=true"
        )


def _logging(settings: Settings | None = None) -> None:
    """Log lines as RIGHTSDESK_LOG_FORMAT says (json in production, text in development)."""
    from app.core.logs import configure

    configure((settings or get_settings()).resolved_log_format)


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
) -> None:
    """Migrate to head, then serve the API. Each request is one log line (method, route,
    status, duration, request id; the client's IP only with RIGHTSDESK_LOG_CLIENT_IP)."""
    import uvicorn

    from app.core.migrations import upgrade
    from app.profile.loader import load_profile, refuse_sample

    settings = get_settings()
    _logging(settings)
    refuse_sample(
        settings.profile_path,
        production=settings.env == "production",
        allowed=settings.allow_sample_profile,
    )
    # Everything that can refuse the start is checked before anything is made: the profile,
    # then the database (migrated), and only then the development secrets under var/.
    load_profile(settings.profile_path)
    upgrade(settings.resolved_database_url)
    _analyze(settings.resolved_database_url)
    _check_database(settings, workers)
    # Resolve development secrets once, before workers start, so all of them share one set.
    settings.resolved_secret_key()
    settings.resolved_encryption_keys()
    settings.resolved_blind_index_key()
    if workers > 1:
        _metrics_dir()
    if "public_base_url" not in settings.model_fields_set:
        # Notices link to the address served (`make run PORT=9000` → 9000): the app and its
        # workers read it back from the environment.
        os.environ["RIGHTSDESK_PUBLIC_BASE_URL"] = _served_address(host, port)
        get_settings.cache_clear()
    uvicorn.run(
        "app.main:serve_app",  # each worker process sets up its logs (app/main.py)
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # ours is ObserveMiddleware's line: no IP unless asked
        log_config=None,  # uvicorn's loggers go through ours (RIGHTSDESK_LOG_FORMAT)
        proxy_headers=False,
    )


def _check_database(settings: Settings, workers: int) -> None:
    """Warns once before serving when the workers' pools could exhaust the PostgreSQL server,
    and when the server analyses nothing by itself."""
    from app.core.context import pool_of
    from app.core.db import Database, connection_budget, warn_if_unanalysed

    db = Database(settings.resolved_database_url, pool_of(settings))
    try:
        warning = connection_budget(db, workers)
        warn_if_unanalysed(db)
    finally:
        db.dispose()
    if warning:
        logging.getLogger("rightsdesk").warning(warning)


def _served_address(host: str, port: int) -> str:
    """The address a browser on this machine reaches `serve` at (all interfaces: loopback)."""
    from ipaddress import ip_address

    try:
        everywhere = ip_address(host).is_unspecified
    except ValueError:  # a name
        everywhere = False
    return f"http://{'127.0.0.1' if everywhere else host}:{port}"


def _metrics_dir() -> None:
    """Workers count HTTP metrics in files here, summed by whichever worker is scraped:
    PROMETHEUS_MULTIPROC_DIR if the operator set it, else a new temporary directory; emptied
    at each start, so counts of an earlier run are not added in."""
    import os
    import tempfile
    from pathlib import Path

    chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        for old in Path(chosen).glob("*.db"):
            old.unlink()
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rightsdesk-metrics-")


@cli.command()
def worker(
    once: Annotated[bool, typer.Option(help="Deliver what is due, then exit.")] = False,
) -> None:
    """Deliver queued notices and webhooks, destroy proxy documents past their retention, and
    close requests whose code was never entered; several workers may run side by side. A failing
    step (the database away, say) is logged and retried with backoff; the worker goes on.
    Also e-mails staff deadline reminders (RIGHTSDESK_REMINDER_DAYS_BEFORE, and overdue), and
    at start recomputes open deadlines under RIGHTSDESK_EXTRA_HOLIDAYS."""
    from app.core.context import AppContext
    from app.core.db import warn_if_unanalysed
    from app.jobs import Jobs
    from app.law import deadlines
    from app.notifications.senders import make_sender
    from app.workflow.deadline_sync import recompute_deadlines

    settings = get_settings()
    _logging(settings)
    log = logging.getLogger("rightsdesk.worker")
    deadlines.configure(settings.extra_holiday_dates)  # the calendar, before any counting
    ctx = AppContext.build(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    jobs = Jobs(ctx, make_sender(settings), stop=stop.is_set)
    warn_if_unanalysed(ctx.db)

    try:  # once per start: RIGHTSDESK_EXTRA_HOLIDAYS may have gained a temporary holiday
        recompute_deadlines(ctx.db, ctx)
    except Exception as exc:  # the type only; the next start (or the API's) tries again
        log.error("recomputing deadlines failed: %s", type(exc).__name__)

    failures = 0  # rounds in a row with a failed step
    while True:
        failed = jobs.run_due()
        jobs.summary.failed_steps.extend(failed)
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
    if once:  # what this one round did, for the operator's shell or cron mail
        typer.echo(json.dumps(jobs.summary.as_dict()))
        if failures:
            raise typer.Exit(1)


@cli.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Log-in e-mail.")],
    role: Annotated[str, typer.Option(help="cpo, handler or auditor.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a staff account (the grant is written to the access record). In a terminal,
    without --password-stdin, asks for the password twice without echoing it."""
    from app.accounts import service
    from app.accounts.schemas import Role
    from app.core.cli import run

    if role not in {r.value for r in Role}:
        typer.echo("rightsdesk: --role must be cpo, handler or auditor", err=True)
        raise typer.Exit(2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        # On stderr, so stdout carries only the JSON answer; a mismatch asks again.
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        typer.echo("rightsdesk: pass --password-stdin and the password on standard input", err=True)
        raise typer.Exit(2)
    user_id = run(
        lambda session, ctx: (
            service.create_user(
                session, ctx, email=email, role=Role(role), password=password, created_by="cli"
            ).id
        )
    )
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
def audit_verify(
    pack: Annotated[
        str | None,
        typer.Argument(
            metavar="PACK.zip",
            help="An evidence pack to check offline instead of the database.",
            show_default=False,
        ),
    ] = None,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress",
            help="Show progress on stderr (only when stderr is a terminal).",
        ),
    ] = True,
) -> None:
    """Check the hash chain of the access record from its base to its head; exit 1 if it is
    broken. One JSON line on stdout; progress (entries, rate) on stderr when it is a terminal.
    With PACK.zip (an evidence pack, GET /v1/staff/requests/{id}/evidence): check the pack
    offline, no database needed — every entry's hash recomputed, and the earlier entries and
    the content against the digests in the download's own entry; exit 1 if anything was
    changed, removed or added."""
    if pack is not None:
        _verify_pack(pack)
        return
    from app.audit.service import verify
    from app.core.db import Database

    db = Database(get_settings().resolved_database_url)
    bar = _VerifyProgress() if progress and sys.stderr.isatty() else None
    try:
        # Safe while the API appends: the check covers the chain up to the head it read first.
        with db.transaction(write=False) as session:
            result = verify(session, progress=bar)
    finally:
        db.dispose()
        if bar is not None:
            bar.close()
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


def _verify_pack(path: str) -> None:
    from app.evidence.integrity import check_zip

    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        typer.echo(f"rightsdesk: cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    result = check_zip(data)
    typer.echo(json.dumps(result.as_dict()))
    if not result.ok:
        raise typer.Exit(1)


class _VerifyProgress:
    """One line on stderr, redrawn at most ten times a second: entries checked of the total,
    percent, rate and time left."""

    def __init__(self) -> None:
        self.started = self.drawn = time.monotonic()
        self.shown = False

    def __call__(self, checked: int, total: int) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.1 and checked < total:
            return
        self.drawn = now
        rate = checked / max(now - self.started, 1e-6)
        share = checked / total if total else 1.0
        width = 30
        filled = int(width * share)
        left = f", {(total - checked) / rate:,.0f} s left" if rate and checked < total else ""
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {checked:,}/{total:,} entries "
            f"({share:.0%}, {rate:,.0f}/s{left})\x1b[K"
        )
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


@audit_cli.command("trim")
def audit_trim(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be removed; change nothing.")
    ] = False,
) -> None:
    """Remove the access record's entries older than RIGHTSDESK_AUDIT_RETENTION_DAYS (at least
    730: the PIPC safety-measures standard keeps it two years) from the start of the chain, in
    short transactions; each is recorded as an `audit_trimmed` entry, and what is kept still
    verifies from the new base. One JSON line on stdout. Safe beside running workers."""
    from app.audit.retention import BrokenChain, trim
    from app.core.clock import Clock
    from app.core.db import Database

    settings = get_settings()  # a retention below 730 days is refused here (main())
    db = Database(settings.resolved_database_url)
    try:
        report = trim(db, Clock().now(), settings.audit_retention_days, dry_run=dry_run)
    except BrokenChain as exc:
        typer.echo(f"rightsdesk: {exc}; nothing removed (see rightsdesk audit verify)", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(
        json.dumps(
            {
                "dry_run": dry_run,
                "removed": report.removed,
                "up_to": report.up_to,
                "cutoff": report.cutoff.isoformat() if report.cutoff else None,
                "batches": report.batches,
            }
        )
    )


def _refusal(exc: BaseException) -> tuple[str, int] | None:
    """One line naming the setting or file to fix, for the errors a start can meet."""
    from pydantic import ValidationError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from app.profile.loader import ProfileError

    if isinstance(exc, ValidationError):  # a setting of the wrong type or out of range
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        name = f"RIGHTSDESK_{where.upper()}" if where else ""
        if name and not message.startswith(name):
            message = f"{name}: {message}"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{message}{more}", 2
    if isinstance(exc, ProfileError):
        return f"RIGHTSDESK_PROFILE_PATH ({exc.source}): {'; '.join(exc.problems)}", 2
    if isinstance(exc, (DBAPIError, ArgumentError)):
        try:
            url = make_url(get_settings().resolved_database_url)
            shown = url.render_as_string(hide_password=True)
        except Exception:
            shown = "(unparseable)"
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        return (
            f"RIGHTSDESK_DATABASE_URL ({shown}): the database refused or is unreachable: {reason}",
            1,
        )
    if isinstance(exc, OSError):
        return f"{exc.filename or 'a file'}: {exc.strerror or exc}", 1
    if isinstance(exc, ValueError):  # settings refused (e.g. production without keys)
        return str(exc), 2
    return None


def main() -> None:
    try:
        cli()
    except Exception as exc:
        refused = _refusal(exc)
        if refused is None:
            raise
        message, code = refused
        typer.echo(f"rightsdesk: {message}", err=True)
        sys.exit(code)


if __name__ == "__main__":
    main()
