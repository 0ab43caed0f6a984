"""The console's pages (`/console`): each handler reads the form, calls the service function the
staff API's route calls, and renders a page or redirects (POST → redirect → GET). No SQL, no
rule of its own: who may do what is the API's (`StaffPrincipal`, the view's `actions`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form
from fastapi import Request as HttpRequest
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from app.accounts import service as accounts
from app.accounts import sessions
from app.accounts.schemas import Role
from app.console import words
from app.core.config import Environment
from app.core.context import AppContext
from app.core.deps import (
    ContextDep,
    SessionDep,
    StaffPrincipal,
    WriteSessionDep,
    client_ip,
    resolve_request_id,
)
from app.core.errors import Problem
from app.intake import flows
from app.law.deadlines import SEOUL, days_left, seoul_date
from app.law.grounds import GROUNDS
from app.requests import queue
from app.requests import service as requests
from app.requests.deps import RequestToChange
from app.requests.schemas import StaffRequestCreate
from app.requests.views import queue_item
from app.retention import holds as holds_service
from app.retention.plan import build_plan
from app.retention.schemas import HoldIn
from app.verification import documents
from app.web.forms import field_errors, problem_from_validation
from app.web.pages import CSRF_FIELD, Pages, on_csrf_refused, switch_language
from app.workflow import duplicates, tasks
from app.workflow import service as workflow
from app.workflow.schemas import (
    AssignIn,
    CompleteIn,
    DecisionIn,
    ExtendIn,
    MergeIn,
    TaskCompleteIn,
    TaskWaiveIn,
    VerifyIn,
)
from app.workflow.views import read_for_staff

router = APIRouter(prefix="/console", include_in_schema=False)

SESSION_COOKIE = "rd_console"
HOME = "/console/"
OPERATORS = ("cpo", "handler")  # may act on requests (core/deps.Operator)
PAGE_SIZE = 25
CsrfDep = Annotated[str, Form(alias=CSRF_FIELD)]
Text = Annotated[str, Form()]


def _pages(http: HttpRequest) -> Pages:
    return http.app.state.console_pages


def _base(http: HttpRequest, ctx: AppContext, principal: StaffPrincipal | None) -> dict:
    """What the shell shows on every page."""
    lang = _pages(http).language(http)
    company = ctx.profile.company  # the portal's shell names the company the same way
    return {
        "site_name": company.name_ko if lang == "ko" else company.name_en,
        "home": HOME,
        "logo_url": None,
        "theme_css": None,
        "language_url": f"/console/language/{'en' if lang == 'ko' else 'ko'}?next={http.url.path}",
        "me": principal,
        "w": words.Words(lang),
    }


def _page(
    http: HttpRequest,
    ctx: AppContext,
    principal: StaffPrincipal | None,
    template: str,
    status_code: int = 200,
    **context,
) -> Response:
    return _pages(http).render(
        http, template, {**_base(http, ctx, principal), **context}, status_code=status_code
    )


def _message(
    http: HttpRequest, ctx: AppContext, principal, kind: str, status_code: int, **extra
) -> Response:
    return _page(http, ctx, principal, "message.html", status_code, kind=kind, **extra)


def _problem_page(http: HttpRequest, ctx: AppContext, principal, problem: Problem) -> Response:
    kinds = {403: "forbidden", 404: "not_found", 409: "conflict", 410: "gone", 429: "rate_limited"}
    return _message(http, ctx, principal, kinds.get(problem.status, "error"), problem.status)


def _signed_in(http: HttpRequest, ctx: AppContext) -> StaffPrincipal | None:
    """The staff member of the console's cookie (their session row slides), or None."""
    user = sessions.console_user(ctx, http.cookies.get(SESSION_COOKIE), ip=client_ip(http))
    if user is None:
        return None
    return StaffPrincipal(user.id, user.email, user.role, client_ip(http), user.session_id)


