"""POST/DELETE /v1/staff/requests/{id}/holds: keep a category while an investigation or a
debt lasts (policy Art. 3)."""

from __future__ import annotations

import pytest

from tests.support import act, count_rows, in_progress, staff_read

HOLD = {"category": "newsletter", "kind": "investigation", "note": "경찰 수사 협조 요청 2026-11호"}

# The request these tests hold data of, unless one says otherwise.
DELETION = {"type": "deletion", "scope": {"categories": ["newsletter", "payment"]}}


def _hold(client, headers, rid, body=HOLD, version=None, expect=201):
    if version is None:
        version = staff_read(client, headers, rid)["version"]
    response = client.post(
        f"/v1/staff/requests/{rid}/holds", json=body, headers={**headers, "If-Match": str(version)}
    )
    assert response.status_code == expect, response.text
    return response.json()


def _release(client, headers, rid, hold_id, version=None, expect=200):
    if version is None:
        version = staff_read(client, headers, rid)["version"]
    response = client.delete(
        f"/v1/staff/requests/{rid}/holds/{hold_id}", headers={**headers, "If-Match": str(version)}
    )
    assert response.status_code == expect, response.text
    return response.json()


def _plan(client, headers, rid):
    return client.get(f"/v1/staff/requests/{rid}/plan", headers=headers).json()


class TestAuth:
    def test_anonymous_subject_auditor_other_handler_missing_and_stale(
        self, client, outbox_dir, staff, database_url
    ):
        filed = in_progress(client, outbox_dir, staff, **DELETION)
        rid, subject = filed.id, filed.subject
        url = f"/v1/staff/requests/{rid}/holds"
        version = staff_read(client, staff["cpo"]["headers"], rid)["version"]
        assert client.post(url, json=HOLD).status_code == 401
        assert client.delete(f"{url}/hld_x").status_code == 401
        for headers in (subject, staff["auditor"]["headers"]):
            response = client.post(url, json=HOLD, headers={**headers, "If-Match": str(version)})
            assert response.status_code == 403
        other = client.post(
            url, json=HOLD, headers={**staff["handler2"]["headers"], "If-Match": str(version)}
        )
        assert other.status_code == 403
        missing = client.post(url, json=HOLD, headers=staff["cpo"]["headers"])
        assert missing.status_code == 428
        stale = client.post(
            url, json=HOLD, headers={**staff["cpo"]["headers"], "If-Match": str(version - 1)}
        )
        assert stale.status_code == 412
        unknown = client.post(
            "/v1/staff/requests/req_nope/holds",
            json=HOLD,
            headers={**staff["cpo"]["headers"], "If-Match": "1"},
        )
        assert unknown.status_code == 404
        assert count_rows(database_url, "hold") == 0


