"""On the real server: `/metrics` sums the HTTP counts of every worker under `--workers 2`
(Prometheus multi-process mode), and a whole flow leaves JSON log lines with request ids and
none of the flow's personal data (issue 10.9, 10.10)."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_serve import Server, _code
from tests.support import RIGHTSDESK, wait_for


@pytest.fixture
def e2e_dir(tmp_path, app):  # `app` cleans the database afterwards
    return tmp_path


def _healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "rightsdesk_http_requests_total" and s.labels.get("route") == "/healthz":
                return s.value
    return 0.0


def test_metrics_sum_every_worker(database_url, e2e_dir):
    metrics_dir = e2e_dir / "metrics"
    server = Server(database_url, e2e_dir, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    server.proc = subprocess.Popen(
        [RIGHTSDESK, "serve", "--port", str(server.port), "--workers", "2"],
        env=server.env,
        stdout=server.log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        for _ in range(60):  # new connections, so both workers answer some
            with httpx.Client(base_url=server.base) as http:
                assert http.get("/healthz").status_code == 200
        # Whichever worker is scraped, the count is the sum over both.
        for _ in range(6):
            with httpx.Client(base_url=server.base) as http:
                r = http.get("/metrics")
                assert r.status_code == 200
                assert _healthz_count(r.text) == 60
        # Both workers answered some of them: each counted in its own file.
        assert len(list(metrics_dir.glob("counter_*.db"))) == 2
    finally:
        server.kill(signal.SIGTERM)


def test_a_flow_logs_json_lines_without_personal_data(database_url, e2e_dir):
    server = Server(database_url, e2e_dir, RIGHTSDESK_LOG_FORMAT="json").start()
    name, email, phone = "남궁민수", "minsu.namgung@example.com", "010-9876-5432"
    try:
        server.create_cpo()
        with httpx.Client(base_url=server.base) as http:
            created = http.post(
                "/v1/requests",
                json={
                    "type": "correction",
                    "subject": {"name": name, "email": email, "phone": phone},
                    "scope": {"corrections": [{"item": "address", "requested": "서울시 종로구 1"}]},
                    "details": "주소가 바뀌었습니다",
                },
                headers={"X-Request-ID": "portal-flow-1"},
            )
            assert created.status_code == 201, created.text
            rid = created.json()["id"]
            code = wait_for(lambda: _code(e2e_dir / "outbox", rid))
            token = http.post(f"/v1/requests/{rid}/verification", json={"code": code})
            subject = {"Authorization": f"Bearer {token.json()['access_token']}"}
            assert http.get(f"/v1/requests/{rid}", headers=subject).status_code == 200
            cpo = server.cpo_headers(http)
            assert http.get(f"/v1/staff/requests/{rid}", headers=cpo).status_code == 200
            assert (
                http.get("/v1/staff/requests", headers=cpo, params={"q": email}).status_code == 200
            )
            assert (
                http.post(
                    "/v1/requests", json={"type": "x", "subject": {"email": email}}
                ).status_code
                == 422
            )
    finally:
        server.kill(signal.SIGTERM)
    lines = [
        json.loads(line)
        for line in server.log.read_text("utf-8").splitlines()
        if line.startswith("{")
    ]
    access = [line for line in lines if line["logger"] == "rightsdesk.access"]
    assert any(
        line["request_id"] == "portal-flow-1"
        and line["route"] == "/v1/requests"
        and line["status"] == 201
        for line in access
    )
    assert all(
        {"method", "route", "status", "duration_ms", "request_id"} <= set(line) for line in access
    )
    assert all("client_ip" not in line for line in access)
    started = [line for line in lines if line["message"].startswith("Rights Desk")]
    assert started and started[0]["database"] in ("sqlite", "postgresql")
    text = server.log.read_text("utf-8")
    for private in (name, email, phone, code, "종로구", "주소가 바뀌었습니다", rid):
        assert private not in text, private


def test_every_worker_logs_its_requests(database_url, e2e_dir):
    """Issue 21.8: under `--workers 2` the workers are new processes; each must configure the
    logs as the settings say (here JSON), or their request lines are lost."""
    metrics_dir = e2e_dir / "metrics"
    server = Server(
        database_url,
        e2e_dir,
        RIGHTSDESK_LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    server.proc = subprocess.Popen(
        [RIGHTSDESK, "serve", "--port", str(server.port), "--workers", "2"],
        env=server.env,
        stdout=server.log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    ids = [f"two-workers-{i}" for i in range(40)]
    try:
        ready = wait_for(lambda: _ready(server), timeout=30)
        assert ready, server.log.read_text()
        for rid in ids:  # a new connection each, so both workers answer some
            with httpx.Client(base_url=server.base) as http:
                assert http.get("/healthz", headers={"X-Request-ID": rid}).status_code == 200
        # Both workers answered some of them (each counts in its own file).
        assert len(list(metrics_dir.glob("counter_*.db"))) == 2

        def logged() -> set[str]:
            seen = set()
            for line in server.log.read_text("utf-8").splitlines():
                if line.startswith("{"):
                    record = json.loads(line)
                    if record["logger"] == "rightsdesk.access":
                        seen.add(record.get("request_id"))
            return seen

        assert wait_for(lambda: set(ids) <= logged(), timeout=10), sorted(set(ids) - logged())
    finally:
        server.kill(signal.SIGTERM)


def _ready(server) -> bool:
    try:
        return httpx.get(f"{server.base}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
