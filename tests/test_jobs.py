"""One list of background jobs (app/jobs.py): `rightsdesk worker` and `rightsdesk serve`'s
in-process pump run the same jobs, the housekeeping ones included."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

import app.cli
import app.jobs
from app.jobs import JOBS, Job
from app.main import create_app
from tests.support import make_settings, wait_for


def _recording(ran: list[str]) -> tuple[Job, ...]:
    """The registry's jobs, each recording its name instead of working; all due at once."""
    return tuple(Job(job.name, 0, lambda _jobs, n=job.name: ran.append(n)) for job in JOBS)


def test_worker_and_serve_run_the_same_jobs(database_url, tmp_path, clock, monkeypatch):
    names = [job.name for job in JOBS]
    assert len(set(names)) == len(names)
    # What only the worker used to do: purge, trim the access record, forget idempotency
    # keys and drop ended rate windows (forget).
    assert {"deliver", "purge", "trim_audit", "forget", "expire", "remind"} <= set(names)

    by_worker: list[str] = []
    monkeypatch.setattr(app.jobs, "JOBS", _recording(by_worker))
    settings = make_settings(database_url, tmp_path, delivery="off")
    monkeypatch.setattr(app.cli, "get_settings", lambda: settings)
    monkeypatch.setattr(app.cli, "_logging", lambda *_: None)
    monkeypatch.setattr(app.cli.signal, "signal", lambda *_: None)
    done = CliRunner().invoke(app.cli.cli, ["worker", "--once"])
    assert done.exit_code == 0, done.output
    assert by_worker == names

    by_serve: list[str] = []
    monkeypatch.setattr(app.jobs, "JOBS", _recording(by_serve))
    background = make_settings(
        database_url, tmp_path, delivery="background", outbox_poll_seconds=0.05
    )
    with TestClient(create_app(background, clock)):
        assert wait_for(lambda: len(by_serve) >= len(names)), by_serve
    assert by_serve[: len(names)] == names
