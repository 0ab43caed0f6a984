"""What every notice about a request can say (template context)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.core.context import AppContext
from app.law.deadlines import seoul_date
from app.law.rights import RIGHTS, RequestType
from app.notifications.render import date_en, date_ko, moment_en, moment_ko


def request_context(
    ctx: AppContext,
    *,
    name: str,
    reference: str,
    type: str,
    received_at: datetime,
    due_at: datetime,
    **extra: Any,
) -> dict[str, Any]:
    right = RIGHTS[RequestType(type)]
    due = seoul_date(due_at)
    return {
        "company": ctx.profile.company,
        "name": name,
        "reference": reference,
        "right": right,
        "right_article_ko": right.article.replace("PIPA Art. ", "개인정보 보호법 제") + "조",
        "decree_ko": right.decree.replace("Decree Art. ", "제").replace("(", "조제").rstrip(")")
        + "항",
        "received_ko": moment_ko(received_at),
        "received_en": moment_en(received_at),
        "due_ko": date_ko(due),
        "due_en": date_en(due),
        **extra,
    }
