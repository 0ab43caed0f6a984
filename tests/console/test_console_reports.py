"""The console's reports over HTTP: the dashboard (the metrics API's numbers as charts, tables
and CSV; anyone on the staff) and a request's evidence pack from its page (CPO and auditor;
identifiers for the CPO with a posted reason), each as anonymous, a role that may not, without
a CSRF token, with bad input and valid."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from tests.console.support import csrf, log_in
from tests.support import audit_entries, file_request, in_progress, relogin, rightsdesk

EMAIL = "hong@example.com"


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")  # so a spreadsheet reads the Hangul
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def _pack(response) -> dict:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return json.loads(archive.read("evidence.json"))


def _downloads(database_url: str) -> list[dict]:
    from app.evidence.service import DOWNLOAD_WHAT

    return [
        d for _, _, d in audit_entries(database_url, "download") if d.get("what") == DOWNLOAD_WHAT
    ]


class TestDashboard:
    def test_anonymous_goes_to_the_log_in(self, client):
        for path in ("/console/dashboard", "/console/dashboard/overdue-now.csv"):
            response = client.get(path, follow_redirects=False)
            assert (response.status_code, response.headers["location"]) == (303, "/console/login")

    @pytest.mark.parametrize("who", ["cpo", "handler", "auditor"])
    def test_the_figures_are_the_metrics_apis(self, client, staff, outbox_dir, clock, who):
        in_progress(client, outbox_dir, staff, type="deletion")
        in_progress(
            client,
            outbox_dir,
            staff,
            type="access",
            subject={"name": "둘", "email": "b@example.com"},
        )
        file_request(client, subject={"name": "셋", "email": "c@example.com"})
        clock.advance(days=14)
        file_request(client, subject={"name": "넷", "email": "d@example.com"})
        clock.advance(days=6)  # the first three are past their due date now; the fourth is not
        relogin(client, staff)
        api = client.get("/v1/staff/metrics", headers=staff[who]["headers"]).json()
        log_in(client, staff[who]["email"])
        page = client.get("/console/dashboard")
        assert page.status_code == 200, page.text
        for title in ("주별 접수 건수", "기한 경과(현재)", "이의제기"):
            assert title in page.text
        assert page.text.count("<svg") == 7 and page.text.count("<table") == 7

        weeks = _csv(client.get("/console/dashboard/received-by-week.csv"))
        assert sum(int(row[1]) for row in weeks[1:]) == api["received"] == 4
        ahead = _csv(client.get("/console/dashboard/forecast.csv"))
        assert [[r[0], int(r[2]), int(r[3])] for r in ahead[1:]] == [
            [d["day"], d["due"], d["overdue_at_rate"]] for d in api["forecast"]["days"]
        ]
        assert sum(d["due"] for d in api["forecast"]["days"]) == 1  # the fourth falls due
        overdue = _csv(client.get("/console/dashboard/overdue-now.csv"))
        assert overdue[1] == [str(api["open_overdue"]), str(sum(api["open_by_status"].values()))]
        assert api["open_overdue"] == 3
        statuses = _csv(client.get("/console/dashboard/open-by-status.csv"))
        assert sorted(int(r[1]) for r in statuses[1:]) == sorted(api["open_by_status"].values())

    def test_a_range_as_the_api_takes_it(self, client, staff):
        file_request(client)
        h = staff["auditor"]["headers"]
        api = client.get("/v1/staff/metrics?since=2026-12-01&until=2026-12-31", headers=h).json()
        log_in(client, staff["auditor"]["email"])
        page = client.get("/console/dashboard?since=2026-12-01&until=2026-12-31")
        assert page.status_code == 200
        assert "2026-12-01" in page.text and "2026-12-31" in page.text
        assert 'href="/console/dashboard/objections.csv?since=2026-12-01&amp;until=2026-12-31"' in (
            page.text
        )
        weeks = _csv(client.get("/console/dashboard/received-by-week.csv?since=2026-12-01"))
        assert sum(int(r[1]) for r in weeks[1:]) == api["received"] == 1

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("since=2026-13-01", "since"),
            ("until=yesterday", "until"),
            ("since=2027-01-02&until=2027-01-01", "since"),
        ],
    )
    def test_a_bad_range_is_said_beside_its_field(self, client, staff, query, field):
        log_in(client, staff["handler"]["email"])
        page = client.get(f"/console/dashboard?{query}")
        assert page.status_code == 422
        assert f'id="f-{field}-error"' in page.text
        assert f'aria-invalid="true" aria-describedby="f-{field}-error"' in page.text

    def test_an_unknown_chart_is_404(self, client, staff):
        log_in(client, staff["handler"]["email"])
        assert client.get("/console/dashboard/nothing.csv").status_code == 404


class TestEvidencePack:
    def test_anonymous_and_a_handler_are_refused(self, client, staff, outbox_dir, database_url):
        filed = in_progress(client, outbox_dir, staff)
        ref = filed.created["reference"]
        response = client.get(f"/console/requests/{ref}/evidence", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/console/login")
        log_in(client, staff["handler"]["email"])
        page = client.get(f"/console/requests/{ref}")
        assert "/evidence" not in page.text  # no button for a handler
        assert client.get(f"/console/requests/{ref}/evidence").status_code == 403
        assert client.get(f"/console/requests/{ref}/evidence/identifiers").status_code == 403
        assert _downloads(database_url) == []

    def test_the_auditor_downloads_a_pack_that_verifies(
        self, client, staff, outbox_dir, database_url, tmp_path
    ):
        filed = in_progress(client, outbox_dir, staff)
        ref = filed.created["reference"]
        log_in(client, staff["auditor"]["email"])
        page = client.get(f"/console/requests/{ref}")
        assert f'href="/console/requests/{ref}/evidence"' in page.text
        assert "/evidence/identifiers" not in page.text  # identifiers are the CPO's
        response = client.get(f"/console/requests/{ref}/evidence")
        pack = _pack(response)
        assert pack["content"]["facts"]["identifiers"] is None
        assert f'filename="evidence-{ref}.zip"' in response.headers["content-disposition"]
        path = tmp_path / "pack.zip"
        path.write_bytes(response.content)
        checked = rightsdesk({}, "audit", "verify", str(path))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert [d["identifiers"] for d in _downloads(database_url)] == [False]
        assert client.get(f"/console/requests/{ref}/evidence/identifiers").status_code == 403

    def test_the_cpo_gives_a_reason_for_identifiers(self, client, staff, outbox_dir, database_url):
        filed = in_progress(client, outbox_dir, staff, subject={"name": "홍길동", "email": EMAIL})
        ref = filed.created["reference"]
        token = log_in(client, staff["cpo"]["email"])
        form = client.get(f"/console/requests/{ref}/evidence/identifiers")
        assert form.status_code == 200 and 'name="reason"' in form.text
        url = f"/console/requests/{ref}/evidence/identifiers"
        for bad in ("", "   ", "한 줄\n두 줄", "x" * 201):
            refused = client.post(url, data={"csrf_token": token, "reason": bad})
            assert refused.status_code == 422, bad
            assert 'id="f-reason-error"' in refused.text
        assert _downloads(database_url) == []  # nothing recorded for a refused form
        pack = _pack(client.post(url, data={"csrf_token": token, "reason": "행정심판 제출"}))
        assert pack["content"]["facts"]["identifiers"]["subject_email"] == EMAIL
        assert [(d["identifiers"], d["reason"]) for d in _downloads(database_url)] == [
            (True, "행정심판 제출")
        ]

    def test_without_the_csrf_token_nothing_is_made(self, client, staff, outbox_dir, database_url):
        filed = in_progress(client, outbox_dir, staff)
        ref = filed.created["reference"]
        log_in(client, staff["cpo"]["email"])
        other = csrf(client.get("/console/login").text)  # a page's token is not a forged one
        assert other
        response = client.post(
            f"/console/requests/{ref}/evidence/identifiers", data={"reason": "법원 제출"}
        )
        assert response.status_code == 403
        assert _downloads(database_url) == []

    def test_an_unknown_reference_is_404(self, client, staff):
        log_in(client, staff["cpo"]["email"])
        assert client.get("/console/requests/RD-2026-999999/evidence").status_code == 404
        assert client.get("/console/requests/nope/evidence/identifiers").status_code == 404