def _who(
    http: HttpRequest, ctx: AppContext, roles: tuple[str, ...] = ()
) -> tuple[StaffPrincipal | None, Response | None]:
    """(principal, None), or (None, the answer instead): the log-in page for a visitor
    without a live session, a 403 page for a role that may not do this (before anything is
    read, as the API's `Staff(...)`)."""
    principal = _signed_in(http, ctx)
    if principal is None:
        if not http.cookies.get(SESSION_COOKIE):
            return None, _pages(http).redirect("/console/login")
        # A cookie whose session has ended (idle, the absolute limit, deactivation, a role
        # change, a password reset): the log-in page says so, and the dead cookie goes.
        response = _pages(http).redirect("/console/login?done=session_ended")
        _pages(http).delete_cookie(response, SESSION_COOKIE)
        return None, response
    if roles and principal.role not in roles:
        return None, _message(http, ctx, principal, "forbidden", 403)
    return principal, None


def _reference_path(reference: str) -> str:
    """The request's page; the queue for anything that is not a reference (never a Location
    built from whatever the path held)."""
    if not queue.REFERENCE.match(reference.upper()):
        return HOME
    return f"/console/requests/{reference.upper()}"


# -- log-in, log-out, language ---------------------------------------------------------------


# Why the log-in page was reached (`?done=`): only these words are ever shown.
_LOGIN_REASONS = ("logged_out", "session_ended")


@router.get("/login")
def login_form(http: HttpRequest, ctx: ContextDep, done: str = "") -> Response:
    if http.cookies.get(SESSION_COOKIE) and _signed_in(http, ctx) is not None:
        return _pages(http).redirect(HOME)  # logged in already
    reason = done if done in _LOGIN_REASONS else None
    return _page(http, ctx, None, "login.html", values={}, errors={}, failure=None, reason=reason)


@router.post("/login")
def login(
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    username: Text = "",
    password: Text = "",
) -> Response:
    """The API's password grant (`POST /v1/auth/token`): the same limits, lock-out and
    access-record entries; the session is a console row behind an HttpOnly cookie."""
    pages = _pages(http)
    pages.check_csrf(http, csrf)
    ip = client_ip(http)
    values = {"username": username}
    errors = {}
    t = pages.translator(http)
    if not username.strip():
        errors["username"] = t.gettext("Enter this information.")
    if not password:
        errors["password"] = t.gettext("Enter this information.")
    if errors:
        return _page(http, ctx, None, "login.html", 422, values=values, errors=errors, failure=None)
    try:
        done = accounts.password_grant(
            session, ctx, username=username, password=password, ip=ip, kind="console"
        )
    except Problem as problem:
        if not problem.commit:
            session.rollback()
        failure = {401: "wrong", 423: "locked", 429: "rate_limited"}.get(problem.status, "wrong")
        return _page(
            http,
            ctx,
            None,
            "login.html",
            problem.status if problem.status != 422 else 401,
            values=values,
            errors={},
            failure=failure,
        )
    response = pages.redirect(HOME)
    pages.set_cookie(
        response,
        SESSION_COOKIE,
        done.refresh_token,
        max_age=ctx.settings.staff_session_hours * 3600,
    )
    return response


@router.post("/logout")
def logout(http: HttpRequest, session: SessionDep, ctx: ContextDep, csrf: CsrfDep = "") -> Response:
    """Ends the session row at once (as `POST /v1/auth/logout`)."""
    pages = _pages(http)
    pages.check_csrf(http, csrf)
    principal = _signed_in(http, ctx)
    if principal is not None:
        sessions.log_out(
            session, ctx, principal.session_id, actor=principal.actor.label, ip=principal.ip
        )
    response = pages.redirect("/console/login?done=logged_out")
    pages.delete_cookie(response, SESSION_COOKIE)
    return response


@router.get("/language/{lang}")
def language(lang: str, http: HttpRequest, next: str = HOME) -> Response:
    return switch_language(_pages(http), lang, next, HOME)


# -- the queue -------------------------------------------------------------------------------


