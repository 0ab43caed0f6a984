"""End to end, the integration side (issue 9): on the real `rightsdesk serve` process, a shop's
client files with an Idempotency-Key (replayed, conflicting, concurrent); a processor's
receiver gets `task.created` for its system, signed; the processor confirms the task through
the API; the CPO completes, and the receiver gets `request.completed`. Credentials come from
`rightsdesk clients create`, as an operator makes them."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter

import httpx
import pytest

from tests.e2e.test_serve import Server
from tests.integrations.receiver import ALL_EVENTS, Receiver
from tests.support import request_body, rightsdesk


@pytest.fixture
def e2e_dir(tmp_path, app):  # `app` cleans the database afterwards
    return tmp_path


def _client(server: Server, *args: str) -> dict:
    made = rightsdesk(server.env, "clients", "create", *args)
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)


def _token(base: str, creds: dict) -> dict:
    r = httpx.post(
        f"{base}/v1/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _wait(receiver: Receiver, event_type: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with receiver.lock:
            for r in receiver.received:
                if r.event["type"] == event_type:
                    return r.event
        time.sleep(0.1)
    pytest.fail(f"no {event_type} arrived; got {[r.event['type'] for r in receiver.received]}")


def test_a_client_files_a_processor_confirms_the_cpo_completes(database_url, e2e_dir):
    server = Server(
        database_url,
        e2e_dir,
        RIGHTSDESK_WEBHOOK_ALLOW_PRIVATE="true",  # the receivers listen on 127.0.0.1
        RIGHTSDESK_LOG_FORMAT="json",
    ).start()
    base = server.base
    try:
        server.create_cpo()
        with httpx.Client(base_url=base) as http:
            cpo = server.cpo_headers(http)
        shop = _client(
            server,
            "--name",
            "Shop app",
            "--scope",
            "requests:write",
            "--scope",
            "requests:read",
            "--scope",
            "requests:verified",
        )
        stibee = _client(
            server,
            "--name",
            "Stibee",
            "--scope",
            "tasks:read",
            "--scope",
            "tasks:write",
            "--system",
            "stibee",
        )
        with Receiver() as processor, Receiver() as company:
            # The processor hears of its own work; the company's endpoint hears everything.
            for receiver, body in (
                (processor, {"events": ["task.created", "request.completed"], "system": "stibee"}),
                (company, {"events": ALL_EVENTS}),
            ):
                r = httpx.post(
                    f"{base}/v1/staff/webhooks", headers=cpo, json={"url": receiver.url, **body}
                )
                assert r.status_code == 201, r.text
                assert r.json()["secret"].startswith("whsec_")
                receiver.secrets.append(r.json()["secret"])

            shop_h = _token(base, shop)
            url = f"{base}/v1/integrations/requests"

            # Idempotency: first, replayed, conflicting.
            key = {"Idempotency-Key": '"order-1042-deletion"'}
            body = request_body(
                type="deletion",
                scope={"categories": ["newsletter"]},
                identity_verified=True,
                external_ref="ZD-1042",
            )
            first = httpx.post(url, headers={**shop_h, **key}, json=body)
            assert first.status_code == 201, first.text
            assert first.json()["status"] == "open"
            again = httpx.post(url, headers={**shop_h, **key}, json=body)
            assert again.status_code == 201 and again.json() == first.json()
            assert again.headers["idempotent-replayed"] == "true"
            other = httpx.post(url, headers={**shop_h, **key}, json={**body, "type": "access"})
            assert other.status_code == 422
            # Concurrent: eight retries of one new operation file it once.
            results: list[tuple[int, str | None]] = []

            def racer() -> None:
                r = httpx.post(
                    url,
                    headers={**shop_h, "Idempotency-Key": "burst-7"},
                    json=request_body(subject={"name": "이서연", "email": "seoyeon@example.com"}),
                    timeout=30,
                )
                results.append((r.status_code, r.json().get("id")))

            threads = [threading.Thread(target=racer) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert set(Counter(code for code, _ in results)) <= {201, 409}, results
            assert len({rid for code, rid in results if code == 201}) == 1, results

            rid = first.json()["id"]
            # The CPO takes it and decides as the plan says: work for stibee.
            view = httpx.get(f"{base}/v1/staff/requests/{rid}", headers=cpo).json()
            assert "assign" in view["actions"]
            r = httpx.post(
                f"{base}/v1/staff/requests/{rid}/assign",
                headers={**cpo, "If-Match": str(view["version"])},
                json={"assignee": "me"},
            )
            assert r.status_code == 200, r.text
            plan = httpx.get(f"{base}/v1/staff/requests/{rid}/plan", headers=cpo).json()
            r = httpx.post(
                f"{base}/v1/staff/requests/{rid}/decision",
                headers={**cpo, "If-Match": str(r.json()["version"])},
                json=plan["decision"],
            )
            assert r.status_code == 200, r.text

            created = _wait(processor, "task.created")
            assert created["data"]["system"] == "stibee"
            assert created["data"]["request_id"] == rid
            task_id = created["data"]["task_id"]

            # The processor sees the task, whose data it concerns, and confirms it.
            stibee_h = _token(base, stibee)
            listed = httpx.get(f"{base}/v1/integrations/tasks", headers=stibee_h).json()
            assert [t["id"] for t in listed["items"]] == [task_id]
            detail = httpx.get(f"{base}/v1/integrations/tasks/{task_id}", headers=stibee_h)
            assert detail.json()["subject"]["email"] == "hong.gildong@example.com"
            done = httpx.post(
                f"{base}/v1/integrations/tasks/{task_id}/confirm",
                headers=stibee_h,
                json={"outcome": "done", "note": "구독 해지 및 삭제 완료"},
            )
            assert done.status_code == 200, done.text

            # The CPO completes; the processor is told.
            view = httpx.get(f"{base}/v1/staff/requests/{rid}", headers=cpo).json()
            assert "complete" in view["actions"]
            r = httpx.post(
                f"{base}/v1/staff/requests/{rid}/complete",
                headers={**cpo, "If-Match": str(view["version"])},
                json={},
            )
            assert r.status_code == 200, r.text
            completed = _wait(processor, "request.completed")
            assert completed["data"] == {
                "request_id": rid,
                "reference": first.json()["reference"],
                "request_type": "deletion",
                "status": "completed",
            }
            seen = httpx.get(f"{base}/v1/integrations/requests/{rid}", headers=shop_h).json()
            assert seen["status"] == "completed" and seen["external_ref"] == "ZD-1042"
            assert seen["decision"]["outcome"] == "granted"

            for event in ("request.created", "request.verified", "request.decided"):
                _wait(company, event)
            _wait(company, "request.completed")
            # Every delivery verified with the standardwebhooks library, none twice.
            for receiver in (processor, company):
                assert receiver.all_verified()
                ids = receiver.ids()
                assert len(ids) == len(set(ids))
            assert {r.event["type"] for r in processor.received} == {
                "task.created",
                "request.completed",
            }
            for r in processor.received + company.received:
                assert "hong.gildong" not in r.body.decode() and "홍길동" not in r.body.decode()
            print(
                "\nE2E integrations:",
                f"first 201 {first.json()['reference']};",
                f"replay 201 Idempotent-Replayed={again.headers['idempotent-replayed']};",
                f"other body {other.status_code};",
                f"8 concurrent: {dict(Counter(c for c, _ in results))};",
                f"processor got {[r.event['type'] for r in processor.received]};",
                f"company got {[r.event['type'] for r in company.received]}",
            )
    finally:
        server.kill(signal.SIGTERM)
    # The server's log is JSON lines, none with the subject's personal data.
    log = server.log.read_text("utf-8")
    for line in log.splitlines():
        if line.startswith("{"):
            json.loads(line)
    for private in ("hong.gildong", "홍길동", "010-1234-5678", "seoyeon@example.com", "이서연"):
        assert private not in log
