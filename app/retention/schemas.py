"""Bodies and views of the plan and of holds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.core.validation import Line, StrictBody, Text


class PlanItemPublic(BaseModel):
    category: str | None = Field(
        description="The data category; null on a line about a consent (`stop`)."
    )
    system: str | None = Field(description="The system or processor (수탁자) holding it.")
    action: Literal[
        "delete",
        "suspend",
        "correct",
        "collect",
        "retain",
        "hold",
        "stop",
        "stop_applying",
        "explain",
        "review",
    ] = Field(
        description="`retain`: the law keeps the records the rule names (`record_ko`), for "
        "`period` from the event `starts_ko` names; no more than those. `hold`: the category is "
        "kept while the hold lasts. `stop`: the system stops the processing the withdrawn "
        "`consents` allowed (PIPA Art. 37(3)). For an automated `decision` (Art. 37-2(3)): "
        "`stop_applying` it to the subject (or re-decide with a person), `explain` it "
        "(the result and the main data used in this case), or `review` it by a person."
    )
    rule: str | None = Field(None, description="The profile's retention rule, or the hold kind.")
    law_ko: str | None = None
    law_en: str | None = None
    period: str | None = Field(None, description="ISO 8601 duration, e.g. `P5Y`.")
    retain_until: date | None = Field(
        None,
        description="The last day to keep, only where Rights Desk knows the date the period "
        "runs from; otherwise see `starts_ko`/`starts_en`.",
    )
    hold_id: str | None = None
    record_ko: str | None = Field(None, description="Which records are kept.")
    record_en: str | None = None
    starts_ko: str | None = Field(None, description="The event the period runs from.")
    starts_en: str | None = None
    items: list[str] = Field(
        default_factory=list, description="For `correct`: the corrected items this category holds."
    )
    consents: list[str] = Field(
        default_factory=list, description="For `stop`: the withdrawn consents this system acts on."
    )
    decision: str | None = Field(None, description="The profile's automated decision.")


class PlanPublic(BaseModel):
    request_id: str
    type: str
    items: list[PlanItemPublic]
    decision: dict = Field(description="A body for POST …/decision that follows the plan.")


class HoldIn(StrictBody):
    category: Line(40) = Field(description="A data category of the request.")
    kind: Literal["investigation", "debt"] = Field(
        description="Policy Art. 3: an investigation for breach of law under way, or a claim "
        "or debt from the service that remains."
    )
    note: Text(2000) = Field(
        description="The case or the debt, for staff; kept encrypted, never sent to the subject."
    )


class HoldPublic(BaseModel):
    id: str
    request_id: str
    category: str
    kind: str
    note_given: bool = Field(description="The note is kept encrypted and not shown here.")
    created_at: datetime
    created_by: str
    released_at: datetime | None
    released_by: str | None
