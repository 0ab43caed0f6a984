"""A start that cannot succeed says so in one line naming the setting or file to fix, exits
non-zero, and leaves nothing behind in the working directory (issue 10.2); `worker --once`
prints what it did (issue 10.8)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import TEST_KEY, file_request, rightsdesk_process


def _run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    # A process of its own: what is refused is the start of the installed command.
    return rightsdesk_process(env, *args, cwd=cwd)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"RIGHTSDESK_OUTBOX_LEASE_SECONDS": "abc"}, "RIGHTSDESK_OUTBOX_LEASE_SECONDS"),
        ({"RIGHTSDESK_DATABASE_URL": "mysql://db/x"}, "RIGHTSDESK_DATABASE_URL"),
        (
            {"RIGHTSDESK_DATABASE_URL": "postgresql+psycopg://app:s3cret@127.0.0.1:1/x"},
            "RIGHTSDESK_DATABASE_URL",
        ),
        ({"RIGHTSDESK_PROFILE_PATH": "/no/such/profile.yaml"}, "RIGHTSDESK_PROFILE_PATH"),
        ({"RIGHTSDESK_EXTRA_HOLIDAYS": "2026-13-01"}, "RIGHTSDESK_EXTRA_HOLIDAYS"),
        ({"RIGHTSDESK_ENV": "production"}, "RIGHTSDESK_SECRET_KEY"),
        # argon2 needs 8 KiB per lane (4 lanes): 8-31 used to pass, then kill every process.
        ({"RIGHTSDESK_ARGON2_MEMORY_KIB": "31"}, "RIGHTSDESK_ARGON2_MEMORY_KIB"),
        ({"RIGHTSDESK_ARGON2_MEMORY_KIB": "8"}, "RIGHTSDESK_ARGON2_MEMORY_KIB"),
        (
            {
                "RIGHTSDESK_ENV": "production",
                "RIGHTSDESK_SECRET_KEY": "p" * 48,
                "RIGHTSDESK_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
                "RIGHTSDESK_BLIND_INDEX_KEY": "b" * 48,
                "RIGHTSDESK_NOTIFY_ALLOW_FILE": "true",
            },
            "RIGHTSDESK_ALLOW_SAMPLE_PROFILE",
        ),
    ],
)
def test_a_refused_start_is_one_line_and_leaves_nothing(tmp_path, env, names):
    done = _run(tmp_path, "serve", "--port", "1", **env)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("rightsdesk: ") and names in lines[0]
    assert "Traceback" not in done.stderr and "s3cret" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no var/, no secrets, no database file


def test_worker_once_prints_a_summary(app, settings, clock, tmp_path):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.support import make_settings

    # Filed with delivery off: the two notices wait for the worker.
    with TestClient(
        create_app(make_settings(settings.database_url, tmp_path, delivery="off"), clock)
    ) as c:
        file_request(c)
    env = {
        "RIGHTSDESK_DATABASE_URL": settings.database_url,
        "RIGHTSDESK_VAR_DIR": str(tmp_path / "var"),
        "RIGHTSDESK_NOTIFY_DIR": str(tmp_path / "outbox"),
        "RIGHTSDESK_SECRET_KEY": settings.secret_key,
        "RIGHTSDESK_ENCRYPTION_KEYS": f"t1:{TEST_KEY}",
        "RIGHTSDESK_BLIND_INDEX_KEY": settings.blind_index_key,
    }
    done = _run(tmp_path, "worker", "--once", **env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    for key in (
        "notices_delivered",
        "webhooks_delivered",
        "documents_destroyed",
        "results_destroyed",
        "requests_expired",
        "reminders_sent",
        "idempotency_keys_forgotten",
    ):
        assert key in summary
    assert summary["failed_steps"] == []
    assert summary["notices_delivered"] == 2  # the receipt and the code
    assert len(list((tmp_path / "outbox").glob("*.json"))) == 2
