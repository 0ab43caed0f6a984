"""Racing writers on one request: exactly one of N writers holding the same version wins;
the others get 412 (staff, If-Match) or 409 (public), never a 500."""

from __future__ import annotations

from collections import Counter

from tests.support import file_request, latest_code, request_body, staff_read, verified


def _open(client, outbox_dir, staff) -> str:
    created, _ = verified(client, outbox_dir)
    return created["id"]


def test_parallel_extensions_with_one_version(client, outbox_dir, staff, race):
    request_id = _open(client, outbox_dir, staff)
    version = staff_read(client, staff["cpo"]["headers"], request_id)["version"]
    headers = {**staff["cpo"]["headers"], "If-Match": str(version)}

    def extend(i: int) -> int:
        return client.post(
            f"/v1/staff/requests/{request_id}/extend",
            headers=headers,
            json={"reason": f"자료 확인 중 {i}", "due_at": f"2026-12-{22 + i % 6}T12:00:00+09:00"},
        ).status_code

    codes = Counter(race(6, extend))
    assert codes == {200: 1, 412: 5}, codes
    view = staff_read(client, staff["cpo"]["headers"], request_id)
    assert view["version"] == version + 1
    assert len(view["extensions"]) == 1


def test_parallel_assignments_with_one_version(client, outbox_dir, staff, race):
    request_id = _open(client, outbox_dir, staff)
    version = staff_read(client, staff["cpo"]["headers"], request_id)["version"]
    headers = {**staff["cpo"]["headers"], "If-Match": str(version)}
    people = ["handler@example.com", "handler2@example.com"]

    def assign(i: int) -> int:
        return client.post(
            f"/v1/staff/requests/{request_id}/assign",
            headers=headers,
            json={"assignee": people[i % 2]},
        ).status_code

    codes = Counter(race(8, assign))
    assert codes == {200: 1, 412: 7}, codes
    tasks = client.get(
        "/v1/staff/tasks",
        headers=staff["cpo"]["headers"],
        params={"request_id": request_id, "kind": "decide"},
    ).json()["items"]
    assert len(tasks) == 1  # one winner, one decide task


def test_parallel_withdrawals_by_the_subject(client, outbox_dir, race):
    created, headers = verified(client, outbox_dir)

    def withdraw(_: int) -> int:
        return client.post(f"/v1/requests/{created['id']}/withdraw", headers=headers).status_code

    codes = Counter(race(8, withdraw))
    assert codes == {200: 1, 409: 7}, codes


def test_parallel_right_codes(client, outbox_dir, race):
    created = file_request(client)
    code = latest_code(outbox_dir, created["id"])

    def enter(_: int) -> int:
        return client.post(
            f"/v1/requests/{created['id']}/verification", json={"code": code}
        ).status_code

    codes = Counter(race(8, enter))
    assert codes[200] == 1 and codes[200] + codes[400] + codes[409] == 8, codes


def test_parallel_filings_answer_only_201(client, race):
    codes = Counter(
        race(
            16,
            lambda i: (
                client.post(
                    "/v1/requests",
                    json=request_body(subject={"name": "김철수", "email": f"kim{i}@example.com"}),
                ).status_code
            ),
        )
    )
    assert codes == {201: 16}, codes


def test_parallel_completions_of_one_task(client, outbox_dir, staff, race):
    created, _ = verified(client, outbox_dir, type="deletion", scope={"categories": ["newsletter"]})
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    version = staff_read(client, cpo, rid)["version"]
    client.post(
        f"/v1/staff/requests/{rid}/assign",
        headers={**cpo, "If-Match": str(version)},
        json={"assignee": "cpo@example.com"},
    )
    version = staff_read(client, cpo, rid)["version"]
    view = client.post(
        f"/v1/staff/requests/{rid}/decision",
        headers={**cpo, "If-Match": str(version)},
        json={"outcome": "granted", "explanation": "삭제합니다."},
    ).json()
    task = next(t for t in view["tasks"] if t["kind"] == "fulfil")

    def complete(i: int) -> int:
        return client.post(
            f"/v1/staff/tasks/{task['id']}/complete", headers=cpo, json={"note": f"완료 {i}"}
        ).status_code

    codes = Counter(race(8, complete))
    assert codes == {200: 1, 409: 7}, codes
    timeline = staff_read(client, cpo, rid)["timeline"]
    assert [e["kind"] for e in timeline].count("task.completed") == 1
