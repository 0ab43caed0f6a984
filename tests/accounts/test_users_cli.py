"""`rightsdesk users list|set-role|deactivate|activate|unlock` and `rightsdesk create-user`
(issue 10.7), through the command's own entry point (in this process: tests/support.rightsdesk)
against the database of the API under test; the password prompt as an operator meets it, the
installed command on a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time

import pytest

from tests.support import PASSWORD, RIGHTSDESK, login, rightsdesk, settings_env, token_response

NEW_PASSWORD = "typed twice, hidden"


def _env(settings) -> dict:
    return {**os.environ, **settings_env(settings)}


def _cli(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return rightsdesk(settings_env(settings), *args, stdin=stdin)


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _refused(done: subprocess.CompletedProcess, code: int = 1) -> str:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    return done.stderr


def _audit(client, staff, action: str) -> list[dict]:
    response = client.get(
        "/v1/staff/audit", headers=staff["cpo"]["headers"], params={"action": action}
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


# --- rightsdesk users … -------------------------------------------------------------------------


def test_list_is_one_json_object_per_line_without_hashes(client, settings, staff):
    out = _ok(_cli(settings, "users", "list"))
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["email"] for r in rows] == [
        "cpo@example.com",
        "handler@example.com",
        "handler2@example.com",
        "auditor@example.com",
    ]
    assert rows[0]["id"] == staff["cpo"]["id"] and rows[0]["role"] == "cpo"
    assert set(rows[0]) == {
        "id",
        "email",
        "role",
        "active",
        "locked",
        "locked_until",
        "failed_logins",
        "last_login_at",
        "created_at",
    }
    assert "argon2" not in out and "password" not in out


def test_set_role_ends_the_sessions_and_the_new_role_applies(client, settings, staff):
    handler = staff["handler"]
    assert client.get("/v1/staff/users", headers=handler["headers"]).status_code == 403
    row = json.loads(_ok(_cli(settings, "users", "set-role", "Handler@Example.com", "cpo")))
    assert row["role"] == "cpo" and row["email"] == handler["email"]
    assert client.get("/v1/staff/users", headers=handler["headers"]).status_code == 401
    headers = login(client, handler["email"])
    assert client.get("/v1/staff/users", headers=headers).status_code == 200
    [entry] = _audit(client, staff, "role_changed")
    assert entry["actor"] == "cli"
    assert entry["detail"] == {"user": handler["id"], "from": "handler", "to": "cpo"}


def test_deactivate_and_activate(client, settings, staff):
    handler = staff["handler"]
    assert handler["headers"]  # logged in while active
    row = json.loads(_ok(_cli(settings, "users", "deactivate", handler["email"])))
    assert row["active"] is False
    assert client.get("/v1/staff/requests", headers=handler["headers"]).status_code == 401
    assert token_response(client, handler["email"]).status_code == 401
    # Once more: already so, nothing changes and nothing is recorded.
    _ok(_cli(settings, "users", "deactivate", handler["email"]))
    row = json.loads(_ok(_cli(settings, "users", "activate", handler["email"])))
    assert row["active"] is True
    assert token_response(client, handler["email"]).status_code == 200
    assert [(e["actor"], e["detail"]) for e in _audit(client, staff, "deactivated")] == [
        ("cli", {"user": handler["id"]})
    ]
    assert len(_audit(client, staff, "activated")) == 1


def test_unlock_after_a_lock_out(client, settings, staff):
    email = staff["auditor"]["email"]
    for _ in range(settings.login_max_failures):
        assert token_response(client, email, "wrong password!").status_code == 401
    assert token_response(client, email).status_code == 423
    locked = next(
        json.loads(line)
        for line in _ok(_cli(settings, "users", "list")).splitlines()
        if json.loads(line)["email"] == email
    )
    # The CLI reads the wall clock, the API under test a frozen one: only the flag is compared.
    assert locked["locked_until"] is None or locked["locked"] is True
    row = json.loads(_ok(_cli(settings, "users", "unlock", email)))
    assert row["locked"] is False and row["failed_logins"] == 0
    assert token_response(client, email).status_code == 200
    [entry] = _audit(client, staff, "unlocked")
    assert entry["actor"] == "cli" and entry["detail"]["user"] == staff["auditor"]["id"]


def test_errors_are_one_line_and_non_zero(client, settings, staff):
    assert "No such staff account" in _refused(_cli(settings, "users", "unlock", "x@example.com"))
    assert "ROLE" in _refused(_cli(settings, "users", "set-role", "cpo@example.com", "root"), 2)
    last = _refused(_cli(settings, "users", "set-role", "cpo@example.com", "handler"))
    assert "last active CPO" in last
    assert "last active CPO" in _refused(_cli(settings, "users", "deactivate", staff["cpo"]["id"]))
    assert client.get("/v1/staff/users", headers=staff["cpo"]["headers"]).status_code == 200
    assert _audit(client, staff, "role_changed") == []


def test_reset_password_ends_every_session(client, settings, staff):
    handler = staff["handler"]
    assert handler["headers"]  # logged in with the old password
    pair = client.post(
        "/v1/auth/token", data={"username": handler["email"], "password": PASSWORD}
    ).json()
    new = "a brand new passphrase"
    row = json.loads(
        _ok(
            _cli(
                settings,
                "users",
                "reset-password",
                handler["email"],
                "--password-stdin",
                stdin=new + "\n",
            )
        )
    )
    assert row["id"] == handler["id"] and "password" not in json.dumps(row)
    for headers in (handler["headers"], {"Authorization": f"Bearer {pair['access_token']}"}):
        assert client.get("/v1/staff/requests", headers=headers).status_code == 401
    refreshed = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert refreshed.status_code == 400
    assert token_response(client, handler["email"]).status_code == 401
    assert token_response(client, handler["email"], new).status_code == 200
    [entry] = _audit(client, staff, "password_reset")
    assert entry["actor"] == "cli" and entry["detail"] == {"user": handler["id"]}
    ended = _audit(client, staff, "session_ended")
    assert {e["detail"]["reason"] for e in ended} == {"password_reset"} and len(ended) == 2


def test_reset_password_refuses_a_short_one_and_changes_nothing(client, settings, staff):
    handler = staff["handler"]
    done = _cli(
        settings, "users", "reset-password", handler["email"], "--password-stdin", stdin="short\n"
    )
    assert "12 characters" in _refused(done)
    assert client.get("/v1/staff/requests", headers=handler["headers"]).status_code == 200
    assert token_response(client, handler["email"]).status_code == 200
    assert _audit(client, staff, "password_reset") == []


def test_list_of_an_empty_database(client, settings):
    assert _ok(_cli(settings, "users", "list")) == ""


# --- rightsdesk create-user ---------------------------------------------------------------------


def test_create_user_with_password_stdin(client, settings, staff):
    done = _cli(
        settings,
        "create-user",
        "--email",
        "New@Example.com",
        "--role",
        "auditor",
        "--password-stdin",
        stdin=NEW_PASSWORD + "\n",
    )
    made = json.loads(_ok(done))
    assert made["email"] == "new@example.com" and made["role"] == "auditor"
    headers = login(client, "new@example.com", NEW_PASSWORD)
    assert client.get("/v1/staff/audit", headers=headers).status_code == 200
    [grant] = [g for g in _audit(client, staff, "grant") if g["actor"] == "cli"]
    assert grant["detail"] == {"user": made["id"], "role": "auditor"}


def test_create_user_refusals(client, settings, staff):
    args = ["create-user", "--email", "new@example.com", "--role", "handler"]
    # Not a terminal and no --password-stdin: nowhere to read a password from.
    assert "--password-stdin" in _refused(_cli(settings, *args), 2)
    short = _refused(_cli(settings, *args, "--password-stdin", stdin="short\n"))
    assert "password" in short and "12" in short
    taken = ["create-user", "--email", "HANDLER@example.com", "--role", "handler"]
    assert "exists" in _refused(_cli(settings, *taken, "--password-stdin", stdin=NEW_PASSWORD))
    assert "role" in _refused(_cli(settings, "create-user", "--email", "a@b.c", "--role", "x"), 2)


class Terminal:
    """The command on a pseudo-terminal of its own (a new session, so it cannot reach the test
    runner's terminal): what it prints is read back, and lines are typed into it."""

    def __init__(self, argv: list[str], env: dict) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.seen = b""
        self.pos = 0

    def expect(self, text: str, timeout: float = 30.0) -> None:
        """Wait until `text` appears after what the last expect matched."""
        wanted = text.encode()
        deadline = time.monotonic() + timeout
        while (at := self.seen.find(wanted, self.pos)) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                pytest.fail(f"no {text!r} in {self.seen!r}")
        self.pos = at + len(wanted)

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        code = self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        os.close(self.master)
        return code, self.seen.decode(errors="replace")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the command exited and closed the terminal
            return False
        self.seen += chunk
        return bool(chunk)


def _prompted(settings, email: str) -> Terminal:
    return Terminal(
        [RIGHTSDESK, "create-user", "--email", email, "--role", "handler"], _env(settings)
    )


def test_create_user_prompts_twice_without_echo(client, settings, staff):
    term = _prompted(settings, "typed@example.com")
    # The trailing space comes after echo is off: typing before it could be echoed or lost.
    term.expect("Password: ")
    term.type(NEW_PASSWORD)
    term.expect("Repeat for confirmation: ")
    term.type(NEW_PASSWORD)
    code, transcript = term.finish()
    assert code == 0, transcript
    assert NEW_PASSWORD not in transcript  # never echoed
    made = json.loads(transcript[transcript.index("{") :].strip())
    assert made["email"] == "typed@example.com" and made["role"] == "handler"
    assert token_response(client, "typed@example.com", NEW_PASSWORD).status_code == 200


def test_create_user_prompt_refuses_a_mismatch(client, settings, staff):
    term = _prompted(settings, "typo@example.com")
    term.expect("Password: ")
    term.type(NEW_PASSWORD)
    term.expect("Repeat for confirmation: ")
    term.type(NEW_PASSWORD + "x")
    # Refused, nothing created, and asked again from the start.
    term.expect("do not match")
    term.expect("Password: ")
    assert token_response(client, "typo@example.com", NEW_PASSWORD).status_code == 401
    term.type(NEW_PASSWORD)
    term.expect("Repeat for confirmation: ")
    term.type(NEW_PASSWORD)
    code, transcript = term.finish()
    assert code == 0, transcript
    assert NEW_PASSWORD not in transcript
    assert token_response(client, "typo@example.com", NEW_PASSWORD).status_code == 200
    assert token_response(client, "typo@example.com", NEW_PASSWORD + "x").status_code == 401


def test_create_user_prompt_then_too_short(client, settings, staff):
    term = _prompted(settings, "short@example.com")
    term.expect("Password: ")
    term.type("short")
    term.expect("Repeat for confirmation: ")
    term.type("short")
    code, transcript = term.finish()
    assert code == 1 and "at least 12 characters" in transcript and "Traceback" not in transcript
    assert token_response(client, "short@example.com", "short").status_code == 401
