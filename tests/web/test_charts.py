"""app/web/charts.py (issue 20, point 7): the dashboard's charts show the API's numbers; each
SVG is well-formed XML with nothing a strict CSP blocks; each CSV is its table."""

from __future__ import annotations

import csv
import io
from datetime import date
from xml.etree import ElementTree

import pytest

from app.web.charts import charts, type_label
from app.workflow.metrics import compute
from app.workflow.schemas import Metrics
from tests.support import act, finish_tasks, fresh_subject_token, relogin, verified

GRANT = {"outcome": "granted", "explanation": "처리합니다."}
REFUSE = {"outcome": "refused", "grounds": ["PIPA-37-2-1"], "explanation": "거절합니다."}
RANGE = {"since": "2026-12-01", "until": "2027-01-31"}
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def metrics(client, outbox_dir, staff, clock, app) -> tuple[dict, Metrics]:
    """Four requests: an access answered in 2 days, one answered after 35 (late, in January),
    a deletion left open (overdue), a suspension refused and objected to (open again)."""
    h = staff["cpo"]["headers"]
    fast, _ = verified(client, outbox_dir)
    slow, _ = verified(client, outbox_dir, subject={"name": "늦음", "email": "late@example.com"})
    verified(
        client, outbox_dir, type="deletion", subject={"name": "열림", "email": "o@example.com"}
    )
    refused, _ = verified(
        client, outbox_dir, type="suspension", subject={"name": "정지", "email": "s@example.com"}
    )
    for rid in (fast["id"], slow["id"], refused["id"]):
        act(client, h, rid, "assign", {"assignee": "cpo@example.com"})
    act(client, h, refused["id"], "decision", REFUSE)
    clock.advance(days=2)
    relogin(client, staff)
    h = staff["cpo"]["headers"]
    act(client, h, fast["id"], "decision", GRANT)
    finish_tasks(client, h, fast["id"])
    act(client, h, fast["id"], "complete")
    subject = fresh_subject_token(client, outbox_dir, refused["id"])
    response = client.post(
        f"/v1/requests/{refused['id']}/objections", headers=subject, json={"reason": "부당합니다"}
    )
    assert response.status_code == 201, response.text
    clock.advance(days=33)
    relogin(client, staff)
    h = staff["cpo"]["headers"]
    act(client, h, slow["id"], "decision", GRANT)
    finish_tasks(client, h, slow["id"])
    act(client, h, slow["id"], "complete")
    response = client.get("/v1/staff/metrics", headers=h, params=RANGE)
    assert response.status_code == 200, response.text
    ctx = app.state.ctx
    with ctx.db.transaction(write=False) as session:
        computed = compute(session, ctx, date(2026, 12, 1), date(2027, 1, 31))
    return response.json(), computed


def _by_id(found) -> dict:
    return {c.id: c for c in found}


def test_the_service_is_what_the_api_answers(metrics):
    api, computed = metrics
    assert computed.model_dump(mode="json") == api
    assert api["objections"] == {"filed": 1, "open": 1, "by_kind": {"decision": 1}}
    assert [m["month"] for m in api["on_time_by_month"]] == ["2026-12", "2027-01"]


