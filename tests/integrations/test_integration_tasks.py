"""Tasks for processors (issue 9.4): a client sees the fulfil and collect tasks of its systems,
fetches one with the subject's identifiers (an access-record read), and confirms it as staff
would complete it; another system's task is 404."""

from __future__ import annotations

import pytest

from tests.support import act, client_token, make_client, staff_read, verified

URL = "/v1/integrations/tasks"


def _granted(client, outbox_dir, staff, **kw) -> str:
    """A verified request, assigned and decided as its plan says: fulfilment tasks exist."""
    created, _ = verified(client, outbox_dir, **kw)
    rid = created["id"]
    handler = staff["handler"]["headers"]
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=handler).json()
    act(client, handler, rid, "decision", plan["decision"])
    return rid


@pytest.fixture
def processor(client, staff) -> dict:
    creds = make_client(
        client, staff["cpo"]["headers"], ["tasks:read", "tasks:write"], ["stibee"], name="Stibee"
    )
    return {"creds": creds, "headers": client_token(client, creds)}


def _staff_tasks(client, staff, rid) -> list[dict]:
    return staff_read(client, staff["cpo"]["headers"], rid)["tasks"]


class TestListing:
    def test_only_the_tasks_of_the_clients_systems(self, client, staff, outbox_dir, processor):
        rid = _granted(
            client,
            outbox_dir,
            staff,
            type="access",
            scope={"categories": ["newsletter", "inquiries"]},
        )
        theirs = [t for t in _staff_tasks(client, staff, rid) if t["system"] == "stibee"]
        others = [
            t for t in _staff_tasks(client, staff, rid) if t["system"] not in (None, "stibee")
        ]
        assert theirs and others  # the plan hands work to stibee and to another system
        r = client.get(URL, headers=processor["headers"])
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [t["id"] for t in items] == [t["id"] for t in theirs]
        item = items[0]
        assert item["system"] == "stibee" and item["action"] == "collect"
        assert item["reference"].startswith("RD-") and item["request_type"] == "access"
        assert "홍길동" not in r.text and "hong.gildong" not in r.text  # no personal data

    def test_status_filter_and_pagination(self, client, staff, outbox_dir, processor):
        rids = [
            _granted(
                client,
                outbox_dir,
                staff,
                type="deletion",
                scope={"categories": ["newsletter"]},
                subject={"name": f"구독자{i}", "email": f"sub{i}@example.com"},
            )
            for i in range(3)
        ]
        first = client.get(URL, headers=processor["headers"], params={"limit": 2}).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        second = client.get(
            URL, headers=processor["headers"], params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        assert len(second["items"]) == 1 and second["next_cursor"] is None
        seen = {t["request_id"] for t in first["items"] + second["items"]}
        assert seen == set(rids)
        done = client.get(URL, headers=processor["headers"], params={"status": "done"}).json()
        assert done["items"] == []
        bad = client.get(URL, headers=processor["headers"], params={"status": "gone"})
        assert bad.status_code == 422

    def test_scopes(self, client, staff, processor):
        writer = make_client(client, staff["cpo"]["headers"], ["tasks:write"], ["stibee"])
        assert client.get(URL, headers=client_token(client, writer)).status_code == 403
        reader = make_client(client, staff["cpo"]["headers"], ["tasks:read"], ["stibee"])
        r = client.post(f"{URL}/tsk_x/confirm", headers=client_token(client, reader))
        assert r.status_code == 403
        assert client.get(URL).status_code == 401


class TestDetail:
    def test_the_subject_for_the_system_and_the_read_recorded(
        self, client, staff, outbox_dir, processor
    ):
        rid = _granted(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        )
        task = client.get(URL, headers=processor["headers"]).json()["items"][0]
        r = client.get(f"{URL}/{task['id']}", headers=processor["headers"])
        assert r.status_code == 200, r.text
        detail = r.json()
        assert detail["subject"]["name"] == "홍길동"
        assert detail["subject"]["email"] == "hong.gildong@example.com"
        assert detail["corrections"] is None
        audit = client.get(
            "/v1/staff/audit",
            headers=staff["cpo"]["headers"],
            params={"request_id": rid, "action": "read"},
        ).json()["items"]
        reads = [e for e in audit if e["actor"] == f"integration:{processor['creds']['client_id']}"]
        assert len(reads) == 1 and reads[0]["detail"]["task"] == task["id"]

    def test_a_correction_carries_the_requested_values(self, client, staff, outbox_dir, processor):
        rid = _granted(
            client,
            outbox_dir,
            staff,
            type="correction",
            scope={
                "categories": ["newsletter"],
                "corrections": [{"item": "name", "current": "홍길동", "requested": "홍길순"}],
            },
        )
        tasks = [t for t in _staff_tasks(client, staff, rid) if t["system"] == "stibee"]
        assert tasks, "the plan corrects the newsletter at stibee"
        detail = client.get(f"{URL}/{tasks[0]['id']}", headers=processor["headers"]).json()
        assert detail["action"] == "correct"
        assert detail["corrections"] == [
            {"item": "name", "current": "홍길동", "requested": "홍길순"}
        ]

    def test_other_systems_and_other_kinds_are_404(self, client, staff, outbox_dir, processor):
        rid = _granted(
            client,
            outbox_dir,
            staff,
            type="access",
            scope={"categories": ["newsletter", "inquiries"]},
        )
        foreign = next(
            t for t in _staff_tasks(client, staff, rid) if t["system"] not in (None, "stibee")
        )
        decide = next(t for t in _staff_tasks(client, staff, rid) if t["system"] is None)
        for task_id in (foreign["id"], decide["id"], "tsk_nope"):
            assert client.get(f"{URL}/{task_id}", headers=processor["headers"]).status_code == 404
            r = client.post(f"{URL}/{task_id}/confirm", headers=processor["headers"])
            assert r.status_code == 404, r.text


class TestIdentifiersOnlyWhileOpen:
    """Issue 21.3: the subject's identifiers are the processor's only while it has work to do
    (the task open, or failed and to be redone); a done, waived or cancelled task shows its
    outcome."""

    def _reads(self, client, staff, rid, processor) -> int:
        audit = client.get(
            "/v1/staff/audit",
            headers=staff["cpo"]["headers"],
            params={"request_id": rid, "action": "read"},
        ).json()["items"]
        return len([e for e in audit if e["actor"].startswith("integration:")])

    def test_a_done_task_shows_its_outcome_and_no_identifiers(
        self, client, staff, outbox_dir, processor
    ):
        rid = _granted(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        )
        task = client.get(URL, headers=processor["headers"]).json()["items"][0]
        failed = client.post(
            f"{URL}/{task['id']}/confirm", headers=processor["headers"], json={"outcome": "failed"}
        )
        assert failed.status_code == 200, failed.text
        # Failed: still to be redone, so still shown.
        detail = client.get(f"{URL}/{task['id']}", headers=processor["headers"]).json()
        assert detail["subject"]["email"] == "hong.gildong@example.com"
        confirmed = client.post(
            f"{URL}/{task['id']}/confirm", headers=processor["headers"], json={"outcome": "done"}
        )
        assert confirmed.status_code == 200, confirmed.text
        reads = self._reads(client, staff, rid, processor)

        r = client.get(f"{URL}/{task['id']}", headers=processor["headers"])
        assert r.status_code == 200, r.text
        detail = r.json()
        assert detail["status"] == "done" and detail["outcome"] == "done"
        assert detail["completed_at"] is not None
        assert detail["subject"] == {"name": None, "email": None, "phone": None, "birth_date": None}
        assert "홍길동" not in r.text and "hong.gildong" not in r.text and "1234-5678" not in r.text
        # Nothing personal was read, so nothing is added to the access record.
        assert self._reads(client, staff, rid, processor) == reads

    def test_a_waived_task_shows_no_identifiers(self, client, staff, outbox_dir, processor):
        rid = _granted(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        )
        task = client.get(URL, headers=processor["headers"]).json()["items"][0]
        failed = client.post(
            f"{URL}/{task['id']}/confirm", headers=processor["headers"], json={"outcome": "failed"}
        )
        assert failed.status_code == 200, failed.text
        waived = client.post(
            f"/v1/staff/tasks/{task['id']}/waive",
            headers=staff["cpo"]["headers"],
            json={"reason": "계정이 이미 해지됨"},
        )
        assert waived.status_code == 200, waived.text
        reads = self._reads(client, staff, rid, processor)

        r = client.get(f"{URL}/{task['id']}", headers=processor["headers"])
        assert r.status_code == 200, r.text
        detail = r.json()
        assert detail["status"] == "waived"
        assert detail["subject"] == {"name": None, "email": None, "phone": None, "birth_date": None}
        assert "홍길동" not in r.text and "hong.gildong" not in r.text
        assert self._reads(client, staff, rid, processor) == reads

    def test_a_cancelled_tasks_correction_values_are_gone(
        self, client, staff, outbox_dir, processor
    ):
        created, subject = verified(
            client,
            outbox_dir,
            type="correction",
            scope={
                "categories": ["newsletter"],
                "corrections": [{"item": "name", "current": "홍길동", "requested": "홍길순"}],
            },
        )
        rid = created["id"]
        handler = staff["handler"]["headers"]
        act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
        plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=handler).json()
        act(client, handler, rid, "decision", plan["decision"])
        [task] = [t for t in _staff_tasks(client, staff, rid) if t["system"] == "stibee"]
        withdrawn = client.post(f"/v1/requests/{rid}/withdraw", headers=subject, json={})
        assert withdrawn.status_code == 200, withdrawn.text

        r = client.get(f"{URL}/{task['id']}", headers=processor["headers"])
        assert r.status_code == 200, r.text
        detail = r.json()
        assert detail["status"] == "cancelled"
        assert detail["subject"] == {"name": None, "email": None, "phone": None, "birth_date": None}
        assert detail["corrections"] is None
        assert "홍길" not in r.text


