"""`rightsdesk keys`: move sealed values to the newest key, and the blind index to a new key.

Both moves run while the service runs (see maintenance/keys.py for how) and can be stopped and
started again: progress is kept in the database. Exit codes: 0 done and nothing left behind;
1 done but values are left (the message says how many and what to do); 2 refused (a setting
to fix); 3 stopped by --max-batches before the end (run again to continue).

Output carries counts, key ids, table and column names and row ids, never a value.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer

keys_cli = typer.Typer(
    help="Encryption keys: re-encrypt under the newest key, move the blind index.",
    no_args_is_help=True,
)

BatchSize = Annotated[
    int, typer.Option(min=1, max=10_000, help="Rows per batch (each batch one transaction).")
]
MaxBatches = Annotated[
    int | None,
    typer.Option(min=1, help="Stop after this many batches (run again to continue)."),
]

STOPPED = 3


@dataclass
class _Env:
    settings: Any
    db: Any
    keys: Any
    blind_index: Any


def _refuse(message: str) -> typer.Exit:
    typer.echo(f"rightsdesk: {message}", err=True)
    return typer.Exit(2)


def _env() -> _Env:
    """Settings, database and keys as the service builds them (a bad ring refuses, exit 2)."""
    from app.core.config import get_settings
    from app.core.crypto import BlindIndex, CryptoError, KeyRing
    from app.core.db import Database

    settings = get_settings()
    try:
        keys = KeyRing(settings.resolved_encryption_keys())
    except CryptoError as exc:
        raise _refuse(f"RIGHTSDESK_ENCRYPTION_KEYS: {exc}") from None
    blind_index = BlindIndex(settings.resolved_blind_index_key(), settings.blind_index_previous_key)
    return _Env(settings, Database(settings.resolved_database_url), keys, blind_index)


def _drive(job, *, label: str, batch_size: int, max_batches: int | None):
    """Start or resume `job`, run it under a progress bar (on stderr), return its report
    (None when the job was finished already with nothing left behind)."""
    state = job.start()
    if state.complete:
        return None
    verb = "resuming" if state.done else "starting"
    typer.echo(
        f"{job.name}: {verb} (pass {state.passes}, {state.done} of {state.total} rows)", err=True
    )
    with typer.progressbar(
        length=max(state.total, state.done, 1), label=label, show_pos=True, file=sys.stderr
    ) as bar:
        bar.update(state.done)
        report = job.run(batch_size=batch_size, max_batches=max_batches, on_batch=bar.update)
    return report


def _unreadable(report) -> None:
    if report.unreadable:
        places = ", ".join(report.unreadable_at)
        more = report.unreadable - len(report.unreadable_at)
        typer.echo(
            f"{report.unreadable} value(s) do not open with their place's associated data or "
            f"any key of the ring: {places}{f' (and {more} more)' if more > 0 else ''}",
            err=True,
        )


@keys_cli.command("rotate")
def rotate(batch_size: BatchSize = 500, max_batches: MaxBatches = None) -> None:
    """Re-encrypt every sealed value under the newest key of RIGHTSDESK_ENCRYPTION_KEYS (put
    the new key first, restart the service, then run this). Runs beside the service, in
    batches, and resumes where it stopped; at the end, says whether the old keys can go."""
    from app.maintenance.keys import Rotation, census

    env = _env()
    try:
        kid, ring = env.keys.current_kid, env.keys.kids
        # A value under a key the ring does not hold cannot be re-sealed: the old key must
        # stay in the ring (after the new one) until this is done.
        before = census(env.db)
        unknown = sorted({k for counts in before.values() for k in counts} - set(ring))
        if unknown:
            raise _refuse(
                f"RIGHTSDESK_ENCRYPTION_KEYS: values are sealed under key(s) "
                f"{', '.join(unknown)}, which the ring does not hold; put them back after "
                f"the new key ({kid}) and run again"
            )
        job = Rotation(env.db, env.keys)
        report = _drive(
            job, label=f"re-sealing under {kid}", batch_size=batch_size, max_batches=max_batches
        )
        if report is not None:
            _unreadable(report)
            typer.echo(
                f"{job.name}: {report.changed} value(s) re-sealed in {report.batches} "
                f"batch(es); {report.done} of {report.total} rows walked (pass {report.passes})"
            )
            if not report.finished:
                typer.echo("stopped before the end; run `rightsdesk keys rotate` again to continue")
                raise typer.Exit(STOPPED)
        else:
            typer.echo(f"{job.name}: done already")
        after = census(env.db)
        left = {k: n for counts in after.values() for k, n in counts.items() if k != kid and n}
        left_total = sum(n for counts in after.values() for k, n in counts.items() if k != kid)
        if left_total:
            per_kid = ", ".join(
                f"{k}: {sum(c.get(k, 0) for c in after.values())}" for k in sorted(left)
            )
            typer.echo(
                f"{left_total} value(s) are still sealed under older keys ({per_kid}); run "
                "`rightsdesk keys rotate` again (every service process must run with the new "
                "key first in RIGHTSDESK_ENCRYPTION_KEYS)",
                err=True,
            )
            raise typer.Exit(1)
        old = [k for k in ring if k != kid]
        if old:
            typer.echo(
                f"every sealed value is under {kid}: key(s) {', '.join(old)} can now be "
                "removed from RIGHTSDESK_ENCRYPTION_KEYS"
            )
        else:
            typer.echo(f"every sealed value is under {kid}, the only key of the ring")
    finally:
        env.db.dispose()


@keys_cli.command("reindex")
def reindex(batch_size: BatchSize = 500, max_batches: MaxBatches = None) -> None:
    """Move the e-mail blind index to RIGHTSDESK_BLIND_INDEX_KEY (set the old key as
    RIGHTSDESK_BLIND_INDEX_PREVIOUS_KEY and restart the service first, so look-ups find rows
    not yet moved). Runs beside the service, in batches, and resumes where it stopped."""
    from app.maintenance.keys import Reindex

    env = _env()
    try:
        if not env.blind_index.moving:
            typer.echo(
                "note: RIGHTSDESK_BLIND_INDEX_PREVIOUS_KEY is not set: until this finishes, "
                "look-ups by e-mail miss the rows not yet moved",
                err=True,
            )
        job = Reindex(env.db, env.keys, env.blind_index)
        report = _drive(
            job, label="moving the blind index", batch_size=batch_size, max_batches=max_batches
        )
        if report is None:
            typer.echo(f"{job.name}: done already")
        else:
            _unreadable(report)
            typer.echo(
                f"{job.name}: {report.changed} index entr(ies) moved in {report.batches} "
                f"batch(es); {report.done} of {report.total} rows walked (pass {report.passes})"
            )
            if report.kept:
                typer.echo(
                    f"{report.kept} index entr(ies) have no sealed e-mail left to recompute "
                    "them from (purged); they were left as they are"
                )
            if not report.finished:
                typer.echo(
                    "stopped before the end; run `rightsdesk keys reindex` again to continue"
                )
                raise typer.Exit(STOPPED)
            if report.lost or report.unreadable:
                typer.echo(
                    f"{report.lost} row(s) changed or were busy while moving and "
                    f"{report.unreadable} did not open; run `rightsdesk keys reindex` again",
                    err=True,
                )
                raise typer.Exit(1)
        typer.echo(
            "the blind index is under RIGHTSDESK_BLIND_INDEX_KEY: "
            "RIGHTSDESK_BLIND_INDEX_PREVIOUS_KEY can now be unset"
        )
    finally:
        env.db.dispose()


@keys_cli.command("status")
def status() -> None:
    """How many values each key seals, per sealed column, and the key jobs' progress."""
    from app.maintenance.keys import census, jobs

    env = _env()
    try:
        kid = env.keys.current_kid
        counts = census(env.db)
        totals: dict[str, int] = {}
        for per_kid in counts.values():
            for k, n in per_kid.items():
                totals[k] = totals.get(k, 0) + n
        typer.echo(f"ring: {', '.join(env.keys.kids)} (seals with {kid})")
        for k in sorted(totals, key=lambda k: (k != kid, k)):
            where = "" if k in env.keys.kids else "  NOT IN THE RING"
            typer.echo(f"  {k}: {totals[k]} value(s){where}")
        for column, per_kid in counts.items():
            shown = ", ".join(f"{k} {n}" for k, n in per_kid.items())
            if shown:
                typer.echo(f"  {column}: {shown}")
        for job in jobs(env.db):
            state = (
                f"finished {job.finished_at:%Y-%m-%d %H:%M} UTC"
                if job.finished_at
                else "not finished"
            )
            typer.echo(f"job {job.name}: {job.done} of {job.total} rows, {state}")
    finally:
        env.db.dispose()
