"""Sign-in under real parallelism (issue 8, point 6): N parallel sign-ins for one request never
send more codes than the resend limits allow, and every caller gets the same 202."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.support import file_request, make_settings, read_outbox

EMAIL = "hong.gildong@example.com"


@pytest.fixture
def settings(request, database_url, tmp_path):
    return make_settings(database_url, tmp_path, **getattr(request, "param", {}))


def _codes(database_url: str, request_id: str) -> tuple[int, int]:
    """(codes issued, codes still live) for the request."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*), sum(CASE WHEN revoked_at IS NULL AND used_at IS NULL "
                    "THEN 1 ELSE 0 END) FROM verification_code WHERE request_id = :r"
                ),
                {"r": request_id},
            ).one()
    finally:
        engine.dispose()


def _sign_in_race(client, race, reference: str, n: int) -> list:
    return race(
        n,
        lambda _: client.post(
            "/v1/requests/sign-in", json={"reference": reference, "email": EMAIL}
        ),
    )


def test_parallel_sign_ins_respect_the_cooldown(client, clock, database_url, outbox_dir, race):
    created = file_request(client)
    clock.advance(minutes=2)  # past the cooldown of the code sent at filing
    n = 20

    responses = _sign_in_race(client, race, created["reference"], n)

    assert [r.status_code for r in responses] == [202] * n
    assert len({r.text for r in responses}) == 1
    issued, live = _codes(database_url, created["id"])
    assert (issued, live) == (2, 1)  # the filing's code and one more
    sent = [m for m in read_outbox(outbox_dir) if m["template"] == "verification_code"]
    assert len(sent) == 2


@pytest.mark.parametrize("settings", [{"code_resend_cooldown_seconds": 0}], indirect=True)
def test_parallel_sign_ins_and_resends_respect_the_hourly_limit(
    client, settings, database_url, race
):
    created = file_request(client)
    rid, ref = created["id"], created["reference"]
    assert settings.code_resend_cooldown_seconds == 0
    n, limit = 24, settings.code_max_per_hour

    def call(i: int):
        if i % 3 == 0:
            return client.post(f"/v1/requests/{rid}/verification/resend")
        return client.post("/v1/requests/sign-in", json={"reference": ref, "email": EMAIL})

    responses = race(n, call)

    assert all(r.status_code in (202, 429) for r in responses)
    sign_ins = [r for i, r in enumerate(responses) if i % 3 != 0]
    assert {r.status_code for r in sign_ins} == {202}
    issued, live = _codes(database_url, rid)
    # The code sent at filing counts: never more than the hourly limit, whoever asks.
    assert issued == limit and live == 1


def test_parallel_objections_to_one_extension_file_one(client, outbox_dir, staff, race):
    """An extension is objected to once: parallel objections queue on the request row and
    only the first is filed; the rest are a clean 409."""
    from tests.support import act, verified

    created, subject = verified(client, outbox_dir)
    rid = created["id"]
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    act(
        client,
        staff["handler"]["headers"],
        rid,
        "extend",
        {"reason": "확인 중", "due_at": "2026-12-24T12:00:00+09:00"},
    )
    n = 12

    responses = race(
        n,
        lambda i: client.post(
            f"/v1/requests/{rid}/objections", headers=subject, json={"reason": f"반대 {i}"}
        ),
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * (n - 1)
