"""What every notice about a request can say (template context), and sending one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from app.core.context import AppContext
from app.law.deadlines import seoul_date
from app.law.grounds import GROUNDS
from app.law.rights import RIGHTS, RequestType
from app.models import Request
from app.notifications.outbox import enqueue_notice
from app.notifications.render import date_en, date_ko, moment_en, moment_ko
from app.requests import pii


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
        "type": type,
        "right": right,
        "right_article_ko": right.article_korean,
        "decree_ko": right.decree_korean,
        "received_ko": moment_ko(received_at),
        "received_en": moment_en(received_at),
        "due_ko": date_ko(due),
        "due_en": date_en(due),
        # Where the filer comes back (sign-in with the reference and e-mail).
        "portal_url": f"{ctx.settings.resolved_portal_url}/requests/{reference}",
        **extra,
    }


def day(prefix: str, at: datetime) -> dict[str, str]:
    """`{prefix}_ko`, `{prefix}_en`: a date in Korea time, in both languages."""
    d = seoul_date(at)
    return {f"{prefix}_ko": date_ko(d), f"{prefix}_en": date_en(d)}


def moment(prefix: str, at: datetime) -> dict[str, str]:
    return {f"{prefix}_ko": moment_ko(at), f"{prefix}_en": moment_en(at)}


def ground_views(codes: list[str]) -> list[dict[str, str]]:
    return [
        {
            "code": g.code,
            "article_ko": g.article_ko,
            "article_en": g.article_en,
            "text_ko": g.text_ko,
            "text_en": g.text_en,
        }
        for g in (GROUNDS[c] for c in codes if c in GROUNDS)
    ]


def notify(
    session: Session,
    ctx: AppContext,
    request: Request,
    template: str,
    *,
    now: datetime,
    **extra: Any,
) -> str | None:
    """Queue a notice to the filer (the subject, or the proxy who filed); requests taken offline
    without an e-mail get none here (staff answer them through the channel they came by)."""
    name, email = pii.filer(ctx.keys, request)
    if not email:
        return None
    context = request_context(
        ctx,
        name=name,
        reference=request.reference,
        type=request.type,
        received_at=request.received_at,
        due_at=request.due_at,
        **extra,
    )
    return enqueue_notice(
        session,
        ctx,
        template=template,
        to=email,
        locale=request.locale,
        request_id=request.id,
        context=context,
        now=now,
    )