class TestHold:
    def test_hold_changes_plan_decision_and_version_then_release(
        self, client, outbox_dir, staff, database_url
    ):
        filed = in_progress(client, outbox_dir, staff, **DELETION)
        rid, subject = filed.id, filed.subject
        h = staff["handler"]["headers"]
        before = staff_read(client, h, rid)
        hold = _hold(client, h, rid)
        assert hold["category"] == "newsletter" and hold["kind"] == "investigation"
        assert hold["note_given"] is True and "note" not in hold
        assert hold["created_by"] and hold["released_at"] is None
        after = staff_read(client, h, rid)
        assert after["version"] == before["version"] + 1
        assert after["timeline"][-1]["kind"] == "plan.changed"
        # The note is sealed at rest.
        from sqlalchemy import create_engine, text

        engine = create_engine(database_url)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT note_enc FROM hold")).scalar_one()
        engine.dispose()
        assert "수사" not in stored
        # The subject's timeline shows nothing that could tip off an investigation.
        public = client.get(f"/v1/requests/{rid}", headers=subject).json()
        assert "investigation" not in str(public) and "hold" not in str(public.get("timeline"))

        plan = _plan(client, h, rid)
        assert [
            (i["category"], i["system"], i["action"], i["hold_id"])
            for i in plan["items"]
            if i["category"] == "newsletter"
        ] == [("newsletter", "stibee", "hold", hold["id"])]
        assert plan["decision"]["outcome"] == "refused"
        grant_newsletter = {
            "outcome": "partially_granted",
            "grounds": ["PIPA-36-1-proviso"],
            "items": [
                {"category": "newsletter", "result": "granted"},
                {"category": "payment", "result": "refused", "grounds": ["PIPA-36-1-proviso"]},
            ],
            "explanation": "뉴스레터 정보는 삭제합니다.",
        }
        problem = act(client, h, rid, "decision", grant_newsletter, expect=422)
        (error,) = [e for e in problem["errors"] if e["code"] == "held"]
        assert error["field"] == "items.0.result" and "newsletter" in error["message"]

        released = _release(client, h, rid, hold["id"])
        assert released["released_at"] and released["released_by"]
        assert staff_read(client, h, rid)["version"] == after["version"] + 1
        plan = _plan(client, h, rid)
        assert ("newsletter", "delete") in [(i["category"], i["action"]) for i in plan["items"]]
        view = act(client, h, rid, "decision", grant_newsletter)
        assert view["status"] == "fulfilling"
        # Twice released: 409; unknown hold: 404.
        _release(client, h, rid, hold["id"], expect=409)
        _release(client, h, rid, "hld_nope", expect=404)

    def test_decision_records_the_hold(self, client, outbox_dir, staff):
        rid = in_progress(
            client, outbox_dir, staff, scope={"categories": ["newsletter"]}, type="deletion"
        ).id
        h = staff["handler"]["headers"]
        hold = _hold(client, h, rid, {**HOLD, "kind": "debt"})
        decision = _plan(client, h, rid)["decision"]
        view = act(client, h, rid, "decision", decision)
        (item,) = view["decisions"][0]["items"]
        assert item["result"] == "refused" and item["rule"] == "debt"
        assert item["rules"][0]["hold_id"] == hold["id"]
        assert item["retain_until"] is None and item["law_ko"] is None

    def test_duplicate_hold_is_409_and_another_kind_is_fine(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff, **DELETION).id
        h = staff["cpo"]["headers"]
        _hold(client, h, rid)
        version = staff_read(client, h, rid)["version"]
        _hold(client, h, rid, version=version, expect=409)
        assert staff_read(client, h, rid)["version"] == version
        _hold(client, h, rid, {**HOLD, "kind": "debt"}, version=version)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({**HOLD, "kind": "forever"}, "kind"),
            ({**HOLD, "category": "account"}, "category"),  # not in this request's scope
            ({**HOLD, "category": "'; DROP TABLE hold;--"}, "category"),
            ({**HOLD, "note": ""}, "note"),
            ({**HOLD, "note": "x" * 2001}, "note"),
            ({**HOLD, "note": "a\x00b"}, None),
            ({**HOLD, "extra": 1}, "extra"),
            ({"category": "newsletter", "kind": "debt"}, "note"),
            ({**HOLD, "kind": 3}, "kind"),
        ],
    )
    def test_bad_input_is_422_and_changes_nothing(
        self, client, outbox_dir, staff, database_url, body, field
    ):
        rid = in_progress(client, outbox_dir, staff, **DELETION).id
        h = staff["cpo"]["headers"]
        version = staff_read(client, h, rid)["version"]
        problem = _hold(client, h, rid, body, version=version, expect=422)
        assert problem["status"] == 422
        if field:
            assert any(e["field"] == field for e in problem["errors"]), problem
        assert count_rows(database_url, "hold") == 0
        assert staff_read(client, h, rid)["version"] == version

    def test_malformed_json_is_4xx(self, client, outbox_dir, staff, database_url):
        rid = in_progress(client, outbox_dir, staff, **DELETION).id
        h = staff["cpo"]["headers"]
        version = staff_read(client, h, rid)["version"]
        response = client.post(
            f"/v1/staff/requests/{rid}/holds",
            content=b"{not json",
            headers={**h, "If-Match": str(version), "Content-Type": "application/json"},
        )
        assert response.status_code == 422
        assert count_rows(database_url, "hold") == 0

    def test_only_deletion_or_suspension_and_only_before_the_decision(
        self, client, outbox_dir, staff, database_url
    ):
        rid = in_progress(
            client, outbox_dir, staff, type="access", scope={"categories": ["newsletter"]}
        ).id
        h = staff["cpo"]["headers"]
        assert _hold(client, h, rid, expect=409)["status"] == 409
        rid = in_progress(
            client, outbox_dir, staff, scope={"categories": ["newsletter"]}, type="deletion"
        ).id
        act(client, h, rid, "decision", _plan(client, h, rid)["decision"])
        problem = _hold(client, h, rid, expect=409)
        assert problem["type"] == "/problems/illegal-transition"
        assert count_rows(database_url, "hold") == 0

    def test_a_hold_after_decision_can_still_be_released(self, client, outbox_dir, staff):
        rid = in_progress(
            client, outbox_dir, staff, scope={"categories": ["newsletter"]}, type="deletion"
        ).id
        h = staff["cpo"]["headers"]
        hold = _hold(client, h, rid)
        act(client, h, rid, "decision", _plan(client, h, rid)["decision"])
        assert staff_read(client, h, rid)["status"] == "refused"
        assert _release(client, h, rid, hold["id"])["released_at"]

    def test_hold_of_another_request_is_404(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff, **DELETION).id
        other = in_progress(client, outbox_dir, staff, **DELETION).id
        h = staff["cpo"]["headers"]
        hold = _hold(client, h, rid)
        _release(client, h, other, hold["id"], expect=404)

    def test_korean_note_and_sql_text_are_kept_as_given(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff, **DELETION).id
        h = staff["cpo"]["headers"]
        hold = _hold(client, h, rid, {**HOLD, "note": "미수금 ₩120,000 — '; DROP TABLE hold;--"})
        assert hold["note_given"] is True
