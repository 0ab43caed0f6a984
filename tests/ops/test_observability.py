"""Observability (issue 10.9, 10.10, 10.3): /metrics in Prometheus text format, X-Request-ID on
every response and problem, one log line per request, offline /docs."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from tests.support import file_request, make_settings, verified


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class TestMetrics:
    def test_traffic_and_state_without_ids_or_personal_data(self, client, outbox_dir, clock):
        before = _samples(client.get("/metrics").text)
        created = file_request(client)
        client.get("/v1/requests/req_nope")  # 401: no token
        client.get("/no/such/path")
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        after = _samples(text)
        key = "rightsdesk_http_requests_total"
        assert (
            _value(after, key, method="POST", route="/v1/requests", status="201")
            - _value(before, key, method="POST", route="/v1/requests", status="201")
            == 1
        )

        # Counters are the process's own (other tests count too): this test's share is exact.
        def delta(name, **labels):
            return _value(after, name, **labels) - _value(before, name, **labels)

        assert delta(key, method="GET", route="/v1/requests/{request_id}", status="401") == 1
        assert delta(key, method="GET", route="unmatched", status="404") == 1
        assert (
            delta(
                "rightsdesk_http_request_duration_seconds_count",
                method="POST",
                route="/v1/requests",
            )
            == 1
        )
        assert (
            _value(after, "rightsdesk_requests", status="pending_verification", type="access") == 1
        )
        assert _value(after, "rightsdesk_outbox_messages", state="pending") == 0  # sync delivery
        assert _value(after, "rightsdesk_requests_overdue") == 0
        assert _value(after, "rightsdesk_audit_months_unreviewed") == 0  # the record began today
        for private in (created["id"], created["reference"], "hong.gildong", "홍길동", "req_nope"):
            assert private not in text

    def test_overdue_and_waiting_notices(
        self, app, client, outbox_dir, clock, tmp_path, database_url
    ):
        verified(client, outbox_dir)
        clock.advance(days=31)  # into January (Korea time): December is a past month now
        samples = _samples(client.get("/metrics").text)
        assert _value(samples, "rightsdesk_requests_overdue") == 1
        assert _value(samples, "rightsdesk_audit_months_unreviewed") == 1  # December 2026
        # Notices that cannot be sent wait in the outbox: their count and age show.
        offline = create_app(make_settings(database_url, tmp_path, delivery="off"), clock)
        with TestClient(offline) as c:
            file_request(c, subject={"name": "이서연", "email": "seoyeon@example.com"})
            clock.advance(minutes=5)
            samples = _samples(c.get("/metrics").text)
        assert _value(samples, "rightsdesk_outbox_messages", state="pending") == 2
        assert _value(samples, "rightsdesk_outbox_oldest_pending_age_seconds") == 300

    def test_the_metrics_token(self, clock, tmp_path, database_url):
        guarded = create_app(
            make_settings(database_url, tmp_path, metrics_token="scrape-me"), clock
        )
        with TestClient(guarded) as c:
            assert c.get("/metrics").status_code == 401
            assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
            ok = c.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
            assert ok.status_code == 200 and "rightsdesk_requests" in ok.text


class TestRequestId:
    def test_made_up_and_on_every_response(self, client):
        ok = client.get("/healthz")
        assert re.fullmatch(r"[0-9a-f]{32}", ok.headers["x-request-id"])
        other = client.get("/healthz")
        assert other.headers["x-request-id"] != ok.headers["x-request-id"]

    def test_echoed_and_in_problem_documents(self, client):
        r = client.get("/v1/requests/req_nope", headers={"X-Request-ID": "portal-7f3a.1"})
        assert r.status_code == 401 and r.headers["x-request-id"] == "portal-7f3a.1"
        assert r.json()["request_id"] == "portal-7f3a.1"
        bad = client.post("/v1/requests", json={"type": "nope"})
        assert bad.json()["request_id"] == bad.headers["x-request-id"]

    @pytest.mark.parametrize("sent", ["x" * 200, "with space", "semi;colon"])
    def test_an_unsafe_id_is_replaced(self, client, sent):
        r = client.get("/healthz", headers={"X-Request-ID": sent})
        assert r.headers["x-request-id"] != sent
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


class TestRequestLog:
    def test_one_line_per_request_with_the_route_template(self, client, caplog):
        created = file_request(client)
        with caplog.at_level(logging.INFO, logger="rightsdesk.access"):
            client.get(f"/v1/requests/{created['id']}", headers={"X-Request-ID": "trace-1"})
        lines = [r for r in caplog.records if r.name == "rightsdesk.access"]
        assert len(lines) == 1
        line = lines[0]
        assert line.route == "/v1/requests/{request_id}" and line.status == 401
        assert line.method == "GET" and line.request_id == "trace-1"
        assert line.duration_ms >= 0
        assert created["id"] not in line.getMessage()
        assert getattr(line, "client_ip", None) is None  # not unless RIGHTSDESK_LOG_CLIENT_IP

    def test_the_client_ip_only_when_asked(self, clock, tmp_path, database_url, caplog):
        app = create_app(make_settings(database_url, tmp_path, log_client_ip=True), clock)
        with TestClient(app) as c, caplog.at_level(logging.INFO, logger="rightsdesk.access"):
            c.get("/healthz")
        [line] = [r for r in caplog.records if r.name == "rightsdesk.access"]
        assert line.client_ip == "testclient"  # the peer (no trusted proxy in between)

    def test_json_lines(self):
        import json

        from app.core.logs import JsonFormatter

        record = logging.LogRecord(
            "rightsdesk.access", logging.INFO, __file__, 1, "%s %s", ("GET", "/x"), None
        )
        record.request_id, record.status = "abc", 200
        line = json.loads(JsonFormatter().format(record))
        assert line["message"] == "GET /x" and line["request_id"] == "abc" and line["status"] == 200
        assert line["level"] == "info" and line["logger"] == "rightsdesk.access"


class TestOfflineDocs:
    def test_docs_and_redoc_use_local_assets(self, client):
        page = client.get("/docs")
        assert page.status_code == 200 and "cdn" not in page.text.lower()
        assert "/docs/assets/swagger-ui-bundle.js" in page.text
        js = client.get("/docs/assets/swagger-ui-bundle.js")
        assert js.status_code == 200 and "SwaggerUIBundle" in js.text[:2000]
        assert client.get("/docs/assets/swagger-ui.css").status_code == 200
        redoc = client.get("/redoc")
        assert redoc.status_code == 200 and "/docs/assets/redoc.standalone.js" in redoc.text
        assert "fonts.googleapis" not in redoc.text
        assert client.get("/docs/assets/redoc.standalone.js").status_code == 200
