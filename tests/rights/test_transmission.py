"""Transmission (전송요구, PIPA Art. 35-2; issue 18.6): only where the profile says the company
is covered (else 422 at filing, naming why); the transmittable categories, gathered by the
collect tasks, downloaded as JSON and CSV with a manifest; the profile's deadline, postponed
with a reason; every transmission logged."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import yaml
from fastapi.testclient import TestClient

from app.main import create_app
from app.profile.loader import DEFAULT_PROFILE
from tests.support import (
    act,
    count_rows,
    finish_tasks,
    make_settings,
    read_outbox,
    request_body,
    staff_read,
    verified,
)


@pytest.fixture
def settings(database_url, tmp_path):
    data = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))
    data["transmission"] = {
        "covered": True,
        "categories": ["account", "usage"],
        "formats": ["json", "csv"],
        "days": 15,
    }
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return make_settings(database_url, tmp_path, profile_path=str(path))


def test_from_filing_to_the_logged_download(client, outbox_dir, staff, database_url):
    created, subject = verified(client, outbox_dir, type="transmission")
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    # The profile's 15 days from Tue 1 Dec 2026: Wed 16 Dec.
    assert created["due_date"] == "2026-12-16"
    assert staff_read(client, cpo, rid)["categories"] == ["account", "usage"]
    act(client, cpo, rid, "assign", {"assignee": "me"})
    # Postponed with a reason (Art. 35-2: without delay, postponement with reason).
    extended = act(
        client,
        cpo,
        rid,
        "extend",
        {"reason": "이용 기록 추출 작업이 진행 중입니다", "due_at": "2026-12-23T00:00:00+09:00"},
    )
    assert extended["due_date"] == "2026-12-23"
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    assert {(i["category"], i["action"]) for i in plan["items"]} == {
        ("account", "collect"),
        ("usage", "collect"),
    }
    act(client, cpo, rid, "decision", plan["decision"])
    finish_tasks(client, cpo, rid, data={"email": "hong.gildong@example.com"})
    assert act(client, cpo, rid, "complete", {})["status"] == "completed"
    texts = {m["template"]: m["text"] for m in read_outbox(outbox_dir) if m["request_id"] == rid}
    assert "개인정보 보호법 제35조의2" in texts["receipt"] and "PIPA Art. 35-2" in texts["receipt"]
    assert "기계 판독이 가능한 형식" in texts["completed"]
    assert "transmission log" in texts["completed"]
    assert "시행령 제35조의2" not in "".join(texts.values())  # the Act, not the Decree

    view = client.get(f"/v1/requests/{rid}", headers=subject).json()
    assert "download_result" in view["actions"]
    as_json = client.get(f"/v1/requests/{rid}/result", headers=subject)
    assert as_json.status_code == 200
    doc = as_json.json()
    assert doc["manifest"]["kind"] == "transmission"
    assert doc["manifest"]["categories"] == ["account", "usage"]
    assert "transmission-" in as_json.headers["content-disposition"]
    as_csv = client.get(f"/v1/requests/{rid}/result", headers=subject, params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    as_zip = client.get(f"/v1/requests/{rid}/result", headers=subject, params={"format": "zip"})
    archive = zipfile.ZipFile(io.BytesIO(as_zip.content))
    manifest = json.loads(archive.read("manifest.json"))
    names = {f["name"] for f in manifest["files"]}
    assert names == {"result.json", "result.csv", "summary.txt"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    assert count_rows(database_url, "transmission_log") == 3
    timeline = staff_read(client, cpo, rid)["timeline"]
    assert sum(e["kind"] == "transmitted" for e in timeline) == 3


def test_only_transmittable_categories(client):
    body = request_body(type="transmission", scope={"categories": ["payment"]})
    r = client.post("/v1/requests", json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "not_transmittable"


def test_a_company_not_covered_refuses_at_filing(database_url, tmp_path, clock):
    app = create_app(make_settings(database_url, tmp_path), clock)  # the reference profile
    with TestClient(app) as c:
        r = c.post("/v1/requests", json=request_body(type="transmission"))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"] == "/problems/transmission-not-covered"
    assert problem["errors"][0]["field"] == "type"
    assert "Decree" in problem["detail"] and "제35조의2" in problem["detail"]
    assert count_rows(database_url, "request") == 0


def test_a_temporary_holiday_moves_the_profiles_deadline_not_the_decrees(
    client, outbox_dir, staff, app
):
    from datetime import date

    from app.workflow.deadline_sync import recompute_deadlines

    created, _ = verified(client, outbox_dir, type="transmission")
    ctx = app.state.ctx
    # 16 Dec (the 15th day) declared a holiday: the period ends on the 17th, not on the 10th
    # day a recount with the Decree's 10 days would give (and never earlier).
    assert recompute_deadlines(ctx.db, ctx, extra=[date(2026, 12, 16)]) == 1
    view = staff_read(client, staff["cpo"]["headers"], created["id"])
    assert view["due_date"] == "2026-12-17"
