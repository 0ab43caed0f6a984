"""Holds race with each other and with the decision on one request: the request row lock and
If-Match let one writer through; the rest get 412, never a 500, and a category is never
granted for deletion while a hold on it stands."""

from __future__ import annotations

from collections import Counter

from tests.support import count_rows, in_progress, staff_read

HOLD = {"category": "newsletter", "kind": "investigation", "note": "수사기관 자료 보전 요청"}


def test_parallel_holds_with_one_version(client, outbox_dir, staff, race, database_url):
    rid = in_progress(
        client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
    ).id
    version = staff_read(client, staff["cpo"]["headers"], rid)["version"]
    headers = {**staff["cpo"]["headers"], "If-Match": str(version)}
    kinds = ["investigation", "debt"]

    def hold(i: int) -> int:
        body = {**HOLD, "kind": kinds[i % 2], "note": f"{HOLD['note']} {i}"}
        return client.post(
            f"/v1/staff/requests/{rid}/holds", json=body, headers=headers
        ).status_code

    codes = Counter(race(6, hold))
    assert codes == {201: 1, 412: 5}, codes
    assert count_rows(database_url, "hold") == 1
    assert staff_read(client, staff["cpo"]["headers"], rid)["version"] == version + 1


def test_hold_and_granting_decision_race(client, outbox_dir, staff, race):
    rid = in_progress(
        client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
    ).id
    cpo = staff["cpo"]["headers"]
    version = staff_read(client, cpo, rid)["version"]
    headers = {**cpo, "If-Match": str(version)}
    grant = {"outcome": "granted", "explanation": "뉴스레터 정보를 삭제합니다."}

    def write(i: int) -> tuple[str, int]:
        if i % 2:
            r = client.post(f"/v1/staff/requests/{rid}/holds", json=HOLD, headers=headers)
            return "hold", r.status_code
        r = client.post(f"/v1/staff/requests/{rid}/decision", json=grant, headers=headers)
        return "decision", r.status_code

    results = race(6, write)
    wins = [kind for kind, code in results if code in (200, 201)]
    assert len(wins) == 1, results
    assert all(code in (200, 201, 412) for _, code in results), results
    view = staff_read(client, cpo, rid)
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    held = any(i["action"] == "hold" for i in plan["items"])
    granted = [d for d in view["decisions"] if d["outcome"] == "granted"]
    assert held != bool(granted)  # one or the other, never both
