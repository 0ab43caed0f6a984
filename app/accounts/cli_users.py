"""`rightsdesk users …`: staff administration from the shell (the same service as
/v1/staff/users; each change is in the access record as `cli`). Create accounts with
`rightsdesk create-user`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from app.core.actors import Actor
from app.core.cli import run

users_cli = typer.Typer(help="Staff accounts (cpo, handler, auditor).", no_args_is_help=True)

CLI = Actor("cli")


def shown(user, now) -> dict:
    """An account as the CLI prints it (never the password hash)."""
    from app.accounts.service import is_locked

    locked = is_locked(user, now)
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "active": user.active,
        "locked": locked,
        "locked_until": user.locked_until.isoformat() if locked else None,
        "failed_logins": user.failed_logins,
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        "created_at": user.created_at.isoformat(),
    }


def _change(email: str, **what: Any) -> None:
    from app.accounts import service

    row = run(
        lambda session, ctx: shown(
            service.change(session, ctx, email, actor=CLI, **what), ctx.clock.now()
        )
    )
    typer.echo(json.dumps(row, ensure_ascii=False))


Email = Annotated[str, typer.Argument(help="The account's e-mail (or id).")]


@users_cli.command("list")
def list_() -> None:
    """Every staff account, one JSON object per line (never a password or hash)."""
    from app.accounts import service

    def rows(session, ctx):
        out, after, now = [], None, ctx.clock.now()
        while batch := service.listing(session, limit=500, after=after):
            out += [shown(u, now) for u in batch]
            after = batch[-1].id
        return out

    for row in run(rows):
        typer.echo(json.dumps(row, ensure_ascii=False))


@users_cli.command("set-role")
def set_role(
    email: Email,
    role: Annotated[str, typer.Argument(help="cpo, handler or auditor.")],
) -> None:
    """Change an account's role; its sessions end at once (log in again under the new role)."""
    from app.accounts.schemas import Role

    if role not in {r.value for r in Role}:
        typer.echo("rightsdesk: ROLE must be cpo, handler or auditor", err=True)
        raise typer.Exit(2)
    _change(email, role=Role(role))


@users_cli.command("deactivate")
def deactivate(email: Email) -> None:
    """Deactivate an account: log-in is refused and its sessions end at once."""
    _change(email, active=False)


@users_cli.command("activate")
def activate(email: Email) -> None:
    """Reactivate a deactivated account."""
    _change(email, active=True)


@users_cli.command("reset-password")
def reset_password(
    email: Email,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a new password: the old one stops working, a lock-out is cleared, and every
    session of the account ends at once. In a terminal, without --password-stdin, asks for
    it twice without echoing it."""
    import sys

    from app.accounts import service

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        typer.echo("rightsdesk: pass --password-stdin and the password on standard input", err=True)
        raise typer.Exit(2)
    row = run(
        lambda session, ctx: shown(
            service.reset_password(session, ctx, email, password, actor=CLI), ctx.clock.now()
        )
    )
    typer.echo(json.dumps(row, ensure_ascii=False))


@users_cli.command("unlock")
def unlock(email: Email) -> None:
    """Clear a lock-out after failed log-ins (and the count of failures)."""
    _change(email, unlock=True)