def _queue_page(
    http: HttpRequest,
    ctx: AppContext,
    principal: StaffPrincipal,
    f: queue.QueueFilter,
    assignee: str | None,
    cursor: str | None,
    chosen: dict[str, Any],
    searched: bool = False,
) -> Response:
    try:
        rows, next_cursor, now = queue.read_rows(ctx, principal, f, assignee, PAGE_SIZE, cursor)
    except Problem as problem:
        if problem.status != 422:
            raise
        errors = field_errors(problem, _pages(http).translator(http).gettext)
        return _page(
            http,
            ctx,
            principal,
            "queue.html",
            422,
            items=[],
            next_url=None,
            chosen=chosen,
            errors=errors,
            searched=searched,
            statuses=list(words.STATUS),
            types=list(words.TYPES),
        )
    if f.q:
        queue.record_search(ctx, principal, queue.search_kind(f.q), [r.id for r in rows], now)
    dates: dict = {}
    items = [queue_item(r, now, dates) for r in rows]
    for item in items:
        item["urgency"] = words.urgency(item["days_left"], item["overdue"])
    next_url = None
    if next_cursor and not searched:
        params = [(k, v) for k, v in chosen.items() if v and k != "q"]
        params.append(("cursor", next_cursor))
        next_url = HOME + "?" + urlencode(params)
    return _page(
        http,
        ctx,
        principal,
        "queue.html",
        items=items,
        next_url=next_url,
        chosen=chosen,
        errors={},
        searched=searched,
        statuses=list(words.STATUS),
        types=list(words.TYPES),
    )


@router.get("/")
def queue_page(
    http: HttpRequest,
    ctx: ContextDep,
    status: str = "",
    type: str = "",
    assignee: str = "",
    overdue: str = "",
    cursor: str | None = None,
) -> Response:
    """Open work by deadline, through the staff API's queue (no personal data on it)."""
    principal, refusal = _who(http, ctx)
    if refusal is not None:
        return refusal
    chosen = {
        "status": status if status in words.STATUS else "",
        "type": type if type in words.TYPES else "",
        "assignee": assignee if assignee in ("me", "none") else "",
        "overdue": "1" if overdue == "1" else "",
    }
    f = queue.make_filter(
        principal,
        status=[chosen["status"]] if chosen["status"] else None,
        type=[chosen["type"]] if chosen["type"] else None,
        overdue=True if chosen["overdue"] else None,
    )
    if cursor is not None and len(cursor) > 200:
        cursor = None
    try:
        return _queue_page(http, ctx, principal, f, chosen["assignee"] or None, cursor, chosen)
    except Problem as problem:  # a cursor that is not one of ours
        return _problem_page(http, ctx, principal, problem)


@router.post("/search")
def search(http: HttpRequest, ctx: ContextDep, csrf: CsrfDep = "", q: Text = "") -> Response:
    """A search by reference or e-mail, posted so that an address never stands in a URL (or
    a log line); recorded in the access record as the API's search is."""
    _pages(http).check_csrf(http, csrf)
    principal, refusal = _who(http, ctx)
    if refusal is not None:
        return refusal
    q = q.strip()[:254]
    if not q:
        return _pages(http).redirect(HOME)
    f = queue.make_filter(principal, q=q)
    chosen = {"status": "", "type": "", "assignee": "", "overdue": "", "q": q}
    return _queue_page(http, ctx, principal, f, None, None, chosen, searched=True)


# -- one request -----------------------------------------------------------------------------


def _grounds_for(request_type: str) -> list:
    """The registry's grounds that apply to this type of request (the decision's picker)."""
    return [g for g in GROUNDS.values() if request_type in g.applies_to]


