"""compose.yaml's services run as compose would run them, without Docker (issue 21.9): the
test machines have no Docker engine, so the containers themselves cannot start here. What can
be run is everything inside them: each service's own command and environment, read from
compose.yaml, in production — `rightsdesk migrate`, then `rightsdesk serve` with the API's
worker count and `rightsdesk worker` — with only what the host decides changed (the database,
the relay's address and CA, the profile's path, the var folder, the port). A filing through
the API is delivered by e-mail, over STARTTLS, by the worker alone (the API delivers nothing
in this shape), and every process logs JSON lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from email import message_from_bytes

import httpx
import pytest

from app.profile.loader import DEFAULT_PROFILE
from tests.notifications.test_smtp import pki, relay  # noqa: F401 (fixtures)
from tests.support import RIGHTSDESK, free_port, rightsdesk_process, start_until_ready, wait_for
from tests.test_compose import FILLED, _compose, _interpolate

pytestmark = pytest.mark.slow


# The operator's .env: the required values, and two API workers (the file's default is 4;
# two show the same multi-process shape and start in half the time on a 2-core machine).
DOTENV = {**FILLED, "RIGHTSDESK_API_WORKERS": "2"}


def _service(name: str) -> tuple[list[str], dict[str, str]]:
    """A compose service's command and environment, interpolated as compose would."""
    service = _compose()["services"][name]
    command = [_interpolate(str(part), DOTENV) for part in service["command"]]
    env = {k: _interpolate(str(v), DOTENV) for k, v in service["environment"].items()}
    return command, env


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


@pytest.fixture
def host(tmp_path, database_url, pki, relay, app):  # noqa: F811 (`app` cleans the database after)
    """What the host decides, in place of compose's network and volumes."""
    handler, port = relay("starttls")
    profile = tmp_path / "profile.yaml"  # the company's own file (a copy: not the sample's path)
    profile.write_text(DEFAULT_PROFILE.read_text("utf-8"), "utf-8")
    return handler, {
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_SMTP_HOST": "127.0.0.1",
        "RIGHTSDESK_SMTP_PORT": str(port),
        "RIGHTSDESK_SMTP_CA_FILE": str(pki["ca"]),
        "RIGHTSDESK_PROFILE_PATH": str(profile),
        "RIGHTSDESK_VAR_DIR": str(tmp_path / "var"),
        "RIGHTSDESK_OUTBOX_POLL_SECONDS": "0.5",
    }


def _env(service_env: dict[str, str], host_env: dict[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSDESK_")}
    return {**clean, **service_env, **host_env}


def test_the_compose_services_run_in_production_and_the_worker_delivers(host, tmp_path):
    received, host_env = host

    command, env = _service("migrate")
    assert command == ["rightsdesk", "migrate"]
    migrated = rightsdesk_process({**env, **host_env}, *command[1:])
    assert migrated.returncode == 0, migrated.stderr

    command, env = _service("api")
    assert env["RIGHTSDESK_ENV"] == "production" and env["RIGHTSDESK_DELIVERY"] == "off"
    workers = _option(command, "--workers")
    assert workers == "2"  # from the .env, through the file's ${RIGHTSDESK_API_WORKERS:-4}
    port = free_port()
    argv = [RIGHTSDESK, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", workers]
    api_log = tmp_path / "api.log"
    ready = f"http://127.0.0.1:{port}/readyz"
    api = start_until_ready(argv, _env(env, host_env), api_log, ready, timeout=90)

    command, env = _service("worker")
    assert command == ["rightsdesk", "worker"]
    worker_log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [RIGHTSDESK, *command[1:]],
        env=_env(env, host_env),
        stdout=worker_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        filed = httpx.post(
            f"http://127.0.0.1:{port}/v1/requests",
            json={"type": "access", "subject": {"name": "홍길동", "email": "hong@example.com"}},
            timeout=10,
        )
        assert filed.status_code == 201, filed.text
        reference = filed.json()["reference"]
        # The receipt and the one-time code, both by the worker over STARTTLS.
        assert wait_for(lambda: len(received.received) >= 2, timeout=30), worker_log.read_text()
        assert all(encrypted for encrypted, _ in received.received)
        mails = [message_from_bytes(content) for _, content in received.received]
        assert {m["To"] for m in mails} == {"hong@example.com"}
        assert any(reference in m.get_payload(decode=True).decode() for m in mails)
    finally:
        for proc in (worker, api):
            proc.send_signal(signal.SIGTERM)
        for proc in (worker, api):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert worker.returncode == 0, worker_log.read_text()
    # Production logs JSON, from the API's workers and the worker alike; no address in them.
    for log in (api_log, worker_log):
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        assert lines, f"{log.name} is empty"
        for line in lines:
            assert isinstance(json.loads(line), dict), line
        assert "hong@example.com" not in log.read_text()
    assert any(json.loads(line).get("route") == "/v1/requests" for line in api_log.open())
