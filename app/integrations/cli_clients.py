"""`rightsdesk clients …`: grant, list, rotate and revoke integration clients from the shell
(the same service as /v1/staff/clients; each change is in the access record as `cli`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.core.actors import Actor
from app.core.cli import run

clients_cli = typer.Typer(
    help="Integration clients (OAuth2 client credentials).", no_args_is_help=True
)

CLI = Actor("cli")


def _shown(issued) -> dict:
    client = issued.client
    return {
        "client_id": client.id,
        "client_secret": issued.secret,
        "name": client.name,
        "scopes": client.scopes,
        "systems": client.systems,
    }


@clients_cli.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who the client is, e.g. 'Shop app'.")],
    scope: Annotated[
        list[str],
        typer.Option(
            help="requests:write, requests:read, requests:verified, tasks:read, tasks:write "
            "(repeat for several)."
        ),
    ],
    system: Annotated[
        list[str] | None,
        typer.Option(help="A system or processor whose tasks the client sees (repeatable)."),
    ] = None,
) -> None:
    """Grant a client; prints {client_id, client_secret} as JSON, the secret this once."""
    from app.accounts import clients

    name = name.strip()
    if not 1 <= len(name) <= 80:
        typer.echo("rightsdesk: --name must be 1 to 80 characters", err=True)
        raise typer.Exit(2)
    issued = run(
        lambda session, ctx: _shown(
            clients.create(session, ctx, name=name, scopes=scope, systems=system or [], actor=CLI)
        )
    )
    typer.echo(json.dumps(issued, ensure_ascii=False))


@clients_cli.command("list")
def list_() -> None:
    """Every client (never a secret), one JSON object per line."""
    from app.accounts import clients

    def rows(session, ctx):
        out, after = [], None
        while batch := clients.listing(session, limit=500, after=after):
            out += [
                {
                    "client_id": c.id,
                    "name": c.name,
                    "scopes": c.scopes,
                    "systems": c.systems,
                    "active": c.active,
                    "created_at": c.created_at.isoformat(),
                    "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
                }
                for c in batch
            ]
            after = batch[-1].id
        return out

    for row in run(rows):
        typer.echo(json.dumps(row, ensure_ascii=False))


@clients_cli.command("rotate")
def rotate(client_id: str) -> None:
    """A new secret (printed once); the old secret and its tokens stop working at once."""
    from app.accounts import clients

    issued = run(lambda session, ctx: _shown(clients.rotate(session, ctx, client_id, actor=CLI)))
    typer.echo(json.dumps(issued, ensure_ascii=False))


@clients_cli.command("revoke")
def revoke(client_id: str) -> None:
    """Revoke a client: its secret and tokens stop working at once."""
    from app.accounts import clients

    run(lambda session, ctx: clients.revoke(session, ctx, client_id, actor=CLI))
    typer.echo(json.dumps({"client_id": client_id, "active": False}))
