"""Bulk work from the console's queue (issue 22.5, for a CPO facing a surge): tick requests,
pick one action (take or assign them, extend their deadline, decide each by its own plan),
read what will happen, confirm. The work is `POST /v1/staff/requests/bulk`'s service
(app/workflow/bulk.py): one transaction per request, each through the single action's rules,
each with its own version check (the version the queue showed), audit entry and notice.

Two steps, both POSTs: `/console/bulk` shows the choice back (nothing changes; an extension's
reason and date are entered here, beside their fields) and `/console/bulk/run` does it and
shows each request's outcome. The outcome page answers the POST itself instead of
redirecting: it is a one-off report, and posting it again changes nothing (each request's
version has moved, so a repeat is answered `conflict` for every one)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi import Request as HttpRequest
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from app.accounts import service as accounts
from app.accounts.schemas import Role
from app.console.router import (
    OPERATORS,
    CsrfDep,
    Text,
    _new_due,
    _page,
    _pages,
    _who,
)
from app.core.context import AppContext
from app.core.deps import ContextDep, SessionDep, StaffPrincipal
from app.core.errors import Problem
from app.web.forms import field_errors, problem_from_validation
from app.workflow import bulk
from app.workflow.schemas import BULK_MAX, BulkAssignIn, BulkDecisionIn, BulkExtendIn

router = APIRouter(prefix="/console", include_in_schema=False)

ACTIONS = ("assign", "extend", "decision")
# A ticked row: the reference and the version the queue showed ("RD-2026-000042@3").
PICK = re.compile(r"^(RD-\d{4}-\d{6})@(\d{1,9})$")
Picks = Annotated[list[str], Form()]


def _picked(values: list[str]) -> dict[str, int] | None:
    """{reference: version} of the ticked rows, or None when one is not a row of ours."""
    picked: dict[str, int] = {}
    for value in values:
        match = PICK.match(value.strip().upper())
        if match is None:
            return None
        picked[match.group(1)] = int(match.group(2))
    return picked


def _staff(session: Session, principal: StaffPrincipal) -> list:
    """Whom a CPO may assign to (a handler takes requests for themself only, as the API)."""
    if not principal.is_cpo:
        return []
    users = accounts.listing(session, limit=200)
    return [u for u in users if u.active and u.role in (Role.cpo.value, Role.handler.value)]


def _choice(
    http: HttpRequest,
    session: Session,
    ctx: AppContext,
    principal: StaffPrincipal,
    picked: dict[str, int],
    action: str,
    values: dict,
    errors: dict,
    status_code: int = 200,
) -> Response:
    return _page(
        http,
        ctx,
        principal,
        "bulk.html",
        status_code,
        picked=picked,
        action=action,
        values=values,
        errors=errors,
        staff=_staff(session, principal) if action == "assign" else [],
        limit=BULK_MAX,
    )


def _refused_choice(http, ctx, principal, errors: dict) -> Response:
    """Nothing (valid) was ticked, or no action chosen: said on the page, nothing done."""
    return _page(
        http,
        ctx,
        principal,
        "bulk.html",
        422,
        picked={},
        action="",
        values={},
        errors=errors,
        staff=[],
        limit=BULK_MAX,
    )


def _check_choice(http: HttpRequest, ids: list[str], action: str) -> tuple[dict | None, dict]:
    t = _pages(http).translator(http)
    picked = _picked(ids)
    errors: dict[str, str] = {}
    if picked is None:
        errors["ids"] = t.gettext(
            "The selection is not one the queue offered. Go back and tick again."
        )
    elif not picked:
        errors["ids"] = t.gettext("Tick at least one request in the queue.")
    elif len(picked) > BULK_MAX:
        errors["ids"] = t.gettext("Tick at most %(n)s requests at a time.") % {"n": BULK_MAX}
    if action not in ACTIONS:
        errors["action"] = t.gettext("Choose what to do with them.")
    return picked, errors


@router.post("/bulk")
def bulk_choice(
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    ids: Picks = [],  # noqa: B006 (FastAPI copies a form default)
    action: Text = "",
) -> Response:
    """What will be done to which requests, with the action's own fields; nothing changes."""
    _pages(http).check_csrf(http, csrf)
    principal, refusal = _who(http, ctx, OPERATORS)
    if refusal is not None:
        return refusal
    picked, errors = _check_choice(http, ids, action)
    if errors:
        return _refused_choice(http, ctx, principal, errors)
    return _choice(http, session, ctx, principal, picked, action, {"assignee": "me"}, {})


def _body(action: str, picked: dict[str, int], values: dict):
    """The API's bulk body for this choice (its validation is the API's)."""
    common = {"ids": list(picked), "versions": picked}
    if action == "assign":
        return BulkAssignIn(action="assign", assignee=values["assignee"] or "me", **common)
    if action == "extend":
        return BulkExtendIn(
            action="extend", reason=values["reason"], due_at=_new_due(values["due_date"]), **common
        )
    return BulkDecisionIn(action="decision", **common)


@router.post("/bulk/run")
def bulk_run(
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    ids: Picks = [],  # noqa: B006
    action: Text = "",
    assignee: Text = "me",
    reason: Text = "",
    due_date: Text = "",
) -> Response:
    """Do it: one transaction per request (the API's bulk service), then each one's outcome."""
    _pages(http).check_csrf(http, csrf)
    principal, refusal = _who(http, ctx, OPERATORS)
    if refusal is not None:
        return refusal
    picked, errors = _check_choice(http, ids, action)
    if errors:
        return _refused_choice(http, ctx, principal, errors)
    t = _pages(http).translator(http)
    values = {"assignee": assignee.strip(), "reason": reason, "due_date": due_date}
    if action == "extend":
        if not reason.strip():
            errors["reason"] = t.gettext("Enter this information.")
        if _new_due(due_date) is None:
            errors["due_date"] = t.gettext("Enter a date like 2015-03-01.")
    if errors:
        return _choice(http, session, ctx, principal, picked, action, values, errors, 422)
    try:
        body = _body(action, picked, values)
        # The page's session only read; each request gets a transaction of its own there.
        session.rollback()
        result = bulk.run(ctx, body, principal)
    except (ValidationError, Problem) as exc:  # refused whole, before anything changed
        problem = problem_from_validation(exc) if isinstance(exc, ValidationError) else exc
        if problem.status != 422:
            raise
        errors = field_errors(problem, t.gettext) or {"form": t.gettext("Enter a valid value.")}
        if "due_at" in errors:  # the API's name for the form's date
            errors["due_date"] = errors.pop("due_at")
        return _choice(http, session, ctx, principal, picked, action, values, errors, 422)
    return _page(http, ctx, principal, "bulk_done.html", result=result, action=action)
