"""The plan (GET /v1/staff/requests/{id}/plan): what each system does with each data category
in scope, and the decision that follows from it.

- deletion / suspension: `delete` / `suspend` now; or `retain` the records a legal retention
  rule names (PIPA Art. 36(1) proviso; for suspension Art. 37(2)(1)), one line per rule; or
  `hold` the category while a staff-set hold (investigation, debt: policy Art. 3) lasts.
- correction: `correct` in the systems of the categories that hold a corrected item.
- access: `collect` from every system of every category in scope.
- consent withdrawal (Art. 37(1), (3)): `stop` what the consent allowed in every system that
  acts on it (one line per system, no category), and for each category collected on it, as a
  deletion: `delete` now, or `retain`/`hold` what the law keeps (Art. 37(3) proviso, 37(2)(1)).

A `retain` line covers only the records its rule names (`record_ko`/`record_en`): the law
keeps those and nothing else, so data of the category that no rule names is still owed
deletion (today the category is refused as a whole and no task is made for that rest: a
known gap). The decision follows the plan per category: a category with a `retain` or `hold`
line is refused (with the ground and the law), the others are granted.

When does a retention period end (`retain_until`)? Every rule runs from an event — the
payment, the contract's end, the visit — whose date only the system holding the records
knows; Rights Desk does not. Guessing it from the request's receipt would state a date the
law does not give (too late for a visit three months ago, too early for a payment made
today). So `period` is always given, `retain_until` only for a rule that runs from the request
itself (`starts: request` in the profile, e.g. records of this request's identity check),
and otherwise the line says from which event the period runs (`starts_ko`/`starts_en`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from sqlmodel import Session, select

from app.core.context import AppContext
from app.law import retention as law
from app.law.deadlines import seoul_date
from app.law.grounds import BASIS_GROUND
from app.models import Hold, Request
from app.requests import pii

DELETE, SUSPEND, CORRECT, COLLECT, RETAIN, HOLD = (
    "delete",
    "suspend",
    "correct",
    "collect",
    "retain",
    "hold",
)
STOP = "stop"  # stop the processing a withdrawn consent allowed (Art. 37(3))
# Art. 37-2(3): stop applying an automated decision (or re-decide it with a person), explain
# it, or have a person review it.
STOP_APPLYING, EXPLAIN, REVIEW = "stop_applying", "explain", "review"
AUTOMATED_ACTION = {"refuse": STOP_APPLYING, "explain": EXPLAIN, "review": REVIEW}
ACTIONS = (DELETE, SUSPEND, CORRECT, COLLECT, RETAIN, HOLD, STOP, STOP_APPLYING, EXPLAIN, REVIEW)
KEEPING = (RETAIN, HOLD)
# The ground that refuses a kept category: for a deletion, another law names the data to be
# collected (Art. 36(1) proviso); for a suspension, a legal duty makes the processing (here:
# keeping) unavoidable (Art. 37(2)(1)).
# For a consent withdrawal, the Art. 37(2) grounds apply through Art. 37(3)'s proviso.
KEEP_GROUND = {
    "deletion": "PIPA-36-1-proviso",
    "suspension": "PIPA-37-2-1",
    "consent_withdrawal": "PIPA-37-2-1",
}
# What each keeping type does now to a category nothing keeps.
NOW_ACTION = {"deletion": DELETE, "suspension": SUSPEND, "consent_withdrawal": DELETE}


@dataclass
class PlanItem:
    category: str | None  # None: a line about a consent or decision, not a data category
    system: str | None
    action: str
    rule: str | None = None
    law_ko: str | None = None
    law_en: str | None = None
    period: str | None = None
    retain_until: date | None = None
    hold_id: str | None = None
    record_ko: str | None = None  # what exactly is kept (retain, hold)
    record_en: str | None = None
    starts_ko: str | None = None  # from which event the period runs
    starts_en: str | None = None
    # For a correction: the corrected items this category holds.
    items: list[str] = field(default_factory=list)
    # For a consent withdrawal's `stop`: the consents this system acts on.
    consents: list[str] = field(default_factory=list)
    # For an automated decision: the profile's decision.
    decision: str | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["retain_until"] = self.retain_until.isoformat() if self.retain_until else None
        return data


@dataclass
class Plan:
    request_id: str
    type: str
    items: list[PlanItem]
    decision: dict

    def kept(self) -> dict[str, list[PlanItem]]:
        """Categories the plan keeps (retain or hold), with their lines."""
        out: dict[str, list[PlanItem]] = {}
        for item in self.items:
            if item.action in KEEPING:
                out.setdefault(item.category, []).append(item)
        return out


def active_holds(session: Session, request_id: str) -> list[Hold]:
    return list(
        session.exec(
            select(Hold)
            .where(Hold.request_id == request_id, Hold.released_at.is_(None))
            .order_by(Hold.created_at, Hold.id)
        )
    )


def corrected_items(ctx: AppContext, request: Request) -> list[str]:
    """The item keys a correction names (values stay sealed: only the keys are read)."""
    corrections = pii.open_json(ctx.keys, request, "corrections") or []
    return list(dict.fromkeys(c["item"] for c in corrections if c.get("item")))


def build_plan(session: Session, ctx: AppContext, request: Request) -> Plan:
    profile = ctx.profile
    categories = [c for c in request.categories if c in profile.categories]
    items: list[PlanItem] = []
    if request.type == "consent_withdrawal":
        items += _stop_lines(ctx, request)
    if request.type in KEEP_GROUND:
        holds: dict[str, list[Hold]] = {}
        for hold in active_holds(session, request.id):
            holds.setdefault(hold.category, []).append(hold)
        now_action = NOW_ACTION[request.type]
        for key in categories:
            category = profile.categories[key]
            systems = category.systems or [None]
            for system in systems:
                for hold in holds.get(key, []):
                    rule = profile.retention.get(hold.kind)
                    items.append(
                        PlanItem(
                            key,
                            system,
                            HOLD,
                            rule=hold.kind,
                            hold_id=hold.id,
                            record_ko=rule.record_ko if rule else None,
                            record_en=rule.record_en if rule else None,
                        )
                    )
                for rule_key in category.retention:
                    rule = profile.retention[rule_key]
                    until = None
                    if rule.starts == "request":
                        until = law.last_day(seoul_date(request.received_at), rule.period)
                    items.append(
                        PlanItem(
                            key,
                            system,
                            RETAIN,
                            rule=rule_key,
                            law_ko=rule.law_ko,
                            law_en=rule.law_en,
                            period=rule.period,
                            retain_until=until,
                            record_ko=rule.record_ko,
                            record_en=rule.record_en,
                            starts_ko=rule.starts_ko,
                            starts_en=rule.starts_en,
                        )
                    )
                if not holds.get(key) and not category.retention:
                    items.append(PlanItem(key, system, now_action))
    elif request.type == "correction":
        wanted = corrected_items(ctx, request)
        for key in categories:
            category = profile.categories[key]
            held = [i for i in wanted if i in category.items]
            if held:
                for system in category.systems or [None]:
                    items.append(PlanItem(key, system, CORRECT, items=held))
    elif request.type in ("access", "transmission"):
        # A transmission gathers what an access does, for the transmittable categories.
        for key in categories:
            for system in profile.categories[key].systems or [None]:
                items.append(PlanItem(key, system, COLLECT))
    elif request.type == "automated_decision":
        key, kind, declared = automated_scope(ctx, request)
        if declared is not None and not automated_refusal_ground(declared, kind):
            items.append(PlanItem(None, declared.system, AUTOMATED_ACTION[kind], decision=key))
    plan = Plan(request.id, request.type, items, {})
    plan.decision = _decision(ctx, request, plan, categories)
    return plan


def withdrawn_consents_of(plan: Plan) -> list[str]:
    return list(dict.fromkeys(c for i in plan.items if i.action == STOP for c in i.consents))


def withdrawn_consents(request: Request) -> list[str]:
    return list((request.scope_detail or {}).get("consents") or [])


def _stop_lines(ctx: AppContext, request: Request) -> list[PlanItem]:
    """Every system acting on a withdrawn consent stops what it allowed (Art. 37(3)): one
    line per system, naming the consents it acts on."""
    by_system: dict[str, list[str]] = {}
    for key in withdrawn_consents(request):
        consent = ctx.profile.consents.get(key)
        for system in consent.systems if consent else []:
            by_system.setdefault(system, []).append(key)
    return [PlanItem(None, system, STOP, consents=keys) for system, keys in by_system.items()]


def retention_detail(plan: Plan, category: str) -> dict | None:
    """What a decision item refusing `category` records of why it is kept: the rules, their
    laws, the longest period and the latest known end (None if the plan does not keep it)."""
    lines = plan.kept().get(category)
    if not lines:
        return None
    by_rule: dict[str, PlanItem] = {}
    for line in lines:
        by_rule.setdefault(line.rule or line.action, line)
    rules = list(by_rule.values())
    laws_ko = list(dict.fromkeys(r.law_ko for r in rules if r.law_ko))
    laws_en = list(dict.fromkeys(r.law_en for r in rules if r.law_en))
    periods = [r.period for r in rules if r.period]
    dates = [r.retain_until for r in rules if r.retain_until]
    held = any(r.action == HOLD for r in rules)
    return {
        "rule": ", ".join(by_rule),
        "law_ko": "; ".join(laws_ko) or None,
        "law_en": "; ".join(laws_en) or None,
        "period": law.longest(periods),
        # Unknown while a hold lasts, or when any rule's end is unknown.
        "retain_until": (
            max(dates).isoformat() if dates and not held and len(dates) == len(rules) else None
        ),
        "rules": [
            {
                "rule": r.rule,
                "action": r.action,
                "law_ko": r.law_ko,
                "law_en": r.law_en,
                "period": r.period,
                "retain_until": r.retain_until.isoformat() if r.retain_until else None,
                "starts_ko": r.starts_ko,
                "starts_en": r.starts_en,
                "hold_id": r.hold_id,
            }
            for r in rules
        ],
    }


def automated_scope(ctx: AppContext, request: Request):
    """(decision key, kind, the profile's declared decision or None)."""
    detail = request.scope_detail or {}
    key = detail.get("decision")
    return key, detail.get("kind"), ctx.profile.automated_decisions.get(key or "")


def automated_refusal_ground(declared, kind: str) -> str | None:
    """Why a refusal of this declared decision is not available (Art. 37-2(1)): it does not
    significantly affect rights or duties, or rests on Art. 15(1) 1, 2 or 4."""
    if kind != "refuse":
        return None
    if not declared.significant:
        return "PIPA-37of2-1-minor"
    return BASIS_GROUND.get(declared.basis) if declared.basis else None


def _automated_decision(ctx: AppContext, request: Request) -> dict:
    """What the profile answers: no such fully automated decision is made; or the refusal the
    Act allows (with its ground); or what will be done, with the published criteria."""
    _key, kind, declared = automated_scope(ctx, request)
    decisions = ctx.profile.automated_decisions
    if declared is None:
        ko = (
            "당사는 귀하께서 요구하신 결정을 완전히 자동화된 시스템으로 개인정보를 처리하여 하고 "
            "있지 않습니다(개인정보 보호법 제37조의2)."
        )
        en = (
            "We do not make the decision you asked about by a fully automated system that "
            "processes personal information (PIPA Art. 37-2)."
        )
        if decisions:
            ko += (
                " 당사가 하는 완전히 자동화된 결정은 다음과 같으며, 그 기준과 절차는 공개하고 있습니다: "
                + ", ".join(d.description_ko for d in decisions.values())
                + "."
            )
            en += (
                " The fully automated decisions we make, whose criteria and procedure we publish, are: "
                + ", ".join(d.description_en for d in decisions.values())
                + "."
            )
        else:
            ko += " 당사는 완전히 자동화된 결정을 하지 않습니다."
            en += " We make no fully automated decisions."
        return {"outcome": "granted", "grounds": [], "explanation": ko + "\n\n" + en}
    ground = automated_refusal_ground(declared, kind)
    if ground is not None:
        return {
            "outcome": "refused",
            "grounds": [ground],
            "explanation": (
                f"{declared.description_ko}에 대한 거부권은 인정되지 않습니다. 다만 이 결정에 "
                "대한 설명은 요구하실 수 있습니다(개인정보 보호법 제37조의2제2항).\n\n"
                f"The right to refuse does not apply to {declared.description_en}; you may "
                "still ask for an explanation of it (PIPA Art. 37-2(2))."
            ),
        }
    what_ko, what_en = {
        "refuse": (
            "귀하에 대한 이 결정의 적용을 중단하거나, 사람이 개입하여 다시 처리한 뒤 그 결과를 "
            "알려 드립니다(개인정보 보호법 제37조의2제3항).",
            "We stop applying this decision to you, or have a person take it again and tell you "
            "the result (PIPA Art. 37-2(3)).",
        ),
        "explain": (
            "이 결정의 결과, 결정에 사용된 주요 개인정보와 기준, 처리 절차를 아래와 같이 설명드립니다"
            "(개인정보 보호법 제37조의2제2항·제3항).",
            "Below we explain the result of this decision, the main personal information and "
            "criteria used, and the procedure (PIPA Art. 37-2(2), (3)).",
        ),
        "review": (
            "이 결정을 사람이 다시 검토하고, 그 결과를 알려 드립니다(개인정보 보호법 제37조의2제3항).",
            "A person will re-examine this decision and tell you the result (PIPA Art. 37-2(3)).",
        ),
    }[kind]
    return {"outcome": "granted", "grounds": [], "explanation": what_ko + "\n\n" + what_en}


def _decision(ctx: AppContext, request: Request, plan: Plan, categories: list[str]) -> dict:
    """A body for POST …/decision that follows the plan."""
    if request.type == "automated_decision":
        return _automated_decision(ctx, request)
    if request.type not in KEEP_GROUND:
        body: dict = {"outcome": "granted", "grounds": []}
        if request.type == "correction":
            by_category: dict[str, list[str]] = {}
            for line in plan.items:
                by_category.setdefault(line.category, line.items)
            if by_category:
                body["items"] = [
                    {
                        "category": c,
                        "result": "granted",
                        "grounds": [],
                        "corrections": [{"item": i, "result": "corrected"} for i in items],
                    }
                    for c, items in by_category.items()
                ]
        body["explanation"] = _GRANTED[request.type]
        return body
    ground = KEEP_GROUND[request.type]
    kept = plan.kept()
    items = [
        {
            "category": c,
            "result": "refused" if c in kept else "granted",
            "grounds": [ground] if c in kept else [],
        }
        for c in categories
    ]
    if not kept:
        outcome = "granted"
    elif request.type == "consent_withdrawal":
        # The consent's processing stops whatever the law keeps: only the deletion of what it
        # keeps is refused, so a withdrawal is at least partly granted.
        outcome = "partially_granted"
    elif all(c in kept for c in categories):
        outcome = "refused"
    else:
        outcome = "partially_granted"
    return {
        "outcome": outcome,
        "grounds": [ground] if kept else [],
        "items": items,
        "explanation": _explain(ctx, request.type, plan, categories),
    }


_GRANTED = {
    "access": (
        "요청하신 개인정보를 열람하실 수 있도록 각 시스템에서 모아 제공하겠습니다.\n"
        "We will collect the personal information you asked to see from each system and "
        "make it available to you."
    ),
    "transmission": (
        "요구하신 개인정보를 각 시스템에서 모아 기계 판독이 가능한 형식(JSON, CSV)으로 "
        "전송하겠습니다(개인정보 보호법 제35조의2).\n"
        "We will collect the personal information you asked for from each system and transmit "
        "it to you in machine-readable form, JSON and CSV (PIPA Art. 35-2)."
    ),
    "correction": (
        "요청하신 항목을 조사한 결과에 따라 정정하겠습니다.\n"
        "We will correct the items you named, as our check of them found."
    ),
}


def _explain(ctx: AppContext, request_type: str, plan: Plan, categories: list[str]) -> str:
    """Korean first, English beside it: what is done, and what is kept, under which law and
    for how long (Art. 38(5): the subject is told the reason and may object)."""
    names = ctx.profile.categories
    kept = plan.kept()
    done_ko, done_en = (
        ("처리정지", "suspended") if request_type == "suspension" else ("삭제", "deleted")
    )
    ko: list[str] = []
    en: list[str] = []
    if request_type == "consent_withdrawal":
        consents = ctx.profile.consents
        withdrawn = [c for c in withdrawn_consents_of(plan) if c in consents]
        systems = list(dict.fromkeys(i.system for i in plan.items if i.action == STOP))
        ko.append(
            "철회하신 동의("
            + ", ".join(consents[c].label_ko for c in withdrawn)
            + ")에 근거한 개인정보 처리를 지체 없이 중단합니다(개인정보 보호법 제37조제3항): "
            + ", ".join(ctx.profile.system_name(s) for s in systems if s)
            + "."
        )
        en.append(
            "We stop, without delay, the processing your withdrawn consent ("
            + ", ".join(consents[c].label_en for c in withdrawn)
            + ") allowed (PIPA Art. 37(3)): "
            + ", ".join(ctx.profile.system_name(s) for s in systems if s)
            + "."
        )
    granted = [c for c in categories if c not in kept]
    if granted and request_type == "consent_withdrawal":
        ko.append(
            "그 동의를 근거로 수집한 다음 개인정보는 복구 또는 재생할 수 없도록 파기합니다"
            "(개인정보 보호법 제37조제3항): " + ", ".join(names[c].name_ko for c in granted) + "."
        )
        en.append(
            "The following, collected on that consent, will be destroyed so that it cannot be "
            "recovered or reconstructed (PIPA Art. 37(3)): "
            + ", ".join(names[c].name_en for c in granted)
            + "."
        )
    elif granted:
        ko.append(
            f"다음 개인정보는 {done_ko}합니다: "
            + ", ".join(names[c].name_ko for c in granted)
            + "."
        )
        en.append(
            f"The following will be {done_en}: "
            + ", ".join(names[c].name_en for c in granted)
            + "."
        )
    if kept:
        if request_type == "deletion":
            ko.append(
                "다음 개인정보는 다른 법령에서 보존하도록 정하고 있어 삭제할 수 없습니다"
                "(개인정보 보호법 제36조제1항 단서). 해당 법령이 정한 기록은 그 보존 목적으로만 "
                "다른 개인정보와 분리하여 보관하고(같은 법 제21조제3항), 보존 기간이 끝나면 지체 "
                "없이 파기합니다."
            )
            en.append(
                "The following cannot be deleted because another law requires it to be kept "
                "(PIPA Art. 36(1) proviso). The records that law names are kept apart from "
                "other personal information, only for that purpose (Art. 21(3)), and destroyed "
                "without delay when the period ends."
            )
        elif request_type == "consent_withdrawal":
            ko.append(
                "다음 개인정보는 법령상 의무를 지키기 위하여 보관이 불가피하므로(개인정보 보호법 "
                "제37조제3항 단서, 같은 조 제2항제1호) 파기하지 않고, 해당 법령이 정한 기록을 그 "
                "보존 목적으로만 다른 개인정보와 분리하여 보관하며(같은 법 제21조제3항) 보존 기간이 "
                "끝나면 지체 없이 파기합니다. 동의에 근거한 처리에는 더 이상 이용하지 않습니다."
            )
            en.append(
                "The following is not destroyed because it must be kept to meet a legal duty "
                "(PIPA Art. 37(3) proviso and 37(2)(1)): the records the law names are kept apart, "
                "only for that purpose (Art. 21(3)), and destroyed without delay when the period "
                "ends. They are no longer used for anything the consent allowed."
            )
        else:
            ko.append(
                "다음 개인정보는 법령상 의무를 지키기 위하여 보관이 불가피하므로(개인정보 보호법 "
                "제37조제2항제1호) 해당 기록의 보관 외의 처리는 정지합니다."
            )
            en.append(
                "The following must be kept to meet a legal duty (PIPA Art. 37(2)(1)); "
                "apart from keeping those records, all processing of it stops."
            )
        for c, lines in kept.items():
            parts_ko, parts_en = [], []
            seen: set[str] = set()
            for line in lines:
                key = line.rule or line.action
                if key in seen:
                    continue
                seen.add(key)
                if line.action == HOLD:
                    parts_ko.append(f"{line.record_ko or '관련 기록'}: 사유가 해소될 때까지")
                    parts_en.append(f"{line.record_en or 'related records'}: until resolved")
                    continue
                start_ko = f" ({line.starts_ko}부터)" if line.starts_ko else ""
                start_en = f" (from {line.starts_en})" if line.starts_en else ""
                until_ko = f", {line.retain_until.isoformat()}까지" if line.retain_until else ""
                until_en = f", until {line.retain_until.isoformat()}" if line.retain_until else ""
                parts_ko.append(
                    f"{line.record_ko} — {line.law_ko}, {law.period_ko(line.period)}"
                    f"{start_ko}{until_ko}"
                )
                parts_en.append(
                    f"{line.record_en} — {line.law_en}, {law.period_en(line.period)}"
                    f"{start_en}{until_en}"
                )
            ko.append(f"· {names[c].name_ko}: " + "; ".join(parts_ko))
            en.append(f"· {names[c].name_en}: " + "; ".join(parts_en))
    return "\n".join(ko) + "\n\n" + "\n".join(en)