def _request_page(
    http: HttpRequest,
    session: Session,
    ctx: AppContext,
    principal: StaffPrincipal,
    reference: str,
    *,
    done: str | None = None,
    form: str | None = None,
    values: dict | None = None,
    errors: dict | None = None,
    status_code: int = 200,
) -> Response:
    view = read_for_staff(session, ctx, reference, principal)
    plan = None
    request = requests.get(session, view.id)
    if view.purged_at is None and view.type in words.TYPES:
        plan = build_plan(session, ctx, request)
    lang = _pages(http).language(http)
    names = {
        k: (c.name_ko if lang == "ko" else c.name_en) for k, c in ctx.profile.categories.items()
    }
    open_objections = [o for o in view.objections if o.resolved_at is None]
    users = accounts.listing(session, limit=200)
    emails = {u.id: u.email for u in users}  # who did what, by e-mail (staff only)
    staff = (
        [u for u in users if u.active and u.role in (Role.cpo.value, Role.handler.value)]
        if "assign" in view.actions and principal.is_cpo
        else []
    )
    return _page(
        http,
        ctx,
        principal,
        "request.html",
        status_code,
        view=view,
        plan=plan,
        # Each hold once (the plan has a line per system it binds).
        held={i.hold_id: i.category for i in plan.items if i.hold_id} if plan else {},
        # A partial grant decides per category: those asked for, or all the plan covers.
        decided=view.categories
        or list(dict.fromkeys(i.category for i in (plan.items if plan else []) if i.category)),
        names=names,
        staff=staff,
        emails=emails,
        grounds=_grounds_for(view.type),
        ground_names=GROUNDS,
        # An objection to a decision is answered by deciding again (the API's `decision`);
        # one to a rejection by checking identity or authority again (`verify`).
        redecide=next((o for o in open_objections if o.kind == "decision"), None),
        reverify=next((o for o in open_objections if o.kind == "rejection"), None),
        urgency=words.urgency(view.days_left, view.overdue),
        done=done,
        form=form,
        values=values or {},
        errors=errors or {},
        today=seoul_date(ctx.clock.now()).isoformat(),
    )


@router.get("/requests/{reference}")
def request_page(
    reference: str,
    http: HttpRequest,
    session: WriteSessionDep,
    ctx: ContextDep,
    done: str | None = None,
) -> Response:
    """The staff view (each opening is an access-record entry, as the API's read)."""
    principal, refusal = _who(http, ctx)
    if refusal is not None:
        return refusal
    try:
        return _request_page(http, session, ctx, principal, reference, done=done)
    except Problem as problem:
        session.rollback()
        return _problem_page(http, ctx, principal, problem)


def _stale(http, session: Session, ctx: AppContext, principal, reference: str) -> Response:
    """The request (or one of its tasks) changed since the page was read: say when and by
    whom (a colleague by e-mail, the person, an API client or the system), offer a reload."""
    session.rollback()
    request = requests.get(session, resolve_request_id(session, reference))
    last = requests.timeline(session, request.id)[-1:]
    label = last[0].actor if last else None
    emails = {}
    if label and label.startswith("staff:"):
        user = accounts.find(session, label.removeprefix("staff:"))
        if user is not None:
            emails[user.id] = user.email
    changed_by = words.Words(_pages(http).language(http)).actor(label, emails) if label else None
    return _message(
        http,
        ctx,
        principal,
        "stale",
        412,
        reference=request.reference,
        changed_by=changed_by,
        changed_at=last[0].at if last else None,
    )


