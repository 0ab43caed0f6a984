"""Staff routes take the reference (`RD-2026-000001`) wherever they take a request id, as the
public routes do, through the one resolver (core/deps.py `resolve_request_id`); and a
review-objection task goes to the request's assignee (issue 20, point 2)."""

from __future__ import annotations

import pytest

from tests.support import act, fresh_subject_token, relogin, staff_read, verified

REFUSE = {
    "outcome": "refused",
    "grounds": ["PIPA-37-2-1"],
    "explanation": "법령에 따라 거절합니다.",
}


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


@pytest.fixture
def filed(client, outbox_dir, staff):
    created, _subject = verified(client, outbox_dir)
    return created


class TestReadAndActByReference:
    def test_valid(self, client, staff, filed):
        ref, rid = filed["reference"], filed["id"]
        cpo = staff["cpo"]["headers"]
        by_ref = staff_read(client, cpo, ref)
        assert by_ref["id"] == rid
        assert staff_read(client, cpo, ref.lower())["id"] == rid
        view = act(client, cpo, ref, "assign", {"assignee": "handler@example.com"})
        assert view["id"] == rid and view["assignee_id"] == staff["handler"]["id"]
        plan = client.get(f"/v1/staff/requests/{ref}/plan", headers=cpo)
        assert plan.status_code == 200 and plan.json()["request_id"] == rid
        by_id = client.get(f"/v1/staff/tasks?status=all&request_id={rid}", headers=cpo)
        by_ref = client.get(f"/v1/staff/tasks?status=all&request_id={ref}", headers=cpo)
        assert by_id.status_code == by_ref.status_code == 200
        assert by_ref.json() == by_id.json() and by_ref.json()["items"]
        audit_id = client.get("/v1/staff/audit", headers=cpo, params={"request_id": rid})
        audit_ref = client.get("/v1/staff/audit", headers=cpo, params={"request_id": ref})
        assert audit_ref.status_code == 200
        assert [e["seq"] for e in audit_ref.json()["items"]] == [
            e["seq"] for e in audit_id.json()["items"]
        ]

    def test_anonymous(self, client, staff, filed):
        ref = filed["reference"]
        _problem(client.get(f"/v1/staff/requests/{ref}"), 401)
        _problem(
            client.post(
                f"/v1/staff/requests/{ref}/assign",
                headers={"If-Match": "1"},
                json={"assignee": "handler@example.com"},
            ),
            401,
        )
        _problem(client.get(f"/v1/staff/tasks?request_id={ref}"), 401)

    def test_wrong_principal(self, client, staff, filed):
        ref = filed["reference"]
        act(client, staff["cpo"]["headers"], ref, "assign", {"assignee": "handler@example.com"})
        other = staff["handler2"]["headers"]
        _problem(client.get(f"/v1/staff/requests/{ref}", headers=other), 403)
        _problem(client.get(f"/v1/staff/requests/{ref}/plan", headers=other), 403)
        version = staff_read(client, staff["cpo"]["headers"], ref)["version"]
        response = client.post(
            f"/v1/staff/requests/{ref}/verify",
            headers={**staff["auditor"]["headers"], "If-Match": str(version)},
            json={"outcome": "verified", "method": "email_code"},
        )
        _problem(response, 403)

    @pytest.mark.parametrize("ref", ["RD-2026-999999", "RD-1999-000001"])
    def test_an_unknown_reference_is_404_everywhere_and_changes_nothing(
        self, client, staff, filed, ref
    ):
        cpo = staff["cpo"]["headers"]
        before = staff_read(client, cpo, filed["id"])
        _problem(client.get(f"/v1/staff/requests/{ref}", headers=cpo), 404)
        _problem(client.get(f"/v1/staff/requests/{ref}/plan", headers=cpo), 404)
        _problem(
            client.post(
                f"/v1/staff/requests/{ref}/assign",
                headers={**cpo, "If-Match": "1"},
                json={"assignee": "handler@example.com"},
            ),
            404,
        )
        _problem(client.get(f"/v1/staff/tasks?request_id={ref}", headers=cpo), 404)
        _problem(client.get("/v1/staff/audit", headers=cpo, params={"request_id": ref}), 404)
        after = staff_read(client, cpo, filed["id"])
        assert after["version"] == before["version"] and after["assignee_id"] is None

    def test_bad_input(self, client, staff, filed):
        cpo = staff["cpo"]["headers"]
        _problem(client.get("/v1/staff/requests/RD-2026-00000%00", headers=cpo), 404)
        _problem(client.get("/v1/staff/tasks?request_id=RD-2026-%00", headers=cpo), 422)
        _problem(client.get(f"/v1/staff/tasks?request_id={'R' * 41}", headers=cpo), 422)


def test_a_review_objection_task_goes_to_the_assignee(client, outbox_dir, staff, clock):
    created, _subject = verified(client, outbox_dir, type="suspension")
    ref, rid = created["reference"], created["id"]
    act(client, staff["cpo"]["headers"], ref, "assign", {"assignee": "handler@example.com"})
    act(client, staff["handler"]["headers"], ref, "decision", REFUSE)
    clock.advance(days=2)
    subject = fresh_subject_token(client, outbox_dir, rid)
    relogin(client, staff)
    response = client.post(
        f"/v1/requests/{ref}/objections", headers=subject, json={"reason": "법령상 의무가 없습니다"}
    )
    assert response.status_code == 201, response.text
    mine = client.get(
        "/v1/staff/tasks?mine=true&kind=review_objection", headers=staff["handler"]["headers"]
    )
    assert mine.status_code == 200
    [task] = mine.json()["items"]
    assert task["assignee_id"] == staff["handler"]["id"] and task["request_id"] == rid
