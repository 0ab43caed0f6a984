"""Refresh-token rotation under real parallelism (issue 20, point 1): two refreshes with the
same token at the same moment give exactly one new pair, and the other ends the whole
session (reuse of a spent token is the usual sign of theft), so neither pair works after."""

from __future__ import annotations

from tests.support import PASSWORD, sql_rows


def _log_in(client, email: str) -> dict:
    response = client.post("/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def _refresh(client, token: str):
    return client.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


def test_parallel_refreshes_with_one_token(client, staff, database_url, race):
    for _round in range(3):
        pair = _log_in(client, "handler@example.com")

        responses = race(2, lambda _: _refresh(client, pair["refresh_token"]))

        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 400], [r.text for r in responses]
        won = next(r for r in responses if r.status_code == 200).json()
        lost = next(r for r in responses if r.status_code == 400).json()
        assert lost["type"] == "/problems/invalid-grant"
        # The loser ended the session: the winner's new pair is dead too.
        headers = {"Authorization": f"Bearer {won['access_token']}"}
        assert client.get("/v1/staff/requests", headers=headers).status_code == 401
        assert _refresh(client, won["refresh_token"]).status_code == 400
    ended = sql_rows(
        database_url,
        "SELECT ended_reason FROM staff_session WHERE user_id = :u AND ended_at IS NOT NULL",
        u=staff["handler"]["id"],
    )
    assert [r[0] for r in ended] == ["refresh_token_reuse"] * 3
