"""`rightsdesk clients create|list|rotate|revoke` (issue 9.1), run as an operator would, against
the same database as the API under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import TEST_KEY, client_token

RIGHTSDESK = str(Path(sys.executable).with_name("rightsdesk"))


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": settings.database_url,
        "RIGHTSDESK_VAR_DIR": str(settings.var_dir),
        "RIGHTSDESK_SECRET_KEY": settings.secret_key,  # the keyed hash of client secrets
        "RIGHTSDESK_ENCRYPTION_KEYS": f"t1:{TEST_KEY}",
        "RIGHTSDESK_BLIND_INDEX_KEY": settings.blind_index_key,
    }
    return subprocess.run(
        [RIGHTSDESK, "clients", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_create_list_rotate_revoke(client, settings, staff):
    made = _cli(
        settings,
        "create",
        "--name",
        "Stibee",
        "--scope",
        "tasks:read",
        "--scope",
        "tasks:write",
        "--system",
        "stibee",
    )
    assert made.returncode == 0, made.stderr
    creds = json.loads(made.stdout)
    assert creds["client_id"].startswith("cli_") and creds["client_secret"].startswith("rdcs_")
    assert creds["scopes"] == ["tasks:read", "tasks:write"] and creds["systems"] == ["stibee"]
    # The printed credentials work against the API.
    headers = client_token(client, creds)
    assert client.get("/v1/integrations/tasks", headers=headers).status_code == 200

    listed = _cli(settings, "list")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["client_id"] for r in rows] == [creds["client_id"]]
    assert creds["client_secret"] not in listed.stdout

    rotated = _cli(settings, "rotate", creds["client_id"])
    assert rotated.returncode == 0, rotated.stderr
    new = json.loads(rotated.stdout)
    assert new["client_secret"] != creds["client_secret"]
    assert client.get("/v1/integrations/tasks", headers=headers).status_code == 401
    headers = client_token(client, new)

    revoked = _cli(settings, "revoke", creds["client_id"])
    assert revoked.returncode == 0, revoked.stderr
    assert client.get("/v1/integrations/tasks", headers=headers).status_code == 401

    audit = client.get(
        "/v1/staff/audit", headers=staff["cpo"]["headers"], params={"actor": "cli"}
    ).json()["items"]
    assert [e["action"] for e in audit] == ["client_granted", "client_rotated", "client_revoked"]


def test_bad_input_is_one_line_and_non_zero(client, settings):
    bad = _cli(settings, "create", "--name", "x", "--scope", "tasks:read")
    assert bad.returncode == 1
    assert "systems" in bad.stderr and "Traceback" not in bad.stderr
    unknown = _cli(settings, "rotate", "cli_nope")
    assert unknown.returncode == 1 and "No such client" in unknown.stderr
    none = _cli(settings, "list")
    assert none.returncode == 0 and none.stdout == ""
