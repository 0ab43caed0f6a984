"""(being written)"""

from __future__ import annotations

import typer

clients_cli = typer.Typer(help="Integration clients (OAuth2 client credentials).", no_args_is_help=True)
