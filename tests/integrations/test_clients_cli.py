"""`rightsdesk clients create|list|rotate|revoke` (issue 9.1), run through the command's own entry point (in-process), against
the same database as the API under test."""

from __future__ import annotations

import json
import subprocess

from tests.support import client_token, rightsdesk, settings_env


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    return rightsdesk(settings_env(settings), "clients", *args)


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
