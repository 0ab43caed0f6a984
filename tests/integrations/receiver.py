"""A real webhook receiver on 127.0.0.1 for the tests: a threaded HTTP server that verifies
every delivery's signature with the `standardwebhooks` library, as a receiver would, notes
what came (webhook-id, verified or not, body), and answers as its script says.

Script entries (taken in order, one per request; `default` once the script runs out):
  an int            answer with that status
  ("sleep", s, code) wait s seconds, then answer `code` (a timeout when s > the client's)
  ("hold", code)    signal `holding`, wait until `release` is set, then answer `code`
  ("redirect", code, location)  answer `code` with a Location header
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified_by: list[int]  # indexes of the secrets whose signature matched
    error: str | None  # why verification failed, if it did
    at: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a sender that hung up (timeout, a killed worker) is part of these tests


class Receiver:
    def __init__(self, secrets: list[str] | None = None, default=204, delay: float = 0.0) -> None:
        self.secrets: list[str] = list(secrets or [])
        self.script: list = []
        self.default = default
        self.delay = delay
        self.received: list[Received] = []
        self.answered: list[tuple[str, int]] = []  # (webhook-id, status) once answered
        self.lock = threading.Lock()
        self.holding = threading.Event()
        self.release = threading.Event()
        self.held: str | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    # What came ---------------------------------------------------------------------
    def ids(self) -> list[str]:
        with self.lock:
            return [r.webhook_id for r in self.received]

    def all_verified(self) -> bool:
        with self.lock:
            return all(r.error is None for r in self.received)

    # The server side -----------------------------------------------------------------
    def _verify(self, body: bytes, headers: dict[str, str]) -> tuple[list[int], str | None]:
        matched, error = [], None
        for i, secret in enumerate(self.secrets):
            try:
                Webhook(secret).verify(body, headers)
                matched.append(i)
            except WebhookVerificationError as exc:
                error = str(exc)
        if not self.secrets:
            error = "no secret to verify with"
        return matched, None if matched else error

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        matched, error = self._verify(body, headers)
        with self.lock:
            self.received.append(
                Received(headers.get("webhook-id", ""), headers, body, matched, error)
            )
            action = self.script.pop(0) if self.script else self.default
        if isinstance(action, tuple) and action[0] == "sleep":
            time.sleep(action[1])
            code = action[2]
        elif isinstance(action, tuple) and action[0] == "hold":
            with self.lock:
                self.held = headers.get("webhook-id")
            self.holding.set()
            self.release.wait(60)
            code = action[1]
        else:
            if self.delay:
                time.sleep(self.delay)
            code = action
        location = None
        if isinstance(action, tuple) and action[0] == "redirect":
            code, location = action[1], action[2]
        try:
            handler.send_response(code)
            if location:
                handler.send_header("location", location)
            handler.send_header("content-length", "2")
            handler.send_header("content-type", "application/json")
            handler.end_headers()
            handler.wfile.write(b"{}")
            handler.wfile.flush()
        except OSError:  # the sender gave up (timeout) or died (the kill tests)
            return
        with self.lock:
            self.answered.append((headers.get("webhook-id", ""), code))


ALL_EVENTS = [
    "request.created",
    "request.verified",
    "request.decided",
    "request.completed",
    "request.withdrawn",
    "task.created",
    "request.deadline_approaching",
]


def register(client, headers: dict, receiver: Receiver | None = None, **body) -> dict:
    """POST /v1/staff/webhooks (201 expected); the receiver learns the secret."""
    body.setdefault("url", receiver.url if receiver else "http://127.0.0.1:9/hooks")
    body.setdefault("events", ALL_EVENTS)
    response = client.post("/v1/staff/webhooks", headers=headers, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    if receiver is not None:
        receiver.secrets = [created["secret"]]
    return created


def deliveries(client, headers: dict, webhook_id: str, **params) -> list[dict]:
    response = client.get(
        f"/v1/staff/webhooks/{webhook_id}/deliveries",
        headers=headers,
        params={"limit": 200, **params},
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]
