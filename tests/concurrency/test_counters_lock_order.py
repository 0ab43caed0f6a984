"""Lock order (issue 7): request rows first, then the access record's head. Closing unverified
requests (the worker's job) and subjects entering their codes for those same requests at the
same moment must neither deadlock nor lose a race with a 500."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import create_engine, text

from app.workflow.service import reject_unverified
from tests.support import file_request, latest_code


def test_rejecting_unverified_while_codes_are_entered(client, outbox_dir, clock, settings, race):
    n = 20
    rids = [
        file_request(client, subject={"name": "홍길동", "email": f"late{i}@example.com"})["id"]
        for i in range(n)
    ]
    clock.advance(days=settings.unverified_expiry_days, hours=1)
    for rid in rids:  # a fresh code each, entered just as the worker closes the requests
        assert client.post(f"/v1/requests/{rid}/verification/resend").status_code == 202
    codes = [latest_code(outbox_dir, rid) for rid in rids]
    ctx = client.app.state.ctx

    def act(i: int):
        if i == n:
            return reject_unverified(ctx.db, ctx)
        return client.post(f"/v1/requests/{rids[i]}/verification", json={"code": codes[i]})

    *responses, rejected = race(n + 1, act)

    # A right code proves the filer whether it came before or after the closing.
    assert Counter(r.status_code for r in responses) == {200: n}, [
        r.text for r in responses if r.status_code != 200
    ]
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            statuses = Counter(s for (s,) in conn.execute(text("SELECT status FROM request")).all())
    finally:
        engine.dispose()
    # Each request was either opened by its code or closed by the worker, never both.
    assert (statuses["rejected"], statuses["open"]) == (rejected, n - rejected), statuses
