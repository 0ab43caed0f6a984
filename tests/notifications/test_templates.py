"""Notice templates: both languages, legal grounds quoted, objection route, StrictUndefined.

Renders the extension, decision, completion, rejection and objection-received notices through
`app.notifications.render.render` with contexts shaped like `app.requests.notices.request_context`.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2 import meta

from app.law.rights import RIGHTS, RequestType
from app.notifications.render import SEPARATOR, render

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "app" / "notifications" / "templates"
TYPES = ["access", "correction", "deletion", "suspension"]
OUTCOMES = ["granted", "partially_granted", "refused"]
NAME = "홍길동"
REFERENCE = "RD-2026-000042"

# Keys of request_context shared by every notice.
COMMON_KEYS = {
    "company",
    "name",
    "reference",
    "right",
    "right_article_ko",
    "decree_ko",
    "received_ko",
    "received_en",
    "due_ko",
    "due_en",
    "type",
    "portal_url",
}

# Exactly the top-level context keys each template (ko and en together) reads.
USES: dict[str, set[str]] = {
    "extended": {
        "company",
        "name",
        "reference",
        "right",
        "right_article_ko",
        "decree_ko",
        "received_ko",
        "received_en",
        "type",
        "previous_due_ko",
        "previous_due_en",
        "new_due_ko",
        "new_due_en",
        "reason",
        "extension_number",
        "max_extensions",
        "objection_until_ko",
        "objection_until_en",
        "portal_url",
    },
    "decision": {
        "company",
        "name",
        "reference",
        "right",
        "right_article_ko",
        "decree_ko",
        "received_ko",
        "received_en",
        "type",
        "outcome",
        "grounds",
        "items",
        "explanation",
        "decided_ko",
        "decided_en",
        "objection_until_ko",
        "objection_until_en",
        "portal_url",
        "automated",
    },
    "completed": {
        "company",
        "name",
        "reference",
        "right",
        "right_article_ko",
        "received_ko",
        "received_en",
        "type",
        "completed_ko",
        "completed_en",
        "items",
        "portal_url",
        "result",
        "automated",
    },
    "rejected": {
        "company",
        "name",
        "reference",
        "right",
        "right_article_ko",
        "received_ko",
        "received_en",
        "grounds",
        "objection_until_ko",
        "objection_until_en",
        "portal_url",
    },
    "objection_received": {
        "company",
        "name",
        "reference",
        "right",
        "right_article_ko",
        "filed_ko",
        "filed_en",
        "new_due_ko",
        "new_due_en",
        "portal_url",
        "objection_kind",
    },
}

GROUND_35_4_1 = {
    "code": "PIPA-35-4-1",
    "article_ko": "개인정보 보호법 제35조제4항제1호",
    "article_en": "PIPA Art. 35(4)(1)",
    "text_ko": "법률에 따라 열람이 금지되거나 제한되는 경우",
    "text_en": "a statute forbids or limits access",
}
GROUND_35_4_2 = {
    "code": "PIPA-35-4-2",
    "article_ko": "개인정보 보호법 제35조제4항제2호",
    "article_en": "PIPA Art. 35(4)(2)",
    "text_ko": "다른 사람의 생명·신체를 해할 우려가 있거나 다른 사람의 재산과 그 밖의 이익을 "
    "부당하게 침해할 우려가 있는 경우",
    "text_en": "access may harm another person's life or body, or unfairly harm another "
    "person's property or other interests",
}
GROUND_36_1 = {
    "code": "PIPA-36-1-proviso",
    "article_ko": "개인정보 보호법 제36조제1항 단서",
    "article_en": "PIPA Art. 36(1) proviso",
    "text_ko": "다른 법령에서 그 개인정보가 수집 대상으로 명시되어 있는 경우",
    "text_en": "another law names the personal information as information to be collected",
}
GROUND_37_2_1 = {
    "code": "PIPA-37-2-1",
    "article_ko": "개인정보 보호법 제37조제2항제1호",
    "article_en": "PIPA Art. 37(2)(1)",
    "text_ko": "법률에 특별한 규정이 있거나 법령상 의무를 준수하기 위하여 불가피한 경우",
    "text_en": "a law specifically provides for the processing, or it is unavoidable to meet a "
    "legal duty",
}
GROUND_IDENTITY = {
    "code": "PIPA-38-identity",
    "article_ko": "개인정보 보호법 제38조, 시행령 제46조",
    "article_en": "PIPA Art. 38; Decree Art. 46",
    "text_ko": "요구한 사람이 정보주체 본인이거나 정당한 대리인임을 확인할 수 없는 경우",
    "text_en": "the requester's identity or authority to act could not be confirmed",
}
# The grounds a refusal of each type cites (correction has none of its own in the registry;
# a sample is enough for rendering).
GROUNDS_BY_TYPE = {
    "access": [GROUND_35_4_1, GROUND_35_4_2],
    "correction": [GROUND_35_4_1],
    "deletion": [GROUND_36_1],
    "suspension": [GROUND_37_2_1],
}

OBJECTION_UNTIL_KO = "2026년 12월 31일(목)"
OBJECTION_UNTIL_EN = "Thursday 31 December 2026"
REASON = "요청하신 자료가 외부 결제대행사 시스템에 보관되어 있어 확인에 시간이 필요합니다.\nThe records are held by our payment processor."
EXPLANATION = (
    "결제 기록은 전자상거래법에 따라 5년간 보관합니다.\nPayment records are kept for 5 years."
)


def base_context(type: str = "access", *, phone: str | None = "02-0000-0000") -> dict[str, Any]:
    """The part every notice gets (app.requests.notices.request_context)."""
    right = RIGHTS[RequestType(type)]
    return {
        "company": {
            "name_ko": "레퍼런스 주식회사",
            "name_en": "Reference Inc.",
            "privacy_officer": {
                "title_ko": "개인정보 보호책임자",
                "title_en": "Chief Privacy Officer",
                "email": "privacy@example.com",
                "phone": phone,
            },
        },
        "name": NAME,
        "reference": REFERENCE,
        "right": right,
        "right_article_ko": right.article.replace("PIPA Art. ", "개인정보 보호법 제") + "조",
        "decree_ko": right.decree.replace("Decree Art. ", "제").replace("(", "조제").rstrip(")")
        + "항",
        "received_ko": "2026년 12월 1일(화) 10:00",
        "received_en": "Tuesday 1 December 2026, 10:00",
        "due_ko": "2026년 12월 11일(금)",
        "due_en": "Friday 11 December 2026",
        "type": type,
        "portal_url": f"https://portal.example.com/requests/{REFERENCE}",
    }


def extended_context(type: str = "access") -> dict[str, Any]:
    return {
        **base_context(type),
        "previous_due_ko": "2026년 12월 11일(금)",
        "previous_due_en": "Friday 11 December 2026",
        "new_due_ko": "2026년 12월 21일(월)",
        "new_due_en": "Monday 21 December 2026",
        "reason": REASON,
        "extension_number": 1,
        "max_extensions": 2 if type == "automated_decision" else None,
        "objection_until_ko": OBJECTION_UNTIL_KO,
        "objection_until_en": OBJECTION_UNTIL_EN,
    }


def decision_context(type: str = "access", outcome: str = "partially_granted") -> dict[str, Any]:
    grounds = [] if outcome == "granted" else copy.deepcopy(GROUNDS_BY_TYPE[type])
    if outcome == "granted":
        items = [
            {"name_ko": "회원 계정", "name_en": "Account", "result": "granted", "grounds": []},
        ]
    elif outcome == "partially_granted":
        items = [
            {"name_ko": "회원 계정", "name_en": "Account", "result": "granted", "grounds": []},
            {"name_ko": "결제 정보", "name_en": "Payment", "result": "refused", "grounds": grounds},
        ]
    else:
        items = [
            {"name_ko": "결제 정보", "name_en": "Payment", "result": "refused", "grounds": grounds},
        ]
    return {
        **base_context(type),
        "outcome": outcome,
        "grounds": grounds,
        "items": items,
        "explanation": EXPLANATION,
        "decided_ko": "2026년 12월 8일(화)",
        "decided_en": "Tuesday 8 December 2026",
        "objection_until_ko": OBJECTION_UNTIL_KO,
        "objection_until_en": OBJECTION_UNTIL_EN,
        "automated": None,
    }


def completed_context(type: str = "deletion") -> dict[str, Any]:
    return {
        **base_context(type),
        # Where and until when an access result can be downloaded (None for other types).
        "result": {
            "url": f"https://portal.example.com/requests/{REFERENCE}",
            "until_ko": "2027년 1월 8일(금) 15:30",
            "until_en": "Friday 8 January 2027, 15:30",
        }
        if type == "access"
        else None,
        "completed_ko": "2026년 12월 9일(수) 15:30",
        "completed_en": "Wednesday 9 December 2026, 15:30",
        "items": [
            {"name_ko": "뉴스레터", "name_en": "Newsletter"},
            {"name_ko": "이벤트·프로모션", "name_en": "Events and promotions"},
        ],
        "automated": None,
    }


def rejected_context(type: str = "access") -> dict[str, Any]:
    return {
        **base_context(type),
        "grounds": [dict(GROUND_IDENTITY)],
        "objection_until_ko": OBJECTION_UNTIL_KO,
        "objection_until_en": OBJECTION_UNTIL_EN,
    }


def objection_received_context(type: str = "access") -> dict[str, Any]:
    return {
        **base_context(type),
        "filed_ko": "2026년 12월 10일(목) 09:15",
        "filed_en": "Thursday 10 December 2026, 09:15",
        "new_due_ko": "2026년 12월 24일(목)",
        "new_due_en": "Thursday 24 December 2026",
        "objection_kind": "decision",
    }


BUILDERS = {
    "extended": extended_context,
    "decision": decision_context,
    "completed": completed_context,
    "rejected": rejected_context,
    "objection_received": objection_received_context,
}


def _parts(template: str, ctx: dict[str, Any]) -> tuple[str, str]:
    """Render for `ko` and check the frame; return the Korean and the English body."""
    ko = render(template, "ko", ctx)
    en = render(template, "en", ctx)
    for r in (ko, en):
        assert r.subject.strip()
        assert REFERENCE in r.subject
        assert " / " in r.subject
        assert "{{" not in r.subject + r.text and "}}" not in r.subject + r.text
        assert "{%" not in r.text and "%}" not in r.text
        assert r.text.count(SEPARATOR) == 1
    ko_body, en_body = ko.text.split(SEPARATOR)
    en_first, ko_second = en.text.split(SEPARATOR)
    # Korean first for `ko`, English first for `en`; the same two bodies either way.
    assert ko_body.startswith(f"{NAME} 님께")
    assert en_body.startswith(f"Dear {NAME},")
    assert en_first.strip() == en_body.strip() and ko_second.strip() == ko_body.strip()
    assert ko.subject.startswith("[") and re.search(r"[가-힣]", ko.subject.split(" / ")[0])
    assert not re.search(r"[가-힣]", en.subject.split(" / ")[0])
    assert REFERENCE in ko_body and REFERENCE in en_body
    return ko_body, en_body


def _assert_grounds(ko: str, en: str, grounds: list[dict[str, str]]) -> None:
    assert grounds
    for g in grounds:
        assert f"{g['article_ko']}: {g['text_ko']}" in ko
        assert f"{g['article_en']}: {g['text_en']}" in en


def _assert_objection(ko: str, en: str, ctx: dict[str, Any]) -> None:
    email = ctx["company"]["privacy_officer"]["email"]
    assert f"{ctx['objection_until_ko']}까지" in ko and "이의제기" in ko and "포털" in ko
    assert "서면 또는 전자우편" in ko and email in ko and "제38조제5항" in ko
    assert ctx["objection_until_en"] in en and "object" in en and "portal" in en
    assert "in writing, including by e-mail" in en and email in en and "38(5)" in en


def _assert_free_text_indented(body: str, text: str) -> None:
    for line in text.splitlines():
        assert f"\n    {line}\n" in body


# --- the sources ---


@pytest.mark.parametrize("template", sorted(USES))
def test_template_reads_exactly_the_documented_keys(template):
    env = jinja2.Environment()
    found: set[str] = set()
    for locale in ("ko", "en"):
        source = (TEMPLATES_DIR / f"{template}.{locale}.j2").read_text(encoding="utf-8")
        assert not re.search(r"\d{6}", source), "no six-digit numbers outside variables"
        found |= meta.find_undeclared_variables(env.parse(source))
    assert found == USES[template]
    assert USES[template] - COMMON_KEYS <= set(BUILDERS[template]()) - COMMON_KEYS


@pytest.mark.parametrize("template", sorted(USES))
def test_every_used_key_is_required(template):
    # A context in which every branch that reads a key is taken: a decision with something
    # refused reads objection_until; an extension of a non-access request reads decree_ko.
    ctx = extended_context("correction") if template == "extended" else BUILDERS[template]()
    # Only the documented keys are enough...
    for locale in ("ko", "en"):
        render(template, locale, {k: ctx[k] for k in USES[template]})
    # ...and each one is needed (StrictUndefined).
    for key in sorted(USES[template]):
        partial = {k: v for k, v in ctx.items() if k != key}
        with pytest.raises(jinja2.UndefinedError):
            render(template, "ko", partial)


def test_missing_nested_key_raises():
    ctx = decision_context("deletion", "refused")
    del ctx["company"]["privacy_officer"]["email"]
    with pytest.raises(jinja2.UndefinedError):
        render("decision", "en", ctx)
    ctx = decision_context("access", "refused")
    del ctx["grounds"][0]["text_ko"]
    with pytest.raises(jinja2.UndefinedError):
        render("decision", "ko", ctx)


def test_decision_refused_needs_objection_until():
    ctx = decision_context("access", "refused")
    del ctx["objection_until_en"]
    with pytest.raises(jinja2.UndefinedError):
        render("decision", "ko", ctx)


def test_unknown_type_raises():
    ctx = decision_context("access", "granted")
    ctx["type"] = "portability"
    with pytest.raises(jinja2.UndefinedError):
        render("decision", "ko", ctx)


# --- extended ---


@pytest.mark.parametrize("type", TYPES)
def test_extended(type):
    ctx = extended_context(type)
    ko, en = _parts("extended", ctx)
    _assert_free_text_indented(ko, REASON)
    _assert_free_text_indented(en, REASON)
    assert "2026년 12월 11일(금)" in ko and "2026년 12월 21일(월)까지" in ko
    assert "Friday 11 December 2026" in en and "Monday 21 December 2026" in en
    _assert_objection(ko, en, ctx)
    if type == "access":
        assert "제35조제3항" in ko and "시행령 제42조제2항" in ko
        assert "Art. 35(3)" in en and "Decree Art. 42(2)" in en
    else:  # Art. 35(3) is about access only
        assert "제35조제3항" not in ko and "35(3)" not in en
        assert ctx["decree_ko"] in ko and ctx["right"].decree in en


# --- decision ---


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("type", TYPES)
def test_decision(type, outcome):
    ctx = decision_context(type, outcome)
    ko, en = _parts("decision", ctx)
    subject = render("decision", "ko", ctx).subject
    _assert_free_text_indented(ko, EXPLANATION)
    _assert_free_text_indented(en, EXPLANATION)
    assert ctx["decided_ko"] in ko and ctx["decided_en"] in en
    label_ko = {"granted": "전부 인용", "partially_granted": "일부 인용", "refused": "거절"}
    label_en = {"granted": "granted in full", "partially_granted": "granted in part"}
    assert f"결정 내용: {label_ko[outcome]}" in ko
    assert f"Decision: {label_en.get(outcome, 'refused')}" in en
    if type == "access":
        assert subject.startswith("[개인정보 열람")
    else:
        assert "처리 결과 통지" in subject
    if outcome == "granted":
        assert ctx["objection_until_ko"] not in ko and ctx["objection_until_en"] not in en
        assert "받아들이지 않음" not in ko and "refused" not in en
    else:
        _assert_grounds(ko, en, ctx["grounds"])
        _assert_objection(ko, en, ctx)
    # Per-item results.
    for item in ctx["items"]:
        articles_ko = ", ".join(g["article_ko"] for g in item["grounds"])
        articles_en = ", ".join(g["article_en"] for g in item["grounds"])
        if item["result"] == "granted":
            assert f"  - {item['name_ko']}: 받아들임\n" in ko
            assert f"  - {item['name_en']}: granted\n" in en
        else:
            assert f"  - {item['name_ko']}: 받아들이지 않음({articles_ko})\n" in ko
            assert f"  - {item['name_en']}: refused ({articles_en})\n" in en
    # What happens next.
    if outcome != "refused":
        if type == "access":
            assert "포털에서 열람하실 수 있도록 준비하여 알려 드립니다" in ko
            assert "portal" in en
        else:
            assert "수탁자" in ko and "처리 완료 통지" in ko
            assert "processor" in en and "completion notice" in en
    else:
        assert "준비하여" not in ko and "completion notice" not in en
    if type == "deletion" and outcome != "refused":
        assert "복구 또는 재생되지 아니하도록" in ko and "36(3)" in en


def test_decision_cites_the_right_decree_article():
    ko, en = _parts("decision", decision_context("access", "refused"))
    assert "시행령 제42조제2항에 따라" in ko and "(Decree Art. 42(2))" in en
    assert (
        "[개인정보 열람 거절 통지]"
        in render("decision", "ko", decision_context("access", "refused")).subject
    )
    ko, en = _parts("decision", decision_context("access", "partially_granted"))
    assert "시행령 제41조제4항에 따라" in ko and "(Decree Art. 41(4))" in en
    assert "제42조제1항" in ko and "42(1)" in en
    ko, en = _parts("decision", decision_context("suspension", "granted"))
    assert "시행령 제44조제2항에 따라" in ko and "(Decree Art. 44(2))" in en


def test_decision_grounds_from_items_are_quoted_once():
    ctx = decision_context("access", "partially_granted")
    ctx["grounds"] = [GROUND_35_4_1]
    ctx["items"][1]["grounds"] = [GROUND_35_4_1, GROUND_35_4_2]
    ko, en = _parts("decision", ctx)
    _assert_grounds(ko, en, [GROUND_35_4_1, GROUND_35_4_2])
    assert ko.count(GROUND_35_4_1["text_ko"]) == 1 and en.count(GROUND_35_4_1["text_en"]) == 1


def test_decision_without_items_or_explanation():
    ctx = decision_context("deletion", "refused")
    ctx["items"] = []
    ctx["explanation"] = ""
    ko, en = _parts("decision", ctx)
    assert "항목별 결정" not in ko and "Results by item" not in en
    assert "상세 설명" not in ko and "Explanation" not in en
    _assert_grounds(ko, en, ctx["grounds"])
    _assert_objection(ko, en, ctx)
    assert "\n\n\n" not in ko and "\n\n\n" not in en


# --- completed ---


@pytest.mark.parametrize("type", TYPES)
def test_completed(type):
    ctx = completed_context(type)
    ko, en = _parts("completed", ctx)
    assert ctx["completed_ko"] in ko and ctx["completed_en"] in en
    for item in ctx["items"]:
        assert f"  - {item['name_ko']}\n" in ko and f"  - {item['name_en']}\n" in en
    done_ko = {
        "access": "열람을 제공하였습니다",
        "correction": "정정하였습니다",
        "deletion": "복구 또는 재생되지 아니하도록 파기(삭제)하였습니다",
        "suspension": "처리를 정지하였습니다",
    }
    done_en = {
        "access": "given you access",
        "correction": "corrected",
        "deletion": "cannot be recovered or reconstructed",
        "suspension": "suspended the processing",
    }
    assert done_ko[type] in ko and done_en[type] in en
    if type == "access":
        assert "수탁자" not in ko and "processor" not in en
    else:
        assert "수탁자에게도 같은 조치를 하도록 지시하였습니다" in ko
        assert "instructed" in en
    if type == "deletion":
        assert "제36조제2항·제3항" in ko and "36(2) and (3)" in en
    if type == "access":  # where, in which formats and until when the result can be had
        assert "2027년 1월 8일(금) 15:30까지 내려받으실 수 있으며" in ko
        assert "JSON, CSV" in ko and "시행령 제41조제1항" in ko
        assert "until Friday 8 January 2027, 15:30 (Korea time)" in en and "ZIP" in en
    else:
        assert "열람 결과" not in ko and "download it" not in en
    assert "privacy@example.com" in ko and "privacy@example.com" in en


def test_completed_without_items_or_phone():
    ctx = {**completed_context("correction"), "items": []}
    ctx["company"] = base_context(phone=None)["company"]
    ko, en = _parts("completed", ctx)
    assert "대상 개인정보" not in ko and "Personal information concerned" not in en
    assert "전화" not in ko and "None" not in ko + en
    assert "\n\n\n" not in ko and "\n\n\n" not in en


# --- rejected ---


@pytest.mark.parametrize("type", TYPES)
def test_rejected(type):
    ctx = rejected_context(type)
    ko, en = _parts("rejected", ctx)
    _assert_grounds(ko, en, ctx["grounds"])
    _assert_objection(ko, en, ctx)
    assert "시행령 제46조" in ko and "Decree Art. 46" in en
    assert "다시 요구하실 수 있습니다" in ko and "file the request again" in en
    assert "위임장" in ko and "power of attorney" in en


# --- objection received ---


@pytest.mark.parametrize("type", TYPES)
def test_objection_received(type):
    ctx = objection_received_context(type)
    ko, en = _parts("objection_received", ctx)
    assert ctx["filed_ko"] in ko and ctx["filed_en"] in en
    assert f"{ctx['new_due_ko']}까지" in ko and ctx["new_due_en"] in en
    assert "제38조제5항" in ko and "38(5)" in en
    assert "이의를 접수하였음을 알려 드립니다" in ko
    assert ctx["right"].name_ko in ko and ctx["right"].name_en in en
