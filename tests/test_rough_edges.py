"""The API's rough edges, as a new user met them (issue 21.11, 21.12), each through HTTP."""

from __future__ import annotations

from tests.support import act, file_request, request_body, staff_read, verified


class TestTaskStatuses:
    def test_repeated_status_values_are_all_taken(self, client, staff, outbox_dir):
        cpo = staff["cpo"]["headers"]
        created, _ = verified(
            client, outbox_dir, type="access", scope={"categories": ["newsletter", "inquiries"]}
        )
        rid = created["id"]
        act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
        plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
        act(client, cpo, rid, "decision", plan["decision"])
        tasks = client.get(
            "/v1/staff/tasks", headers=cpo, params={"request_id": rid, "status": "all"}
        ).json()["items"]
        fulfil = [t for t in tasks if t["kind"] in ("fulfil", "collect")]
        assert len(fulfil) >= 2, tasks
        done = client.post(
            f"/v1/staff/tasks/{fulfil[0]['id']}/complete",
            headers=cpo,
            json={"outcome": "done", "data": {"x": 1}},
        )
        assert done.status_code == 200, done.text
        statuses = {t["status"] for t in tasks} | {"done"}
        assert {"open", "done"} <= statuses
        r = client.get(
            "/v1/staff/tasks",
            headers=cpo,
            params=[("request_id", rid), ("status", "open"), ("status", "done")],
        )
        assert r.status_code == 200, r.text
        got = {t["status"] for t in r.json()["items"]}
        assert got == {"open", "done"}, got
        bad = client.get("/v1/staff/tasks", headers=cpo, params=[("status", "nope")])
        assert bad.status_code == 422


class TestVersions:
    def test_a_staff_entry_returns_its_version_and_etag(self, client, staff):
        cpo = staff["cpo"]["headers"]
        for verified_now in (False, True):
            body = {
                **request_body(subject={"name": "편지", "email": "letter@example.com"}),
                "channel": "letter",
                "received_at": "2026-11-30T10:00:00+09:00",
            }
            if verified_now:
                body |= {"identity_verified": True, "verification_method": "in_person"}
            r = client.post("/v1/staff/requests", headers=cpo, json=body)
            assert r.status_code == 201, r.text
            version = staff_read(client, cpo, r.json()["id"])["version"]
            assert r.json()["version"] == version
            assert r.headers["ETag"] == f'"{version}"'

    def test_write_responses_carry_the_new_version_as_etag(self, client, staff):
        cpo = staff["cpo"]["headers"]
        rid = file_request(client)["id"]
        read = client.get(f"/v1/staff/requests/{rid}", headers=cpo)
        assert read.headers["ETag"] == f'"{read.json()["version"]}"'
        r = client.post(
            f"/v1/staff/requests/{rid}/verify",
            headers={**cpo, "If-Match": read.headers["ETag"]},
            json={"outcome": "verified", "method": "in_person"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["version"] > read.json()["version"]
        assert r.headers["ETag"] == f'"{r.json()["version"]}"'
        # The ETag is what the next write sends.
        again = client.post(
            f"/v1/staff/requests/{rid}/assign",
            headers={**cpo, "If-Match": r.headers["ETag"]},
            json={"assignee": "cpo@example.com"},
        )
        assert again.status_code == 200, again.text
        assert again.headers["ETag"] == f'"{again.json()["version"]}"'