def _act(
    http: HttpRequest,
    session: Session,
    ctx: AppContext,
    reference: str,
    version: str | None,
    form: str,
    values: dict,
    do: Callable[[Any, StaffPrincipal], Any],
    roles: tuple[str, ...] = OPERATORS,
    stale: tuple[int, ...] = (412,),
) -> Response:
    """One staff action, as the API's route: on a request with If-Match (the page's
    `version`: the request locked and checked, 412 is the stale page) or, without a version,
    on one of its tasks; the service, then back to the page (POST → redirect → GET). A refused
    body shows the page again with the errors; any other refusal its message page."""
    principal, refusal = _who(http, ctx, roles)
    if refusal is not None:
        return refusal
    try:
        request = None
        if version is not None:
            request_id = resolve_request_id(session, reference)
            if not version.isdigit():
                raise Problem(412, "precondition-failed", "The form carries no version.")
            request = RequestToChange(session, request_id, int(version)).lock()
        do(request, principal)
    except (ValidationError, Problem) as exc:
        session.rollback()
        problem = problem_from_validation(exc) if isinstance(exc, ValidationError) else exc
        if problem.status in stale:
            return _stale(http, session, ctx, principal, reference)
        if problem.status != 422:
            return _problem_page(http, ctx, principal, problem)
        t = _pages(http).translator(http)
        errors = field_errors(problem, t.gettext) or {"form": t.gettext("Enter a valid value.")}
        return _request_page(
            http,
            session,
            ctx,
            principal,
            reference,
            form=form,
            values=values,
            errors=errors,
            status_code=422,
        )
    return _pages(http).redirect(_reference_path(reference) + f"?done={form.split(':')[0]}")


def _filled(**fields: str | None) -> dict[str, str]:
    return {k: v.strip() for k, v in fields.items() if v is not None and v.strip()}


@router.post("/requests/{reference}/assign")
def assign(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    version: Text = "",
    assignee: Text = "me",
) -> Response:
    """As `POST /v1/staff/requests/{id}/assign`."""
    _pages(http).check_csrf(http, csrf)

    def do(request, principal):
        body = AssignIn.model_validate(_filled(assignee=assignee))
        workflow.assign(session, ctx, request, body, principal)

    return _act(http, session, ctx, reference, version, "assign", {"assignee": assignee}, do)


@router.post("/requests/{reference}/verify")
def verify(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    version: Text = "",
    outcome: Text = "",
    method: Text = "",
    note: Text = "",
) -> Response:
    """As `POST /v1/staff/requests/{id}/verify`."""
    _pages(http).check_csrf(http, csrf)
    values = {"outcome": outcome, "method": method, "note": note}

    def do(request, principal):
        body = VerifyIn.model_validate(_filled(**values))
        workflow.verify(session, ctx, request, body, principal)

    return _act(http, session, ctx, reference, version, "verify", values, do)


def _new_due(value: str) -> datetime | None:
    """The new deadline's day, as the service reads it (the end of that day in Seoul)."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return datetime.combine(day, time(23, 59, 59), SEOUL)


@router.post("/requests/{reference}/extend/confirm")
def extend_confirm(
    reference: str,
    http: HttpRequest,
    session: WriteSessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    version: Text = "",
    reason: Text = "",
    due_date: Text = "",
) -> Response:
    """The new date and the reason shown before the extension is made (nothing changes)."""
    _pages(http).check_csrf(http, csrf)
    principal, refusal = _who(http, ctx, OPERATORS)
    if refusal is not None:
        return refusal
    t = _pages(http).translator(http)
    values = {"reason": reason, "due_date": due_date}
    new_due = _new_due(due_date)
    errors = {}
    if new_due is None:
        errors["due_date"] = t.gettext("Enter a date like 2015-03-01.")
    if not reason.strip():
        errors["reason"] = t.gettext("Enter this information.")
    try:
        if errors:
            return _request_page(
                http,
                session,
                ctx,
                principal,
                reference,
                form="extend",
                values=values,
                errors=errors,
                status_code=422,
            )
        view = read_for_staff(session, ctx, reference, principal)
    except Problem as problem:
        session.rollback()
        return _problem_page(http, ctx, principal, problem)
    if version != str(view.version):  # changed since the page was read: say so now
        return _stale(http, session, ctx, principal, reference)
    return _page(
        http,
        ctx,
        principal,
        "extend.html",
        view=view,
        version=version,
        reason=reason.strip(),
        due_date=due_date.strip(),
        new_due=new_due,
        days=days_left(new_due, ctx.clock.now()),
    )


@router.post("/requests/{reference}/extend")
def extend(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    version: Text = "",
    reason: Text = "",
    due_date: Text = "",
) -> Response:
    """As `POST /v1/staff/requests/{id}/extend`, after the confirmation page."""
    _pages(http).check_csrf(http, csrf)
    values = {"reason": reason, "due_date": due_date}

    def do(request, principal):
        new_due = _new_due(due_date)
        body = ExtendIn.model_validate(
            {**_filled(reason=reason), "due_at": new_due.isoformat() if new_due else due_date}
        )
        workflow.extend(session, ctx, request, body, principal)

    return _act(http, session, ctx, reference, version, "extend", values, do)


@router.post("/requests/{reference}/decision")
def decide(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    version: Text = "",
    outcome: Text = "",
    explanation: Text = "",
    grounds: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    item_category: Annotated[list[str], Form()] = [],  # noqa: B006
    item_result: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    """As `POST /v1/staff/requests/{id}/decision`: the outcome, the grounds picked from the
    registry's for this type, per-category results for a partial grant, the explanation."""
    _pages(http).check_csrf(http, csrf)
    results = dict(zip(item_category, item_result, strict=False))
    values = {"outcome": outcome, "grounds": grounds, "explanation": explanation, **results}

    def do(request, principal):
        body: dict[str, Any] = {
            **_filled(outcome=outcome, explanation=explanation),
            "grounds": grounds,
        }
        if outcome == "partially_granted":
            body["items"] = [
                {
                    "category": category,
                    "result": result,
                    "grounds": grounds if result == "refused" else [],
                }
                for category, result in results.items()
            ]
        workflow.decide(session, ctx, request, DecisionIn.model_validate(body), principal)

    return _act(http, session, ctx, reference, version, "decision", values, do)


