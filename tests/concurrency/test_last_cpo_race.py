"""The company never loses its last active CPO, even when CPOs demote or deactivate each other
at the same moment (the active CPO rows are locked before counting), and two creations of one
e-mail give one account and a 409, never a 500 (the unique constraint decides)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import create_engine, text

from tests.support import login, make_staff

ROUNDS = 4


def _active_cpos(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT id FROM staff_user WHERE role = 'cpo' AND active ORDER BY id")
                ).scalars()
            )
    finally:
        engine.dispose()


def _cpos(app, client, prefix: str, n: int) -> list[tuple[str, dict]]:
    out = []
    for i in range(n):
        email = f"{prefix}{i}@example.com"
        out.append((make_staff(app, email, "cpo"), login(client, email)))
    return out


def _ring(client, race, cpos: list[tuple[str, dict]], body: dict) -> Counter:
    """CPO i changes CPO i+1 (the last changes the first), all at once."""
    n = len(cpos)

    def change(i: int) -> int:
        target, _ = cpos[(i + 1) % n]
        _, headers = cpos[i]
        return client.patch(f"/v1/staff/users/{target}", headers=headers, json=body).status_code

    return Counter(race(n, change))


def _check(codes: Counter, before: int, left: list[str]) -> None:
    # A CPO demoted before their own call was checked gets 403 (deactivated: 401); the rest
    # get 200, or 409 when only the target is left. Never 500, and never no CPO at all.
    assert set(codes) <= {200, 401, 403, 409}, codes
    assert len(left) >= 1, (codes, left)
    assert codes[200] == before - len(left), (codes, left)
    if codes[409]:
        assert len(left) == 1, (codes, left)


def _retire_cpos(database_url: str) -> None:
    """Between rounds: the round's survivors stop being CPOs (set up straight in the table)."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE staff_user SET role = 'handler' WHERE role = 'cpo'"))
    finally:
        engine.dispose()


def test_cpos_demoting_each_other_leave_one(app, client, race, database_url):
    for rnd in range(ROUNDS):
        cpos = _cpos(app, client, f"ring{rnd}-", 4)
        codes = _ring(client, race, cpos, {"role": "handler"})
        _check(codes, 4, _active_cpos(database_url))
        _retire_cpos(database_url)


def test_two_cpos_demoting_each_other(app, client, race, database_url):
    for rnd in range(ROUNDS * 2):
        cpos = _cpos(app, client, f"pair{rnd}-", 2)
        codes = _ring(client, race, cpos, {"role": "handler"})
        left = _active_cpos(database_url)
        _check(codes, 2, left)
        assert len(left) == 1 and codes[200] == 1, (codes, left)
        _retire_cpos(database_url)


def test_cpos_deactivating_each_other_leave_one(app, client, race, database_url):
    for rnd in range(ROUNDS):
        cpos = _cpos(app, client, f"off{rnd}-", 4)
        codes = _ring(client, race, cpos, {"active": False})
        _check(codes, 4, _active_cpos(database_url))
        _retire_cpos(database_url)


def test_parallel_creations_of_one_e_mail(client, staff, race, database_url):
    cpo = staff["cpo"]["headers"]
    body = {"email": "new.handler@example.com", "role": "handler", "password": "x" * 16}

    def create(_: int) -> int:
        return client.post("/v1/staff/users", headers=cpo, json=body).status_code

    codes = Counter(race(8, create))
    assert codes == {201: 1, 409: 7}, codes
    listed = client.get("/v1/staff/users", headers=cpo, params={"limit": 200}).json()["items"]
    assert [u["email"] for u in listed].count("new.handler@example.com") == 1
