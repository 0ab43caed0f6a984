"""End to end: the real `rightsdesk serve` process, over TCP, with the file sender."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support import (
    CHEAP_HASHING,
    CODE_RE,
    RIGHTSDESK,
    TEST_KEY,
    free_port,
    read_outbox,
    rightsdesk,
    wait_for,
)


class Server:
    def __init__(self, database_url: str, workdir: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "RIGHTSDESK_DATABASE_URL": database_url,
            "RIGHTSDESK_VAR_DIR": str(workdir / "var"),
            "RIGHTSDESK_NOTIFY_DIR": str(workdir / "outbox"),
            "RIGHTSDESK_SECRET_KEY": "e2e-secret-" + "z" * 40,
            "RIGHTSDESK_ENCRYPTION_KEYS": f"e2e:{TEST_KEY}",
            "RIGHTSDESK_BLIND_INDEX_KEY": "e2e-blind",
            "RIGHTSDESK_OUTBOX_POLL_SECONDS": "0.5",
            **CHEAP_HASHING,
            **env,
        }
        self.log = workdir / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            [RIGHTSDESK, "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"server did not become ready: {self.log.read_text()}")

    CPO_EMAIL, CPO_PASSWORD = "cpo@example.com", "e2e password 1234"

    def create_cpo(self) -> None:
        """`rightsdesk create-user`, as an operator would run it."""
        made = rightsdesk(
            self.env,
            "create-user",
            "--email",
            self.CPO_EMAIL,
            "--role",
            "cpo",
            "--password-stdin",
            stdin=self.CPO_PASSWORD + "\n",
        )
        assert made.returncode == 0, made.stderr

    def cpo_headers(self, http: httpx.Client) -> dict:
        login = http.post(
            "/v1/auth/token", data={"username": self.CPO_EMAIL, "password": self.CPO_PASSWORD}
        )
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)


def _code(outbox: Path, request_id: str) -> str | None:
    for m in read_outbox(outbox):
        if m["template"] == "verification_code" and m["request_id"] == request_id:
            return CODE_RE.search(m["text"]).group(1)
    return None


@pytest.fixture
def e2e_dir(tmp_path, app):  # `app` cleans the database afterwards
    return tmp_path


def test_file_verify_read_withdraw(database_url, e2e_dir):
    server = Server(database_url, e2e_dir).start()
    try:
        with httpx.Client(base_url=server.base, timeout=10) as http:
            created = http.post(
                "/v1/requests",
                json={
                    "type": "deletion",
                    "subject": {"name": "박지민", "email": "park@example.com"},
                    "scope": {"categories": ["newsletter", "events"]},
                },
            )
            assert created.status_code == 201, created.text
            request_id = created.json()["id"]
            code = wait_for(lambda: _code(e2e_dir / "outbox", request_id))
            assert code, "the code notice was not delivered by the server's own pump"
            token = http.post(f"/v1/requests/{request_id}/verification", json={"code": code})
            assert token.status_code == 200
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            status = http.get(f"/v1/requests/{request_id}", headers=auth).json()
            assert status["status"] == "open"
            assert status["categories"] == ["newsletter", "events"]
            assert (
                http.post(f"/v1/requests/{request_id}/withdraw", headers=auth).json()["status"]
                == "withdrawn"
            )
            assert http.get("/v1/requests/req_other", headers=auth).status_code == 404
    finally:
        server.kill(signal.SIGTERM)
    log = server.log.read_text()
    assert "박지민" not in log and "park@example.com" not in log


def test_acknowledged_request_survives_kill_9(database_url, e2e_dir):
    """201 means committed: after kill -9 the request is there and its code still goes out."""
    outbox = e2e_dir / "outbox"
    first = Server(database_url, e2e_dir, RIGHTSDESK_DELIVERY="off").start()
    try:
        created = httpx.post(
            f"{first.base}/v1/requests",
            timeout=10,
            json={"type": "access", "subject": {"name": "최유리", "email": "choi@example.com"}},
        )
        assert created.status_code == 201
    finally:
        first.kill(signal.SIGKILL)
    request_id = created.json()["id"]
    assert _code(outbox, request_id) is None  # nothing was sent before the crash

    second = Server(database_url, e2e_dir).start()  # default delivery: the in-process pump
    try:
        code = wait_for(lambda: _code(outbox, request_id))
        assert code, "the queued code notice was not delivered after the restart"
        token = httpx.post(
            f"{second.base}/v1/requests/{request_id}/verification", json={"code": code}, timeout=10
        )
        assert token.status_code == 200
    finally:
        second.kill(signal.SIGTERM)


def test_worker_delivers_what_the_api_queued(database_url, e2e_dir):
    """Production shape: the API only queues (delivery off); `rightsdesk worker` sends."""
    from fastapi.testclient import TestClient

    from app.core.clock import Clock
    from app.main import create_app
    from tests.support import make_settings

    # The wall clock: the worker process judges what is due by it.
    api_settings = make_settings(database_url, e2e_dir, delivery="off")
    with TestClient(create_app(api_settings, Clock())) as c:
        created = c.post(
            "/v1/requests",
            json={"type": "suspension", "subject": {"name": "정하늘", "email": "jung@example.com"}},
        )
    assert created.status_code == 201
    outbox = e2e_dir / "outbox"
    assert read_outbox(outbox) == []
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_VAR_DIR": str(e2e_dir / "var"),
        "RIGHTSDESK_NOTIFY_DIR": str(outbox),
        "RIGHTSDESK_SECRET_KEY": api_settings.secret_key,
        "RIGHTSDESK_ENCRYPTION_KEYS": api_settings.encryption_keys,
        "RIGHTSDESK_BLIND_INDEX_KEY": api_settings.blind_index_key,
    }
    result = rightsdesk(env, "worker", "--once")
    assert result.returncode == 0, result.stderr
    assert sorted(m["template"] for m in read_outbox(outbox)) == ["receipt", "verification_code"]
    assert "jung@example.com" not in result.stderr + result.stdout


def test_audit_verify_cli(database_url, e2e_dir, client):
    client.post(
        "/v1/requests",
        json={"type": "access", "subject": {"name": "한지우", "email": "han@example.com"}},
    )
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_VAR_DIR": str(e2e_dir / "var"),
    }
    ok = rightsdesk(env, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert '"ok": true' in ok.stdout and '"checked": 1' in ok.stdout
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET action = 'view' WHERE seq = 1"))
    engine.dispose()
    bad = rightsdesk(env, "audit", "verify")
    assert bad.returncode == 1
    assert '"first_bad": 1' in bad.stdout


def test_cpo_runs_a_request_to_completion(database_url, e2e_dir):
    """The real server: a deletion request filed, verified, decided in part, fulfilled by
    tasks, completed; every notice lands in the outbox folder; the chain verifies."""
    server = Server(database_url, e2e_dir).start()
    outbox = e2e_dir / "outbox"
    try:
        server.create_cpo()
        with httpx.Client(base_url=server.base, timeout=10) as http:
            request_id = http.post(
                "/v1/requests",
                json={
                    "type": "deletion",
                    "subject": {"name": "서지우", "email": "seo@example.com"},
                    "scope": {"categories": ["newsletter", "payment"]},
                },
            ).json()["id"]
            code = wait_for(lambda: _code(outbox, request_id))
            subject = {
                "Authorization": "Bearer "
                + http.post(f"/v1/requests/{request_id}/verification", json={"code": code}).json()[
                    "access_token"
                ]
            }
            cpo = server.cpo_headers(http)
            queue = http.get("/v1/staff/requests", headers=cpo, params={"status": "open"}).json()
            assert [i["id"] for i in queue["items"]] == [request_id]

            def act(action, body=None):
                version = http.get(f"/v1/staff/requests/{request_id}", headers=cpo).json()[
                    "version"
                ]
                response = http.post(
                    f"/v1/staff/requests/{request_id}/{action}",
                    json=body,
                    headers={**cpo, "If-Match": str(version)},
                )
                assert response.status_code == 200, response.text
                return response.json()

            act("assign", {"assignee": "cpo@example.com"})
            act(
                "extend",
                {"reason": "결제대행사 확인이 필요합니다.", "due_at": "2099-01-01T00:00:00+09:00"},
            )
            view = act(
                "decision",
                {
                    "outcome": "partially_granted",
                    "grounds": ["PIPA-36-1-proviso"],
                    "explanation": "결제 기록은 전자상거래법에 따라 5년간 보관합니다.",
                    "items": [
                        {"category": "newsletter", "result": "granted"},
                        {
                            "category": "payment",
                            "result": "refused",
                            "grounds": ["PIPA-36-1-proviso"],
                        },
                    ],
                },
            )
            for task in [t for t in view["tasks"] if t["kind"] == "fulfil"]:
                done = http.post(
                    f"/v1/staff/tasks/{task['id']}/complete",
                    headers=cpo,
                    json={"note": "구독 해지 및 파기 완료"},
                )
                assert done.status_code == 200
            assert act("complete")["status"] == "completed"
            status = http.get(f"/v1/requests/{request_id}", headers=subject).json()
            assert status["status"] == "completed"
            assert http.get("/v1/staff/audit/verify", headers=cpo).json()["ok"] is True

        expected = {"receipt", "verification_code", "extended", "decision", "completed"}
        templates = wait_for(
            lambda: (
                expected <= {m["template"] for m in read_outbox(outbox)}
                and {m["template"] for m in read_outbox(outbox)}
            )
        )
        assert templates, {m["template"] for m in read_outbox(outbox)}
        decision = next(m for m in read_outbox(outbox) if m["template"] == "decision")
        assert "개인정보 보호법 제36조제1항 단서" in decision["text"]
        assert "이의" in decision["text"] and "object" in decision["text"]
    finally:
        server.kill(signal.SIGTERM)
    audit = rightsdesk(server.env, "audit", "verify")
    assert audit.returncode == 0, audit.stdout
    log = server.log.read_text()
    assert "seo@example.com" not in log and "서지우" not in log


def test_parent_files_for_a_child_and_the_cpo_checks_the_documents(database_url, e2e_dir):
    """Real server: a mother files for her 12-year-old, proves her e-mail, uploads the family
    relation certificate; the CPO downloads it (with a reason) and opens the request."""
    server = Server(database_url, e2e_dir).start()
    outbox = e2e_dir / "outbox"
    try:
        server.create_cpo()
        with httpx.Client(base_url=server.base, timeout=10) as http:
            created = http.post(
                "/v1/requests",
                json={
                    "type": "deletion",
                    "subject": {"name": "김하늘", "birth_date": "2014-05-05"},
                    "requester": {
                        "kind": "legal_representative",
                        "name": "김엄마",
                        "email": "mom@example.com",
                        "relationship": "모",
                    },
                    "scope": {"categories": ["events"]},
                },
            )
            assert created.status_code == 201, created.text
            rid = created.json()["id"]
            code = wait_for(lambda: _code(outbox, rid))
            token = http.post(f"/v1/requests/{rid}/verification", json={"code": code}).json()[
                "access_token"
            ]
            parent = {"Authorization": f"Bearer {token}"}
            certificate = b"%PDF-1.4\n% family relation certificate\n%%EOF\n"
            upload = http.post(
                f"/v1/requests/{rid}/documents",
                headers=parent,
                data={"kind": "relationship_proof"},
                files={"file": ("가족관계증명서.pdf", certificate, "application/pdf")},
            )
            assert upload.status_code == 201, upload.text
            assert (
                http.get(f"/v1/requests/{rid}", headers=parent).json()["status"]
                == "pending_verification"
            )

            cpo = server.cpo_headers(http)
            tasks = http.get("/v1/staff/tasks", headers=cpo, params={"kind": "verify"}).json()[
                "items"
            ]
            assert [t["request_id"] for t in tasks] == [rid]
            got = http.get(
                f"/v1/staff/requests/{rid}/documents/{upload.json()['id']}",
                headers=cpo,
                params={"reason": "법정대리인 관계 확인"},
            )
            assert got.status_code == 200 and got.content == certificate
            version = http.get(f"/v1/staff/requests/{rid}", headers=cpo).json()["version"]
            opened = http.post(
                f"/v1/staff/requests/{rid}/verify",
                headers={**cpo, "If-Match": str(version)},
                json={"outcome": "verified", "method": "family_relation_certificate"},
            )
            assert opened.status_code == 200 and opened.json()["status"] == "open"
            assert http.get(f"/v1/requests/{rid}", headers=parent).json()["status"] == "open"
        assert {m["to"] for m in read_outbox(outbox)} == {"mom@example.com"}
    finally:
        server.kill(signal.SIGTERM)
    log = server.log.read_text()
    assert "mom@example.com" not in log and "김하늘" not in log
