"""GET /v1/staff/metrics."""

from __future__ import annotations

from tests.support import act, finish_tasks, relogin, verified

GRANT = {"outcome": "granted", "explanation": "처리합니다."}


def test_counts_durations_and_on_time(client, outbox_dir, staff, clock):
    h = staff["cpo"]["headers"]
    # Two access requests answered: one after 2 days, one after 12 days (late).
    fast, _ = verified(client, outbox_dir)
    slow, _ = verified(client, outbox_dir, subject={"name": "늦음", "email": "late@example.com"})
    open_, _ = verified(
        client, outbox_dir, type="deletion", subject={"name": "열림", "email": "open@example.com"}
    )
    for rid in (fast["id"], slow["id"]):
        act(client, h, rid, "assign", {"assignee": "cpo@example.com"})
    clock.advance(days=2)
    relogin(client, staff)
    h = staff["cpo"]["headers"]
    act(client, h, fast["id"], "decision", GRANT)
    finish_tasks(client, h, fast["id"])  # the collect tasks of the access result
    act(client, h, fast["id"], "complete")
    clock.advance(days=10)
    relogin(client, staff)
    h = staff["cpo"]["headers"]
    act(client, h, slow["id"], "decision", GRANT)
    finish_tasks(client, h, slow["id"])
    act(client, h, slow["id"], "complete")
    response = client.get(
        "/v1/staff/metrics", headers=h, params={"since": "2026-12-01", "until": "2026-12-31"}
    )
    assert response.status_code == 200
    m = response.json()
    assert m["received"] == 3
    assert m["by_type"] == {"access": 2, "deletion": 1}
    assert m["by_status"] == {"completed": 2, "open": 1}
    assert m["open_overdue"] == 1 and open_["id"]
    assert m["closed"] == 2 and m["closed_on_time"] == 1
    assert m["share_closed_on_time"] == 0.5
    assert m["median_days_to_close"] == 7.0
    # The dashboard's series (issue 20, point 7): weeks from Monday, months of closing.
    assert m["open_by_status"] == {"open": 1}
    assert [w["week_start"] for w in m["received_by_week"]] == [
        "2026-11-30",
        "2026-12-07",
        "2026-12-14",
        "2026-12-21",
        "2026-12-28",
    ]
    assert m["received_by_week"][0] == {
        "week_start": "2026-11-30",
        "total": 3,
        "by_type": {"access": 2, "deletion": 1},
    }
    assert sum(w["total"] for w in m["received_by_week"]) == m["received"]
    assert m["on_time_by_month"] == [
        {"month": "2026-12", "closed": 2, "closed_on_time": 1, "share_closed_on_time": 0.5}
    ]
    assert m["objections"] == {"filed": 0, "open": 0, "by_kind": {}}


def test_empty_range_and_bad_range(client, staff):
    h = staff["auditor"]["headers"]
    m = client.get(
        "/v1/staff/metrics", headers=h, params={"since": "2020-01-01", "until": "2020-01-31"}
    ).json()
    assert (
        m["received"] == 0
        and m["median_days_to_close"] is None
        and m["share_closed_on_time"] is None
    )
    assert (
        client.get(
            "/v1/staff/metrics", headers=h, params={"since": "2026-12-31", "until": "2026-12-01"}
        ).status_code
        == 422
    )
    assert (
        client.get("/v1/staff/metrics", headers=h, params={"since": "yesterday"}).status_code == 422
    )
    assert client.get("/v1/staff/metrics").status_code == 401


def test_weeks_are_counted_in_korea_time(client, staff, clock):
    """Sunday 23:30 and Monday 00:30 in Seoul are the same UTC day (6 December) but two
    weeks: the week turns at Monday 00:00 Korea time."""
    from datetime import UTC, datetime

    from tests.support import file_request

    clock.at = datetime(2026, 12, 6, 14, 30, tzinfo=UTC)  # Sun 6 Dec 23:30 in Seoul
    file_request(client)
    clock.advance(hours=1)  # Mon 7 Dec 00:30 in Seoul
    file_request(client, type="deletion", subject={"name": "월요일", "email": "m@example.com"})
    relogin(client, staff)
    m = client.get(
        "/v1/staff/metrics",
        headers=staff["auditor"]["headers"],
        params={"since": "2026-12-01", "until": "2026-12-13"},
    ).json()
    assert m["received_by_week"] == [
        {"week_start": "2026-11-30", "total": 1, "by_type": {"access": 1}},
        {"week_start": "2026-12-07", "total": 1, "by_type": {"deletion": 1}},
    ]
    assert m["by_type"] == {"access": 1, "deletion": 1}


def test_the_default_range_ends_on_seouls_today(client, staff, clock):
    """At 00:30 and 08:59 in Seoul the UTC date is still yesterday: the default range ends on
    Seoul's today, so what was received since midnight in Seoul is counted (issue 23.2)."""
    from tests.support import file_request

    for advance in ({"hours": 14, "minutes": 30}, {"hours": 8, "minutes": 29}):
        # T0 (1 December, 10:00 in Seoul) to 2 December 00:30, then to 08:59.
        clock.advance(**advance)
        relogin(client, staff)
        file_request(client)
        assert clock.now().date().isoformat() == "2026-12-01"  # UTC's date
        m = client.get("/v1/staff/metrics", headers=staff["cpo"]["headers"]).json()
        assert m["until"] == "2026-12-02"
        assert m["received"] == (1 if advance["hours"] == 14 else 2), m