@router.post("/requests/{reference}/complete")
def complete(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    version: Text = "",
    note: Text = "",
) -> Response:
    """As `POST /v1/staff/requests/{id}/complete`."""
    _pages(http).check_csrf(http, csrf)

    def do(request, principal):
        body = CompleteIn.model_validate(_filled(note=note))
        workflow.complete(session, ctx, request, principal, body.note)

    return _act(http, session, ctx, reference, version, "complete", {"note": note}, do)


@router.post("/requests/{reference}/holds")
def add_hold(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    version: Text = "",
    category: Text = "",
    kind: Text = "",
    note: Text = "",
) -> Response:
    """As `POST /v1/staff/requests/{id}/holds`."""
    _pages(http).check_csrf(http, csrf)
    values = {"category": category, "kind": kind, "note": note}

    def do(request, principal):
        body = HoldIn.model_validate(_filled(**values))
        holds_service.add(session, ctx, request, body, principal)

    return _act(http, session, ctx, reference, version, "holds", values, do)


@router.post("/requests/{reference}/holds/{hold_id}/release")
def release_hold(
    reference: str,
    hold_id: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    version: Text = "",
) -> Response:
    """As `DELETE /v1/staff/requests/{id}/holds/{hold_id}`."""
    _pages(http).check_csrf(http, csrf)

    def do(request, principal):
        holds_service.release(session, ctx, request, hold_id, principal)

    return _act(http, session, ctx, reference, version, "holds", {}, do)


@router.post("/requests/{reference}/merge")
def merge(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    version: Text = "",
    into: Text = "",
) -> Response:
    """As `POST /v1/staff/requests/{id}/merge` (the service locks both requests itself)."""
    _pages(http).check_csrf(http, csrf)

    def do(_request, principal):
        body = MergeIn.model_validate(_filled(into=into))
        duplicates.merge(session, ctx, reference, _form_version(version), body.into, principal)

    return _act(http, session, ctx, reference, None, "merge", {"into": into}, do)


@router.post("/requests/{reference}/duplicate-of/remove")
def unlink_duplicate(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    version: Text = "",
) -> Response:
    """As `DELETE /v1/staff/requests/{id}/duplicate-of`."""
    _pages(http).check_csrf(http, csrf)

    def do(_request, principal):
        duplicates.unlink(session, ctx, reference, _form_version(version), principal)

    return _act(http, session, ctx, reference, None, "unlink", {}, do)


