"""Verifying the access record while others append to it never raises a false alarm."""

from __future__ import annotations

import threading

from tests.support import request_body

FILERS, VERIFIERS, FILINGS_EACH = 4, 4, 12


def test_verify_racing_concurrent_filings_never_reports_a_break(client, staff, race):
    auditor = staff["auditor"]["headers"]
    filers_left = [FILERS]
    lock = threading.Lock()
    done = threading.Event()

    def filer(n: int) -> list[int]:
        statuses = []
        try:
            for i in range(FILINGS_EACH):
                body = request_body(subject={"name": "김철수", "email": f"f{n}-{i}@example.com"})
                statuses.append(client.post("/v1/requests", json=body).status_code)
        finally:
            with lock:
                filers_left[0] -= 1
                if not filers_left[0]:
                    done.set()
        return statuses

    def verifier() -> list[dict]:
        checks = []
        # At least a few checks after the filers are done, and as many as fit while they file.
        while not done.is_set() or len(checks) < 3:
            response = client.get("/v1/staff/audit/verify", headers=auditor)
            assert response.status_code == 200, response.text
            checks.append(response.json())
        return checks

    results = race(FILERS + VERIFIERS, lambda i: filer(i) if i < FILERS else verifier())
    assert [s for r in results[:FILERS] for s in r] == [201] * FILERS * FILINGS_EACH
    checks = [c for r in results[FILERS:] for c in r]
    false_alarms = [c for c in checks if not c["ok"]]
    assert not false_alarms, f"{len(false_alarms)} of {len(checks)} checks: {false_alarms[0]}"
    # Every filing is one entry, every staff login one more: the last check saw them all.
    final = client.get("/v1/staff/audit/verify", headers=auditor).json()
    assert final["ok"] and final["checked"] >= FILERS * FILINGS_EACH + len(staff)