def test_the_figures_are_the_apis(metrics):
    api, computed = metrics
    found = _by_id(charts(computed))
    assert list(found) == [
        "received-by-week",
        "on-time-by-month",
        "open-by-status",
        "median-days-to-close",
        "overdue-now",
        "objections",
        "forecast",
    ]
    weekly = found["received-by-week"].table
    assert [r[0] for r in weekly.rows] == [w["week_start"] for w in api["received_by_week"]]
    assert [r[1] for r in weekly.rows] == [w["total"] for w in api["received_by_week"]]
    assert sum(r[1] for r in weekly.rows) == api["received"] == 4
    types = ["access", "deletion", "suspension"]
    assert weekly.columns[2:] == [type_label(t) for t in types]
    assert weekly.columns[2:5] == ["열람 / access", "삭제 / deletion", "처리정지 / suspension"]
    first = api["received_by_week"][0]["by_type"]
    assert weekly.rows[0][2:] == [first.get(t, 0) for t in types]
    monthly = found["on-time-by-month"].table
    assert [r[:3] for r in monthly.rows] == [
        [m["month"], m["closed"], m["closed_on_time"]] for m in api["on_time_by_month"]
    ]
    assert [r[3] for r in monthly.rows] == [
        None if m["share_closed_on_time"] is None else round(m["share_closed_on_time"] * 100, 1)
        for m in api["on_time_by_month"]
    ]
    assert monthly.rows == [["2026-12", 1, 1, 100.0], ["2027-01", 1, 0, 0.0]]
    statuses = found["open-by-status"].table
    assert sum(r[1] for r in statuses.rows) == sum(api["open_by_status"].values()) == 2
    assert len(statuses.rows) == len(api["open_by_status"])
    assert found["median-days-to-close"].table.rows == [
        [api["median_days_to_close"], api["closed"]]
    ]
    assert found["overdue-now"].table.rows == [[api["open_overdue"], 2]]
    assert api["open_overdue"] == 2  # both open requests are past their due date by then
    objections = found["objections"].table.rows
    assert objections[0][1] == api["objections"]["filed"] == 1
    assert objections[1][1] == api["objections"]["open"] == 1
    ahead = found["forecast"].table.rows
    assert [[r[0], r[2], r[3]] for r in ahead] == [
        [d["day"], d["due"], d["overdue_at_rate"]] for d in api["forecast"]["days"]
    ]
    assert [r[1] == "예 / yes" for r in ahead] == [
        d["working_day"] for d in api["forecast"]["days"]
    ]
    # The numbers are in the pictures too.
    assert f">{api['open_overdue']}</text>" in found["overdue-now"].svg
    assert "100%" in found["on-time-by-month"].svg


def test_each_svg_is_xml_without_style_or_script(metrics):
    _, computed = metrics
    for chart in charts(computed):
        root = ElementTree.fromstring(str(chart.svg))
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        assert root.find(f"{SVG}title").text == chart.title
        for element in root.iter():
            assert element.tag not in (f"{SVG}script", f"{SVG}style", f"{SVG}foreignObject")
            assert "style" not in element.attrib, (chart.id, element.tag)
            assert not any(k.startswith("on") for k in element.attrib), (chart.id, element.tag)
            assert "href" not in element.attrib and "{http://www.w3.org/1999/xlink}href" not in (
                element.attrib
            )
        bars = [e for e in root.iter(f"{SVG}rect") if "chart-bar" in e.get("class", "")]
        assert all(float(b.get("height")) >= 0 and float(b.get("width")) >= 0 for b in bars)
        assert all(b.get("fill", "").startswith("#") for b in bars)


def test_each_csv_is_its_table(metrics):
    _, computed = metrics
    for chart in charts(computed):
        rows = list(csv.reader(io.StringIO(chart.csv)))
        assert rows[0] == chart.table.columns
        assert rows[1:] == [["" if v is None else str(v) for v in row] for row in chart.table.rows]
        assert chart.filename == f"{chart.id}.csv"


def test_an_empty_range_draws_empty_charts(client, staff):
    response = client.get(
        "/v1/staff/metrics",
        headers=staff["auditor"]["headers"],
        params={"since": "2020-01-01", "until": "2020-01-31"},
    )
    empty = Metrics.model_validate(response.json())
    found = _by_id(charts(empty))
    assert found["median-days-to-close"].table.rows == [[None, 0]]
    assert ">—</text>" in found["median-days-to-close"].svg
    assert found["open-by-status"].table.rows == []
    assert len(found["received-by-week"].table.rows) == 5  # 2019-12-30 … 2020-01-27
    for chart in found.values():
        ElementTree.fromstring(str(chart.svg))
