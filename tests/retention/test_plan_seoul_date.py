"""A retention period that runs from the request itself (`starts: request`) is dated from the
day the request was received in Seoul, at every hour where UTC's date is the day before
(issue 23.2): a request received at 00:30 or 08:59 on 1 December in Seoul (30 November in
UTC) keeps its records to the end of 1 December 2031, not 30 November."""

from __future__ import annotations

import pytest
import yaml

from app.profile.loader import DEFAULT_PROFILE
from tests.support import in_progress, make_settings

pytestmark = pytest.mark.seoul_hours


@pytest.fixture
def settings(database_url, tmp_path):
    data = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))
    # The payments' records, as if this request's own (what the service can date).
    data["retention"]["payments"]["starts"] = "request"
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return make_settings(database_url, tmp_path, profile_path=str(path))


def test_a_period_from_the_request_runs_from_its_seoul_date(client, outbox_dir, staff, clock):
    rid = in_progress(
        client, outbox_dir, staff, type="deletion", scope={"categories": ["payment"]}
    ).id
    response = client.get(f"/v1/staff/requests/{rid}/plan", headers=staff["handler"]["headers"])
    assert response.status_code == 200, response.text
    payments = [i for i in response.json()["items"] if i["rule"] == "payments"]
    assert payments and {i["period"] for i in payments} == {"P5Y"}
    # Received on Tuesday 1 December 2026 in Seoul: the day itself is not counted (Civil Act
    # Art. 157), so five years end with 1 December 2031.
    assert {i["retain_until"] for i in payments} == {"2031-12-01"}
