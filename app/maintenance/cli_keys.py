"""`rightsdesk keys`: move sealed values to the newest key, and the blind index to a new key."""

from __future__ import annotations

import typer

keys_cli = typer.Typer(
    help="Encryption keys: re-encrypt under the newest key, move the blind index.",
    no_args_is_help=True,
)
