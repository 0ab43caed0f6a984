"""A decision against the plan: what `_check_decision` adds for deletion, suspension and
correction, and what a decision item records of the law that keeps a category."""

from __future__ import annotations

from app.core.context import AppContext
from app.law.grounds import problems_with_grounds
from app.law.retention import period_en, period_ko
from app.models import Request
from app.retention.plan import HOLD, KEEP_GROUND, Plan, corrected_items, retention_detail
from app.workflow.schemas import DecisionIn, Outcome


def granted_categories(request: Request, body: DecisionIn) -> list[str]:
    if body.outcome is Outcome.refused:
        return []
    if body.items:
        return [i.category for i in body.items if i.result == "granted"]
    return list(request.categories)


def plan_problems(ctx: AppContext, request: Request, body: DecisionIn, plan: Plan) -> list[dict]:
    """A deletion or suspension may not grant what the plan retains or holds (Art. 36(1)
    proviso; the policy's Art. 3): 422 naming the category and the law."""
    if request.type not in KEEP_GROUND:
        return []
    kept = plan.kept()
    names = ctx.profile.categories
    where = {i.category: f"items.{n}" for n, i in enumerate(body.items or [])}
    errors = []
    for category in granted_categories(request, body):
        lines = kept.get(category)
        if not lines:
            continue
        holds = [line for line in lines if line.action == HOLD]
        if holds:
            code = "held"
            why_ko = f"{holds[0].record_ko or holds[0].rule} (보류 {holds[0].hold_id})"
            why_en = f"{holds[0].record_en or holds[0].rule} (hold {holds[0].hold_id})"
        else:
            code = "retained"
            # In words, for the person deciding: the law and how long it keeps the data.
            laws_ko = dict.fromkeys(
                f"{line.law_ko} ({period_ko(line.period)} 보존)" if line.period else line.law_ko
                for line in lines
            )
            laws_en = dict.fromkeys(
                f"the {line.law_en} (kept {period_en(line.period)})"
                if line.period
                else f"the {line.law_en}"
                for line in lines
            )
            why_ko, why_en = "; ".join(laws_ko), "; ".join(laws_en)
        name = names[category].name_ko if category in names else category
        errors.append(
            {
                "field": f"{where[category]}.result" if category in where else "outcome",
                "code": code,
                "message": f"{category} ({name}): 법령에 따라 보존 — {why_ko} / kept under "
                f"{why_en}; refuse it citing {KEEP_GROUND[request.type]} "
                "(see GET …/plan)",
            }
        )
    return errors


def correction_problems(ctx: AppContext, request: Request, body: DecisionIn) -> list[dict]:
    """Per corrected item: corrected, or not with a ground (PIPA-36-2-accurate); a category is
    granted when any of its items is corrected, refused when none is."""
    errors: list[dict] = []
    items = body.items or []
    if request.type != "correction":
        for n, item in enumerate(items):
            if item.corrections is not None:
                errors.append(
                    {
                        "field": f"items.{n}.corrections",
                        "code": "not_for_type",
                        "message": "only a correction decision lists corrected items",
                    }
                )
        return errors
    asked = corrected_items(ctx, request)
    public = ctx.settings.public_body
    categories = ctx.profile.categories
    for n, item in enumerate(items):
        if not item.corrections:
            continue
        holds = set(categories[item.category].items) if item.category in categories else set()
        seen: set[str] = set()
        for m, result in enumerate(item.corrections):
            where = f"items.{n}.corrections.{m}"
            if result.item not in asked:
                errors.append(
                    {
                        "field": f"{where}.item",
                        "code": "not_requested",
                        "message": f"{result.item} is not among the items the subject asked to "
                        "correct",
                    }
                )
            elif result.item not in holds:
                errors.append(
                    {
                        "field": f"{where}.item",
                        "code": "not_in_category",
                        "message": f"{item.category} holds no {result.item}",
                    }
                )
            if result.item in seen:
                errors.append(
                    {"field": f"{where}.item", "code": "duplicate", "message": "listed twice"}
                )
            seen.add(result.item)
            if result.result == "not_corrected":
                for message in problems_with_grounds(
                    result.grounds, "correction", public_body=public
                ):
                    errors.append(
                        {"field": f"{where}.grounds", "code": "invalid_ground", "message": message}
                    )
            elif result.grounds:
                errors.append(
                    {
                        "field": f"{where}.grounds",
                        "code": "not_for_grant",
                        "message": "a corrected item cites no grounds",
                    }
                )
        corrected = any(r.result == "corrected" for r in item.corrections)
        if corrected != (item.result == "granted"):
            errors.append(
                {
                    "field": f"items.{n}.result",
                    "code": "contradicts_corrections",
                    "message": "a category is granted when any of its items is corrected, "
                    "refused when none is",
                }
            )
    return errors


def decision_items(request: Request, body: DecisionIn, plan: Plan | None) -> list[dict]:
    """Decision.items: as given, plus, for a category refused because the plan keeps it, the
    rule, the law, the period and the end where known (for the decision notice and the
    public view). A refusal without items lists each category, so the law is still there."""
    given = [i.model_dump(exclude_none=True) for i in body.items or []]
    if plan is None or request.type not in KEEP_GROUND:
        return given
    if not given and body.outcome is Outcome.refused and plan.kept():
        given = [
            {"category": c, "result": "refused", "grounds": list(body.grounds)}
            for c in request.categories
        ]
    for item in given:
        if item["result"] != "refused":
            continue
        detail = retention_detail(plan, item["category"])
        if detail:
            item.update(detail)
    return given
