"""POST /v1/staff/requests/bulk: one action on many requests, each in its own transaction
through the single action's service (issue 22, point 5)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.concurrency.conftest import race
from tests.support import (
    audit_entries,
    file_request,
    read_outbox,
    sql_rows,
    staff_read,
    verified,
)

URL = "/v1/staff/requests/bulk"
EXTEND = {
    "action": "extend",
    "reason": "접수 폭증으로 자료 취합에 시간이 필요합니다",
    "due_at": "2026-12-24T12:00:00+09:00",
}


def _open(client, outbox_dir, n: int, prefix: str = "bulk", **kw) -> list[dict]:
    """n verified (open) requests, each by its own subject."""
    return [
        verified(
            client,
            outbox_dir,
            subject={"name": f"대량{i}", "email": f"{prefix}{i}@example.com"},
            **kw,
        )[0]
        for i in range(n)
    ]


def _bulk(client, headers, body, expect=200) -> dict:
    response = client.post(URL, headers=headers, json=body)
    assert response.status_code == expect, response.text
    return response.json()


def _offline(client, staff, name: str, channel: str = "letter") -> dict:
    body = {
        "type": "access",
        "subject": {"name": name, "email": None},
        "channel": channel,
        "received_at": "2026-11-30T09:00:00+09:00",
    }
    response = client.post("/v1/staff/requests", json=body, headers=staff["cpo"]["headers"])
    assert response.status_code == 201, response.text
    return response.json()


def _outcomes(answer: dict) -> list[str]:
    return [r["outcome"] for r in answer["results"]]


class TestAssign:
    def test_each_assigned_in_its_own_unit_with_its_own_event(
        self, client, outbox_dir, staff, database_url
    ):
        cpo = staff["cpo"]["headers"]
        reqs = _open(client, outbox_dir, 3)
        # One by reference (any case), one by id, one unknown, one more by id.
        keys = [reqs[0]["reference"].lower(), reqs[1]["id"], "req_nope", reqs[2]["id"]]
        answer = _bulk(
            client, cpo, {"ids": keys, "action": "assign", "assignee": "handler@example.com"}
        )
        assert _outcomes(answer) == ["done", "done", "not_found", "done"]
        assert answer["counts"] == {"done": 3, "conflict": 0, "refused": 0, "not_found": 1}
        assert [r["id"] for r in answer["results"]] == keys
        assert answer["results"][0]["request_id"] == reqs[0]["id"]
        assert answer["results"][2]["problem"]["status"] == 404
        for r, req in zip([answer["results"][i] for i in (0, 1, 3)], reqs, strict=True):
            view = staff_read(client, cpo, req["id"])
            assert view["status"] == "in_progress"
            assert view["assignee_id"] == staff["handler"]["id"]
            assert r["version"] == view["version"]
            assert [t["kind"] for t in view["tasks"] if t["status"] == "open"] == ["decide"]
        # One access-record entry per request, by the CPO.
        assigned = [
            (actor, d["to"])
            for actor, _, d in audit_entries(database_url, "change")
            if d.get("assignee") == staff["handler"]["id"]
        ]
        assert assigned == [(f"staff:{staff['cpo']['id']}", "in_progress")] * 3

    def test_a_handler_takes_only_what_is_theirs_or_nobodys(self, client, outbox_dir, staff):
        cpo, handler = staff["cpo"]["headers"], staff["handler"]["headers"]
        mine, others, free = _open(client, outbox_dir, 3)
        _bulk(
            client,
            cpo,
            {"ids": [mine["id"]], "action": "assign", "assignee": "handler@example.com"},
        )
        _bulk(
            client,
            cpo,
            {"ids": [others["id"]], "action": "assign", "assignee": "handler2@example.com"},
        )
        answer = _bulk(
            client,
            handler,
            {"ids": [mine["id"], others["id"], free["id"]], "action": "assign", "assignee": "me"},
        )
        assert _outcomes(answer) == ["done", "refused", "done"]
        assert answer["results"][1]["problem"]["status"] == 403
        assert staff_read(client, cpo, others["id"])["assignee_id"] == staff["handler2"]["id"]
        # A handler may not give requests to someone else: each is refused, as singly.
        answer = _bulk(
            client,
            handler,
            {"ids": [free["id"]], "action": "assign", "assignee": "handler2@example.com"},
        )
        assert _outcomes(answer) == ["refused"]


class TestExtend:
    def test_one_extension_each_each_notified_and_a_second_is_refused(
        self, client, outbox_dir, staff
    ):
        cpo = staff["cpo"]["headers"]
        reqs = _open(client, outbox_dir, 3)
        ids = [r["id"] for r in reqs]
        _bulk(client, cpo, {"ids": ids, "action": "assign", "assignee": "me"})
        answer = _bulk(client, cpo, {"ids": ids, **EXTEND})
        assert _outcomes(answer) == ["done"] * 3
        for rid in ids:
            view = staff_read(client, cpo, rid)
            assert view["due_at"] == "2026-12-24T14:59:59Z"
            assert len(view["extensions"]) == 1
        notices = [m for m in read_outbox(outbox_dir) if m["template"] == "extended"]
        assert sorted(m["request_id"] for m in notices) == sorted(ids)
        # The same bulk again: the single route refuses a deadline that is not later (422).
        again = _bulk(client, cpo, {"ids": ids, **EXTEND})
        assert _outcomes(again) == ["refused"] * 3
        assert again["results"][0]["problem"]["errors"][0]["field"] == "due_at"
        assert len([m for m in read_outbox(outbox_dir) if m["template"] == "extended"]) == 3

    def test_a_closed_request_is_a_conflict_and_the_rest_go_on(self, client, outbox_dir, staff):
        cpo = staff["cpo"]["headers"]
        first, closed = _open(client, outbox_dir, 2)
        # Withdrawn by its subject: closed.
        created, token = verified(
            client, outbox_dir, subject={"name": "철회3", "email": "w3@example.com"}
        )
        assert (
            client.post(f"/v1/requests/{created['id']}/withdraw", headers=token).status_code == 200
        )
        answer = _bulk(client, cpo, {"ids": [first["id"], created["id"], closed["id"]], **EXTEND})
        assert _outcomes(answer) == ["done", "conflict", "done"]
        assert answer["results"][1]["problem"]["type"] == "/problems/illegal-transition"
        assert staff_read(client, cpo, created["id"])["extensions"] == []

    def test_versions_are_the_bulks_if_match(self, client, outbox_dir, staff):
        cpo = staff["cpo"]["headers"]
        a, b = _open(client, outbox_dir, 2)
        va = staff_read(client, cpo, a["id"])["version"]
        vb = staff_read(client, cpo, b["id"])["version"]
        answer = _bulk(
            client,
            cpo,
            {
                "ids": [a["id"], b["reference"]],
                "versions": {a["id"]: va, b["reference"]: vb - 1},
                **EXTEND,
            },
        )
        assert _outcomes(answer) == ["done", "conflict"]
        assert answer["results"][0]["version"] == va + 1
        assert answer["results"][1]["problem"]["status"] == 412
        assert answer["results"][1]["problem"]["version"] == vb
        assert staff_read(client, cpo, b["id"])["extensions"] == []


class TestVerify:
    def test_only_requests_staff_entered(self, client, staff):
        cpo = staff["cpo"]["headers"]
        letter = _offline(client, staff, "편지")
        phone = _offline(client, staff, "전화", channel="phone")
        portal = file_request(client)  # waits for its code
        answer = _bulk(
            client,
            staff["handler"]["headers"],
            {
                "ids": [letter["id"], portal["id"], phone["reference"]],
                "action": "verify",
                "outcome": "verified",
                "method": "id_card_in_person",
            },
        )
        assert _outcomes(answer) == ["done", "refused", "done"]
        problem = answer["results"][1]["problem"]
        assert problem["status"] == 422 and problem["errors"][0]["code"] == "not_staff_entered"
        assert staff_read(client, cpo, letter["id"])["status"] == "open"
        assert staff_read(client, cpo, phone["id"])["status"] == "open"
        assert staff_read(client, cpo, portal["id"])["status"] == "pending_verification"
        # Verified already: the lifecycle's 409.
        again = _bulk(
            client,
            cpo,
            {"ids": [letter["id"]], "action": "verify", "outcome": "verified", "method": "x"},
        )
        assert _outcomes(again) == ["conflict"]


class TestDecision:
    def test_by_each_plan_unless_it_keeps_something(self, client, outbox_dir, staff):
        cpo = staff["cpo"]["headers"]
        (access,) = _open(client, outbox_dir, 1, prefix="acc")
        (newsletter,) = _open(
            client,
            outbox_dir,
            1,
            prefix="news",
            type="deletion",
            scope={"categories": ["newsletter"]},
        )
        (account,) = _open(
            client, outbox_dir, 1, prefix="keep", type="deletion", scope={"categories": ["account"]}
        )
        (still_open,) = _open(client, outbox_dir, 1, prefix="open")
        ids = [access["id"], newsletter["id"], account["id"]]
        _bulk(client, cpo, {"ids": ids, "action": "assign", "assignee": "me"})
        answer = _bulk(client, cpo, {"ids": [*ids, still_open["id"]], "action": "decision"})
        assert _outcomes(answer) == ["done", "done", "refused", "conflict"]
        kept = answer["results"][2]["problem"]
        assert kept["errors"][0]["code"] == "plan_keeps" and kept["kept"] == ["account"]
        for rid in (access["id"], newsletter["id"]):
            view = staff_read(client, cpo, rid)
            assert view["status"] == "fulfilling"
            assert view["decisions"][0]["outcome"] == "granted"
        assert staff_read(client, cpo, account["id"])["status"] == "in_progress"
        decided = [m for m in read_outbox(outbox_dir) if m["template"] == "decision"]
        assert sorted(m["request_id"] for m in decided) == sorted(ids[:2])


class TestAccessAndValidation:
    def test_anonymous_401_auditor_and_subject_403(self, client, outbox_dir, staff):
        created, subject = verified(client, outbox_dir)
        body = {"ids": [created["id"]], **EXTEND}
        assert client.post(URL, json=body).status_code == 401
        assert client.post(URL, json=body, headers=staff["auditor"]["headers"]).status_code == 403
        assert client.post(URL, json=body, headers=subject).status_code == 403
        assert staff_read(client, staff["cpo"]["headers"], created["id"])["extensions"] == []

    @pytest.mark.parametrize(
        "body",
        [
            {"ids": [], **EXTEND},
            {"ids": [f"req_{i}" for i in range(501)], **EXTEND},
            {"ids": ["{a}", "{a}"], **EXTEND},
            {"ids": ["{ref}", "{ref_lower}"], **EXTEND},
            {"ids": ["{a}", "{ref}"], **EXTEND},  # an id and its own reference
            {"ids": ["{a}"], "action": "complete"},
            {"ids": ["{a}"], "action": "delete_everything"},
            {"ids": ["{a}"]},
            {"ids": ["{a}"], "versions": {"req_other": 1}, **EXTEND},
            {"ids": ["{a}"], "action": "extend", "reason": "x"},
            {"ids": ["{a}"], "action": "assign", "assignee": "me", "extra": 1},
            {"ids": ["{a}'; DROP TABLE request; --"], **EXTEND},
        ],
        ids=[
            "empty",
            "501",
            "twice",
            "reference-twice",
            "id-and-reference",
            "unknown-action",
            "made-up-action",
            "no-action",
            "version-of-unlisted",
            "extend-without-date",
            "unknown-field",
            "sql-looking",
        ],
    )
    def test_bad_bodies_are_422_and_change_nothing(self, client, outbox_dir, staff, body, request):
        field = {
            "empty": "ids",
            "501": "ids",
            "twice": "ids",
            "reference-twice": "ids",
            "id-and-reference": "ids",
            "unknown-action": "action",
            "made-up-action": "action",
            "no-action": "action",
            "version-of-unlisted": "versions",
            "extend-without-date": "due_at",
            "unknown-field": "extra",
            "sql-looking": "ids.0",
        }[request.node.callspec.id]
        cpo = staff["cpo"]["headers"]
        (a,) = _open(client, outbox_dir, 1)
        before = staff_read(client, cpo, a["id"])["version"]
        fill = {"{a}": a["id"], "{ref}": a["reference"], "{ref_lower}": a["reference"].lower()}

        def sub(v):
            if isinstance(v, str):
                for k, real in fill.items():
                    v = v.replace(k, real)
            return v

        body = {**body, "ids": [sub(i) for i in body["ids"]]}
        response = client.post(URL, headers=cpo, json=body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == field
        assert staff_read(client, cpo, a["id"])["version"] == before

    def test_five_hundred_is_accepted(self, client, outbox_dir, staff):
        (a,) = _open(client, outbox_dir, 1)
        ids = [a["id"], *(f"req_missing{i}" for i in range(499))]
        answer = _bulk(client, staff["cpo"]["headers"], {"ids": ids, **EXTEND})
        assert answer["counts"] == {"done": 1, "conflict": 0, "refused": 0, "not_found": 499}


def test_parallel_bulk_extends_extend_each_request_once(client, outbox_dir, staff, database_url):
    """8 staff sessions bulk-extend overlapping lists at once, each in its own order (so that
    one big transaction per call would lock rows in crossing orders while holding the access
    record's head): every request is extended exactly once, notified once, no 500."""
    cpo = staff["cpo"]["headers"]
    reqs = _open(client, outbox_dir, 12, prefix="race")
    ids = [r["id"] for r in reqs]
    _bulk(client, cpo, {"ids": ids, "action": "assign", "assignee": "me"})

    def lists(i: int) -> list[str]:
        chunk = ids[i : i + 8] + ids[: max(0, i + 8 - len(ids))]
        return chunk if i % 2 == 0 else list(reversed(chunk))

    def call(i: int):
        return client.post(URL, headers=cpo, json={"ids": lists(i), **EXTEND})

    responses = race(8, call)
    assert Counter(r.status_code for r in responses) == {200: 8}, [r.text for r in responses]
    outcomes = Counter(o["outcome"] for r in responses for o in r.json()["results"])
    assert set(outcomes) <= {"done", "conflict", "refused"}, outcomes
    assert outcomes["done"] == len({i for n in range(8) for i in lists(n)}) == len(ids)
    rows = sql_rows(
        database_url,
        "SELECT request_id, count(*) FROM extension GROUP BY request_id",
    )
    assert dict(rows) == dict.fromkeys(ids, 1)
    notices = [m for m in read_outbox(outbox_dir) if m["template"] == "extended"]
    assert Counter(m["request_id"] for m in notices) == dict.fromkeys(ids, 1)
    assert all(
        r.json()["counts"]["done"] + r.json()["counts"]["refused"] + r.json()["counts"]["conflict"]
        == 8
        for r in responses
    )