class TestConfirm:
    def test_confirmed_as_staff_complete_and_recorded_with_the_client(
        self, client, staff, outbox_dir, processor
    ):
        rid = _granted(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        )
        task = client.get(URL, headers=processor["headers"]).json()["items"][0]
        r = client.post(
            f"{URL}/{task['id']}/confirm",
            headers=processor["headers"],
            json={"outcome": "done", "note": "구독자 목록에서 삭제함"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "done" and r.json()["outcome"] == "done"
        again = client.post(f"{URL}/{task['id']}/confirm", headers=processor["headers"])
        assert again.status_code == 409
        view = staff_read(client, staff["cpo"]["headers"], rid)
        completed = [e for e in view["timeline"] if e["kind"] == "task.completed"]
        assert completed[-1]["actor"] == f"integration:{processor['creds']['client_id']}"
        # Nothing blocks completion now: the CPO closes the request.
        done = act(client, staff["cpo"]["headers"], rid, "complete", {})
        assert done["status"] == "completed"

    def test_failed_then_redone(self, client, staff, outbox_dir, processor):
        _granted(client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]})
        task = client.get(URL, headers=processor["headers"]).json()["items"][0]
        failed = client.post(
            f"{URL}/{task['id']}/confirm", headers=processor["headers"], json={"outcome": "failed"}
        )
        assert failed.json()["status"] == "failed"
        listed = client.get(URL, headers=processor["headers"], params={"status": "failed"}).json()
        assert [t["id"] for t in listed["items"]] == [task["id"]]
        redone = client.post(f"{URL}/{task['id']}/confirm", headers=processor["headers"])
        assert redone.status_code == 200 and redone.json()["status"] == "done"

    def test_a_collect_task_returns_the_data_for_the_access_result(
        self, client, staff, outbox_dir, processor
    ):
        _granted(client, outbox_dir, staff, type="access", scope={"categories": ["newsletter"]})
        task = client.get(URL, headers=processor["headers"]).json()["items"][0]
        assert task["kind"] == "collect" and task["action"] == "collect"
        missing = client.post(f"{URL}/{task['id']}/confirm", headers=processor["headers"], json={})
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "data"
        r = client.post(
            f"{URL}/{task['id']}/confirm",
            headers=processor["headers"],
            json={"data": {"name": "홍길동", "email": "hong.gildong@example.com"}},
        )
        assert r.status_code == 200, r.text

    @pytest.mark.parametrize(
        "body",
        [{"outcome": "maybe"}, {"note": "x" * 2001}, {"outcome": "done", "extra": 1}, [1, 2]],
    )
    def test_bad_bodies_are_422_and_change_nothing(
        self, client, staff, outbox_dir, processor, body
    ):
        _granted(client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]})
        task = client.get(URL, headers=processor["headers"]).json()["items"][0]
        r = client.post(f"{URL}/{task['id']}/confirm", headers=processor["headers"], json=body)
        assert r.status_code == 422, r.text
        after = client.get(URL, headers=processor["headers"]).json()["items"][0]
        assert after["status"] == "open"
