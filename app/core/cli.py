"""What the `rightsdesk` subcommands share: the context of one command, its unit of work, and
a refused service call printed as one line (exit 1). Imports are deferred to the call, so a
command that needs none of this (`--help`, `openapi`) starts without them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.errors import Problem


def refuse(exc: Problem) -> NoReturn:
    """`rightsdesk: <detail> (<field>: <message>; …)` on stderr, exit 1."""
    reasons = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors or [])
    typer.echo(
        f"rightsdesk: {exc.detail or exc.title}{' (' + reasons + ')' if reasons else ''}",
        err=True,
    )
    raise typer.Exit(1)


@contextmanager
def command_context() -> Iterator[AppContext]:
    """The context of one command (settings from the environment), disposed at its end; a
    Problem raised inside is printed by `refuse`."""
    from app.core.config import get_settings
    from app.core.context import AppContext
    from app.core.errors import Problem

    ctx = AppContext.build(get_settings())
    try:
        yield ctx
    except Problem as exc:
        refuse(exc)
    finally:
        ctx.db.dispose()


def run(work: Callable[[Any, Any], Any]) -> Any:
    """`work(session, ctx)` in one transaction of a command's context."""
    with command_context() as ctx, ctx.db.transaction() as session:
        return work(session, ctx)
