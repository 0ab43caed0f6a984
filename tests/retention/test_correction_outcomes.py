"""A correction decision says, per corrected item, corrected or not and why (Art. 36(2);
`PIPA-36-2-accurate`)."""

from __future__ import annotations

import pytest

from tests.support import act, count_rows, in_progress, read_outbox, staff_read

SCOPE = {
    "categories": ["account", "newsletter"],
    "corrections": [
        {"item": "phone", "current": "010-1234-5678", "requested": "010-9999-0000"},
        {"item": "name", "requested": "홍길순"},
    ],
}


def _item(category, result, corrections, grounds=()):
    return {
        "category": category,
        "result": result,
        "grounds": list(grounds),
        "corrections": corrections,
    }


ACCURATE = ["PIPA-36-2-accurate"]


class TestCorrectionOutcomes:
    def test_partly_corrected_partly_found_accurate(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff, type="correction", scope=SCOPE).id
        body = {
            "outcome": "partially_granted",
            "grounds": ACCURATE,
            "items": [
                _item(
                    "account",
                    "granted",
                    [
                        {"item": "phone", "result": "corrected"},
                        {"item": "name", "result": "not_corrected", "grounds": ACCURATE},
                    ],
                ),
                _item(
                    "newsletter",
                    "refused",
                    [{"item": "name", "result": "not_corrected", "grounds": ACCURATE}],
                    ACCURATE,
                ),
            ],
            "explanation": "가족관계증명서로 성명을 확인한 결과 현재 등록된 성명이 정확합니다.\n"
            "We checked the name against the family relation certificate: it is accurate.",
        }
        view = act(client, staff["handler"]["headers"], rid, "decision", body)
        assert view["status"] == "fulfilling"
        items = view["decisions"][0]["items"]
        assert items[0]["corrections"] == [
            {"item": "phone", "result": "corrected", "grounds": []},
            {"item": "name", "result": "not_corrected", "grounds": ACCURATE},
        ]
        notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "decision")
        assert "개인정보 보호법 제36조제2항" in notice["text"]

    def test_all_found_accurate_is_a_refusal(self, client, outbox_dir, staff):
        rid = in_progress(
            client,
            outbox_dir,
            staff,
            scope={"categories": ["account"], "corrections": [{"item": "phone", "requested": "1"}]},
            type="correction",
        ).id
        body = {
            "outcome": "refused",
            "grounds": ACCURATE,
            "items": [
                _item(
                    "account",
                    "refused",
                    [{"item": "phone", "result": "not_corrected", "grounds": ACCURATE}],
                    ACCURATE,
                )
            ],
            "explanation": "조사한 결과 등록된 전화번호가 정확합니다. / It is accurate.",
        }
        view = act(client, staff["handler"]["headers"], rid, "decision", body)
        assert view["status"] == "refused"

    @pytest.mark.parametrize(
        ("corrections", "result", "code", "field"),
        [
            # Not among the items asked for.
            (
                [{"item": "email", "result": "corrected"}],
                "granted",
                "not_requested",
                "items.0.corrections.0.item",
            ),
            # Asked, but the category does not hold it.
            (
                [{"item": "phone", "result": "corrected"}],
                "granted",
                "not_in_category",
                "items.0.corrections.0.item",
            ),
            # Not corrected without a ground.
            (
                [{"item": "name", "result": "not_corrected"}],
                "refused",
                "invalid_ground",
                "items.0.corrections.0.grounds",
            ),
            # A ground that is not for corrections.
            (
                [{"item": "name", "result": "not_corrected", "grounds": ["PIPA-36-1-proviso"]}],
                "refused",
                "invalid_ground",
                "items.0.corrections.0.grounds",
            ),
            # Corrected, yet with a ground.
            (
                [{"item": "name", "result": "corrected", "grounds": ACCURATE}],
                "granted",
                "not_for_grant",
                "items.0.corrections.0.grounds",
            ),
            # The category result contradicts its items.
            (
                [{"item": "name", "result": "corrected"}],
                "refused",
                "contradicts_corrections",
                "items.0.result",
            ),
            (
                [{"item": "name", "result": "corrected"}, {"item": "name", "result": "corrected"}],
                "granted",
                "duplicate",
                "items.0.corrections.1.item",
            ),
        ],
    )
    def test_bad_item_results_are_422_and_change_nothing(
        self, client, outbox_dir, staff, database_url, corrections, result, code, field
    ):
        rid = in_progress(client, outbox_dir, staff, type="correction", scope=SCOPE).id
        before = staff_read(client, staff["cpo"]["headers"], rid)
        grounds = ACCURATE if result == "refused" else []
        body = {
            "outcome": "refused" if result == "refused" else "granted",
            "grounds": grounds,
            "items": [_item("newsletter", result, corrections, grounds)],
            "explanation": "결정합니다.",
        }
        problem = act(client, staff["handler"]["headers"], rid, "decision", body, expect=422)
        assert any(e["code"] == code and e["field"] == field for e in problem["errors"]), problem
        after = staff_read(client, staff["cpo"]["headers"], rid)
        assert after["version"] == before["version"] and after["decisions"] == []
        assert count_rows(database_url, "decision") == 0

    @pytest.mark.parametrize(
        "correction",
        [
            {"item": "name", "result": "fixed"},
            {"item": "name"},
            {"item": "name", "result": "corrected", "why": "x"},
            {"item": "", "result": "corrected"},
            {"item": "n" * 101, "result": "corrected"},
            {"item": "name\x00", "result": "corrected"},
        ],
    )
    def test_malformed_item_result_is_422(self, client, outbox_dir, staff, correction):
        rid = in_progress(client, outbox_dir, staff, type="correction", scope=SCOPE).id
        body = {
            "outcome": "granted",
            "items": [_item("newsletter", "granted", [correction])],
            "explanation": "정정합니다.",
        }
        problem = act(client, staff["handler"]["headers"], rid, "decision", body, expect=422)
        assert problem["status"] == 422

    def test_item_results_only_on_a_correction(self, client, outbox_dir, staff):
        rid = in_progress(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        ).id
        body = {
            "outcome": "granted",
            "items": [_item("newsletter", "granted", [{"item": "name", "result": "corrected"}])],
            "explanation": "삭제합니다.",
        }
        problem = act(client, staff["handler"]["headers"], rid, "decision", body, expect=422)
        assert [e["code"] for e in problem["errors"]] == ["not_for_type"]

    def test_accurate_is_not_a_ground_to_refuse_deletion(self, client, outbox_dir, staff):
        rid = in_progress(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        ).id
        body = {"outcome": "refused", "grounds": ACCURATE, "explanation": "거부합니다."}
        problem = act(client, staff["handler"]["headers"], rid, "decision", body, expect=422)
        assert problem["type"] == "/problems/invalid-grounds"

    def test_registry_lists_the_new_ground(self, client, staff):
        body = client.get("/v1/staff/grounds", headers=staff["auditor"]["headers"]).json()
        ground = next(g for g in body["items"] if g["code"] == "PIPA-36-2-accurate")
        assert ground["applies_to"] == ["correction"]
        assert ground["article_ko"] == "개인정보 보호법 제36조제2항"