def _form_version(version: str) -> int:
    if not version.isdigit():
        raise Problem(412, "precondition-failed", "The form carries no version.")
    return int(version)


def _task_act(
    http: HttpRequest,
    session: Session,
    ctx: AppContext,
    reference: str,
    form: str,
    values: dict,
    do: Callable[[StaffPrincipal], Any],
    roles: tuple[str, ...] = OPERATORS,
) -> Response:
    """An action on one of the request's tasks (no If-Match: the task is its own row). A 409
    means the task moved on since the page was read (done, waived or voided by someone
    else): the stale page, with who and a reload, as for the request's own forms."""
    return _act(
        http,
        session,
        ctx,
        reference,
        None,
        form,
        values,
        lambda _r, who: do(who),
        roles,
        stale=(409, 412),
    )


def _data_lines(text: str) -> dict[str, str] | None:
    """What a collect task found, one `item: value` a line (the API's `{item: value}`)."""
    data = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        item, sep, value = line.partition(":")
        if not sep:
            item, value = line, ""
        data[item.strip()] = value.strip()
    return data or None


@router.post("/requests/{reference}/tasks/{task_id}/complete")
def complete_task(
    reference: str,
    task_id: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    outcome: Text = "done",
    note: Text = "",
    data: Text = "",
) -> Response:
    """As `POST /v1/staff/tasks/{id}/complete`: the outcome, a note, and for a collect task
    the data the system holds."""
    _pages(http).check_csrf(http, csrf)
    values = {"outcome": outcome, "note": note, "data": data}

    def do(principal):
        body = TaskCompleteIn.model_validate(
            {**_filled(outcome=outcome, note=note), "data": _data_lines(data)}
        )
        tasks.complete_by_hand(
            session,
            ctx,
            task_id,
            outcome=body.outcome,
            note=body.note,
            data=body.data,
            actor=principal.actor,
            is_cpo=principal.is_cpo,
        )

    return _task_act(http, session, ctx, reference, f"task:{task_id}", values, do)


@router.post("/requests/{reference}/tasks/{task_id}/waive")
def waive_task(
    reference: str,
    task_id: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    reason: Text = "",
) -> Response:
    """As `POST /v1/staff/tasks/{id}/waive` (the CPO only)."""
    _pages(http).check_csrf(http, csrf)

    def do(principal):
        body = TaskWaiveIn.model_validate(_filled(reason=reason))
        tasks.waive(session, ctx, task_id, reason=body.reason, actor=principal.actor)

    return _task_act(
        http, session, ctx, reference, f"waive:{task_id}", {"reason": reason}, do, ("cpo",)
    )


