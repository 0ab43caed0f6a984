"""`overdue` at its boundaries: a request is overdue strictly after its due_at, only while
it is open; `overdue=false` is everything else, closed requests past their date included."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.support import relogin, verified

# Deadlines, windows and expiries count Seoul days: at every hour where UTC's date differs.
pytestmark = pytest.mark.seoul_hours


def _ids(client, staff, **params) -> dict[str, bool]:
    response = client.get("/v1/staff/requests", headers=staff["cpo"]["headers"], params=params)
    assert response.status_code == 200, response.text
    return {i["id"]: i["overdue"] for i in response.json()["items"]}


@pytest.mark.parametrize(
    ("offset", "overdue"),
    [
        (timedelta(0), False),  # at due_at exactly: still on time
        (timedelta(microseconds=-1), False),
        (timedelta(microseconds=1), True),  # the first instant after it
        (timedelta(seconds=1), True),
    ],
)
def test_the_boundary_of_overdue(client, outbox_dir, staff, clock, offset, overdue):
    open_one, _ = verified(client, outbox_dir)
    closed_one, subject = verified(client, outbox_dir, type="deletion")
    assert (
        client.post(f"/v1/requests/{closed_one['id']}/withdraw", headers=subject).status_code == 200
    )
    due = datetime.fromisoformat(open_one["due_at"])
    assert due == datetime.fromisoformat(closed_one["due_at"])
    clock.at = due + offset
    relogin(client, staff)

    flagged = _ids(client, staff, overdue="true")
    on_time = _ids(client, staff, overdue="false")
    everything = _ids(client, staff)
    assert (open_one["id"] in flagged) is overdue
    assert (open_one["id"] in on_time) is not overdue
    assert everything[open_one["id"]] is overdue  # the item's flag agrees with the filter
    # A closed request is never overdue, however late it is now.
    assert closed_one["id"] not in flagged
    # The queue shows open work by default; asked for, the closed one is on time.
    assert closed_one["id"] not in on_time and closed_one["id"] not in everything
    closed = _ids(client, staff, status="withdrawn", overdue="false")
    assert closed[closed_one["id"]] is False
    assert _ids(client, staff, status="withdrawn")[closed_one["id"]] is False
