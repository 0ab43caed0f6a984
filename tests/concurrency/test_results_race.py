"""Races on the access result and its tasks, with real parallelism (PostgreSQL overlaps them;
SQLite queues them on its write lock): one result per request whatever races to make it, a
collect task completed or waived once, and expired results destroyed once by several workers.
A lost race is a 409 or 412, never a 500."""

from __future__ import annotations

from collections import Counter

from app.core.errors import Conflict
from app.models import Request
from app.results import service as results
from app.results.service import destroy_expired
from tests.support import act, count_rows, finish_tasks, relogin, staff_read, verified

GRANT = {"outcome": "granted", "explanation": "열람을 허용합니다."}


def _collected(client, outbox_dir, staff, i: int = 0) -> str:
    created, _ = verified(
        client,
        outbox_dir,
        scope={"categories": ["newsletter", "payment"]},
        subject={"name": "홍길동", "email": f"hong{i}@example.com"},
    )
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    act(client, cpo, rid, "decision", GRANT)
    finish_tasks(client, cpo, rid, data={"email": f"hong{i}@example.com"})
    return rid


def test_parallel_completions_assemble_one_result(client, outbox_dir, staff, race, database_url):
    rid = _collected(client, outbox_dir, staff)
    cpo = staff["cpo"]["headers"]
    version = staff_read(client, cpo, rid)["version"]

    def complete(_: int) -> int:
        return client.post(
            f"/v1/staff/requests/{rid}/complete", headers={**cpo, "If-Match": str(version)}
        ).status_code

    codes = Counter(race(8, complete))
    assert codes[200] == 1 and set(codes) <= {200, 409, 412}, codes
    assert count_rows(database_url, "access_result") == 1
    timeline = [e["kind"] for e in staff_read(client, cpo, rid)["timeline"]]
    assert timeline.count("result.assembled") == 1


def test_racing_assemblies_without_the_request_lock_leave_one_row(
    client, outbox_dir, staff, race, database_url
):
    """The unique constraint is the backstop when two assemblies do not queue on the request
    row: one inserts, the others either see its row or lose the insert with a 409."""
    rid = _collected(client, outbox_dir, staff)
    ctx = client.app.state.ctx
    from app.core.actors import SYSTEM

    def assemble(_: int) -> str:
        try:
            with ctx.db.transaction() as session:
                request = session.get(Request, rid)
                results.assemble(
                    session,
                    ctx,
                    request,
                    ["newsletter", "payment"],
                    actor=SYSTEM,
                    now=ctx.clock.now(),
                )
            return "ok"
        except Conflict:
            return "conflict"

    outcomes = Counter(race(6, assemble))
    assert outcomes["ok"] >= 1 and set(outcomes) <= {"ok", "conflict"}, outcomes
    assert count_rows(database_url, "access_result") == 1


def test_parallel_completions_of_one_collect_task(client, outbox_dir, staff, race):
    created, _ = verified(client, outbox_dir, scope={"categories": ["newsletter"]})
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    view = act(client, cpo, rid, "decision", GRANT)
    task = next(t for t in view["tasks"] if t["kind"] == "collect")

    def complete(i: int) -> int:
        return client.post(
            f"/v1/staff/tasks/{task['id']}/complete",
            headers=cpo,
            json={"outcome": "done", "data": {"email": f"racer{i}@example.com"}},
        ).status_code

    codes = Counter(race(8, complete))
    assert codes == {200: 1, 409: 7}, codes
    timeline = [e["kind"] for e in staff_read(client, cpo, rid)["timeline"]]
    assert timeline.count("task.completed") == 1


def test_parallel_waivers_of_one_failed_task(client, outbox_dir, staff, race):
    created, _ = verified(client, outbox_dir, scope={"categories": ["newsletter"]})
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    view = act(client, cpo, rid, "decision", GRANT)
    task = next(t for t in view["tasks"] if t["kind"] == "collect")
    client.post(f"/v1/staff/tasks/{task['id']}/complete", headers=cpo, json={"outcome": "failed"})

    def waive(i: int) -> int:
        return client.post(
            f"/v1/staff/tasks/{task['id']}/waive", headers=cpo, json={"reason": f"사유 {i}"}
        ).status_code

    codes = Counter(race(6, waive))
    assert codes == {200: 1, 409: 5}, codes
    timeline = [e["kind"] for e in staff_read(client, cpo, rid)["timeline"]]
    assert timeline.count("task.waived") == 1


def test_parallel_result_destruction(client, outbox_dir, staff, clock, race):
    ctx = client.app.state.ctx
    cpo = staff["cpo"]["headers"]
    for i in range(5):
        rid = _collected(client, outbox_dir, staff, i)
        act(client, cpo, rid, "complete")
    clock.advance(days=ctx.settings.result_ttl_days + 1)

    destroyed = race(4, lambda _: destroy_expired(ctx.db, ctx))
    assert sum(destroyed) == 5, destroyed
    relogin(client, staff)
    entries = client.get(
        "/v1/staff/audit", headers=staff["auditor"]["headers"], params={"action": "destroy"}
    ).json()["items"]
    assert len(entries) == 5
    assert client.get("/v1/staff/audit/verify", headers=staff["auditor"]["headers"]).json()["ok"]