@router.post("/requests/{reference}/documents/{document_id}")
def view_document(
    reference: str,
    document_id: str,
    http: HttpRequest,
    session: WriteSessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    reason: Text = "",
) -> Response:
    """A proxy's document shown in the browser (inline), for verification: each view is an
    access-record entry with its reason, as the API's download."""
    _pages(http).check_csrf(http, csrf)
    principal, refusal = _who(http, ctx, OPERATORS)
    if refusal is not None:
        return refusal
    try:
        request = requests.get(session, resolve_request_id(session, reference))
        principal.may_see(request.assignee_id)
        reason = reason.strip()
        if len(reason) < 5 or len(reason) > 500:
            t = _pages(http).translator(http)
            return _request_page(
                http,
                session,
                ctx,
                principal,
                reference,
                form=f"document:{document_id}",
                values={"reason": reason},
                errors={"reason": t.gettext("Say why, in 5 to 500 characters.")},
                status_code=422,
            )
        got = documents.download(
            session, ctx, request.id, document_id, reason=reason, actor=principal.actor
        )
    except Problem as problem:
        session.rollback()
        return _problem_page(http, ctx, principal, problem)
    return Response(
        content=got.data,
        media_type=got.content_type,
        headers={
            "Content-Disposition": "inline",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


# -- offline intake --------------------------------------------------------------------------

CHANNELS = ("letter", "phone", "fax", "email", "in_person")


def _intake_page(http, ctx, principal, values, errors, status_code=200) -> Response:
    lang = _pages(http).language(http)
    categories = [
        (k, c.name_ko if lang == "ko" else c.name_en) for k, c in ctx.profile.categories.items()
    ]
    return _page(
        http,
        ctx,
        principal,
        "intake.html",
        status_code,
        values=values,
        errors=errors,
        channels=CHANNELS,
        types=list(words.TYPES),
        categories=categories,
        now=ctx.clock.now().astimezone(SEOUL).strftime("%Y-%m-%dT%H:%M"),
    )


@router.get("/intake")
def intake_form(http: HttpRequest, ctx: ContextDep) -> Response:
    principal, refusal = _who(http, ctx, OPERATORS)
    if refusal is not None:
        return refusal
    return _intake_page(http, ctx, principal, {}, {})


@router.post("/intake")
def intake(
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    channel: Text = "",
    received_at: Text = "",
    type: Text = "",
    name: Annotated[str, Form(alias="subject.name")] = "",
    email: Annotated[str, Form(alias="subject.email")] = "",
    phone: Annotated[str, Form(alias="subject.phone")] = "",
    birth_date: Annotated[str, Form(alias="subject.birth_date")] = "",
    categories: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    details: Text = "",
    identity_verified: Text = "",
    verification_method: Text = "",
) -> Response:
    """As `POST /v1/staff/requests`: a letter, call, fax, e-mail or visit, with its channel
    and the real time of receipt (Seoul time on the form)."""
    _pages(http).check_csrf(http, csrf)
    principal, refusal = _who(http, ctx, OPERATORS)
    if refusal is not None:
        return refusal
    t = _pages(http).translator(http)
    subject = _filled(name=name, email=email, phone=phone, birth_date=birth_date)
    values = {
        "channel": channel,
        "received_at": received_at,
        "type": type,
        **{f"subject.{k}": v for k, v in subject.items()},
        "categories": categories,
        "details": details,
        "identity_verified": identity_verified,
        "verification_method": verification_method,
    }
    body: dict[str, Any] = {
        "subject": subject,
        "locale": _pages(http).language(http),
        **_filled(type=type, channel=channel, details=details),
        **_filled(verification_method=verification_method),
        "identity_verified": identity_verified == "1",
    }
    if categories:
        body["scope"] = {"categories": categories}
    try:
        body["received_at"] = (
            datetime.fromisoformat(received_at.strip()).replace(tzinfo=SEOUL).isoformat()
        )
    except ValueError:
        body["received_at"] = received_at.strip()
    try:
        data = StaffRequestCreate.model_validate(body)
        filed = flows.enter_offline(session, ctx, data, actor=principal.actor)
    except (ValidationError, Problem) as exc:
        session.rollback()
        if isinstance(exc, Problem) and exc.status != 422:
            return _problem_page(http, ctx, principal, exc)
        problem = problem_from_validation(exc) if isinstance(exc, ValidationError) else exc
        errors = field_errors(problem, t.gettext, name=lambda f: f.replace("scope.", ""))
        return _intake_page(http, ctx, principal, values, errors, 422)
    return _pages(http).redirect(_reference_path(filed.reference) + "?done=entered")


def _refused_csrf(http: HttpRequest) -> Response:
    return _message(http, http.app.state.ctx, None, "csrf", 403)


def install(app, ctx: AppContext) -> None:
    """Mount the console (RIGHTSDESK_CONSOLE=on)."""
    app.state.console_pages = Pages(
        "app.console",
        cookie_path="/console",
        secret=ctx.secret_key,
        secure=ctx.settings.env is Environment.production,
    )
    on_csrf_refused(app, "/console", _refused_csrf)
    app.include_router(router)
    from app.console import admin, bulk, reports  # their handlers build on this module's

    app.include_router(reports.router)
    app.include_router(bulk.router)
    app.include_router(admin.router)
