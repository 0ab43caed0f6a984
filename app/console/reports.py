"""The console's reports: the dashboard (`/console/dashboard`: the metrics API's numbers as
charts, each with its table and a CSV download) and a request's evidence pack (the ZIP of
`GET /v1/staff/requests/{id}/evidence`, from the request's page). Thin handlers over the
services the API's routes call (app/workflow/metrics.py, app/web/charts.py, app/evidence/);
who may do what is the API's."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form
from fastapi import Request as HttpRequest
from fastapi.responses import Response
from sqlmodel import Session

from app.console import words
from app.console.router import (
    CsrfDep,
    _page,
    _pages,
    _problem_page,
    _reference_path,
    _who,
)
from app.core.context import AppContext
from app.core.deps import (
    ContextDep,
    SessionDep,
    StaffPrincipal,
    WriteSessionDep,
)
from app.core.errors import Problem
from app.evidence.router import pack_download
from app.evidence.schemas import REASON_MAX, check_reason
from app.web.charts import charts
from app.web.forms import field_errors
from app.workflow import metrics

router = APIRouter(prefix="/console", include_in_schema=False)

OVERSEERS = ("cpo", "auditor")  # may download an evidence pack (core/deps.Overseer)


def _day(value: str | None) -> date | None:
    """A date field of the range form: empty is the default, anything else must be a date."""
    if not value:
        return None
    return date.fromisoformat(value)


def _dashboard_metrics(
    http: HttpRequest, session: Session, ctx: AppContext, since: str | None, until: str | None
):
    """(metrics, chosen range, errors by field): the metrics service's own defaults and
    range check; a malformed or backwards range is an error beside its field."""
    t = _pages(http).translator(http)
    chosen = {"since": since or "", "until": until or ""}
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name, value in chosen.items():
        try:
            days[name] = _day(value)
        except ValueError:
            errors[name] = t.gettext(words.BAD_DATE)
    if errors:
        return metrics.compute_range(session, ctx), chosen, errors
    try:
        return metrics.compute_range(session, ctx, days["since"], days["until"]), chosen, {}
    except Problem as problem:
        if problem.status != 422:
            raise
        errors = field_errors(problem, t.gettext)
        return metrics.compute_range(session, ctx), chosen, errors


@router.get("/dashboard")
def dashboard(
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    """Requests per week by type, on-time share per month, open by status, median days to
    close, overdue now and objections: the numbers of `GET /v1/staff/metrics`, each as a chart
    with its table beside it and a CSV download."""
    principal, refusal = _who(http, ctx)
    if refusal is not None:
        return refusal
    figures, chosen, errors = _dashboard_metrics(http, session, ctx, since, until)
    query = "" if errors else urlencode({k: v for k, v in chosen.items() if v})
    return _page(
        http,
        ctx,
        principal,
        "dashboard.html",
        422 if errors else 200,
        metrics=figures,
        charts=charts(figures),
        chosen=chosen,
        errors=errors,
        csv_query=f"?{query}" if query else "",
    )


@router.get("/dashboard/{chart_id}.csv")
def dashboard_csv(
    chart_id: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    """One chart's table as CSV (UTF-8 with a BOM, so a spreadsheet reads the Hangul)."""
    principal, refusal = _who(http, ctx)
    if refusal is not None:
        return refusal
    figures, _, errors = _dashboard_metrics(http, session, ctx, since, until)
    found = {c.id: c for c in charts(figures)}.get(chart_id)
    if found is None or errors:
        kind = "not_found" if found is None else "error"
        return _page(http, ctx, principal, "message.html", 404 if found is None else 422, kind=kind)
    return Response(
        content="\ufeff" + found.csv,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/requests/{reference}/evidence")
def evidence_pack(
    reference: str, http: HttpRequest, session: WriteSessionDep, ctx: ContextDep
) -> Response:
    """The request's evidence pack without identifiers (CPO, auditor); the download is an
    access-record entry, as through the API."""
    principal, refusal = _who(http, ctx, OVERSEERS)
    if refusal is not None:
        return refusal
    try:
        return pack_download(session, ctx, principal, reference, identifiers=False, reason=None)
    except Problem as problem:
        session.rollback()
        return _problem_page(http, ctx, principal, problem)


def _identifiers_form(
    http: HttpRequest,
    ctx: AppContext,
    principal: StaffPrincipal,
    reference: str,
    reason: str = "",
    error: str | None = None,
) -> Response:
    return _page(
        http,
        ctx,
        principal,
        "evidence.html",
        422 if error else 200,
        reference=reference,
        reason=reason,
        error=error,
        reason_max=REASON_MAX,
    )


@router.get("/requests/{reference}/evidence/identifiers")
def evidence_identifiers_form(reference: str, http: HttpRequest, ctx: ContextDep) -> Response:
    """The CPO's form for a pack with identifiers: the reason first."""
    principal, refusal = _who(http, ctx, ("cpo",))
    if refusal is not None:
        return refusal
    if _reference_path(reference) == "/console/":
        return _page(http, ctx, principal, "message.html", 404, kind="not_found")
    return _identifiers_form(http, ctx, principal, reference.upper())


@router.post("/requests/{reference}/evidence/identifiers")
def evidence_pack_with_identifiers(
    reference: str,
    http: HttpRequest,
    session: WriteSessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """The pack with the subject's and the filer's identifiers (CPO only), for the reason
    given: the reason goes into the access record (posted, so it never stands in a URL); a
    missing or malformed reason is said beside its field and nothing is recorded."""
    _pages(http).check_csrf(http, csrf)
    principal, refusal = _who(http, ctx, ("cpo",))
    if refusal is not None:
        return refusal
    try:
        checked = check_reason(reason)
    except ValueError:
        t = _pages(http).translator(http)
        error = t.gettext(words.BAD_REASON, max=REASON_MAX)
        return _identifiers_form(http, ctx, principal, reference.upper(), reason[:500], error)
    try:
        return pack_download(session, ctx, principal, reference, identifiers=True, reason=checked)
    except Problem as problem:
        session.rollback()
        return _problem_page(http, ctx, principal, problem)
