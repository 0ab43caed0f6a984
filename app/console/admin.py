"""The console's administration (`/console/admin`): the monthly access-record review (CPO and
auditor, as `Overseer` in the API), staff accounts, API clients and webhook deliveries (the
CPO, as `CPO`), and the loaded profile. Thin handlers over the services the API's routes call
(app/audit/review.py, app/accounts/, app/integrations/webhooks.py): the rules, the refusals
and the access-record entries are theirs. A client's secret is shown once, on the page that
answers the POST that made it (never in a URL), and never again."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi import Request as HttpRequest
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from app.accounts import clients
from app.accounts import service as accounts
from app.accounts.schemas import Role
from app.accounts.schemas_users import StaffUserCreate, StaffUserUpdate
from app.audit import review
from app.audit.router import EXPORT_MEDIA, ReviewCreate, export_download
from app.console import words
from app.console.router import CsrfDep, Text, _page, _pages, _problem_page, _who
from app.core.context import AppContext
from app.core.deps import ContextDep, SessionDep, StaffPrincipal, WriteSessionDep
from app.core.errors import Problem
from app.integrations import webhooks
from app.integrations.schemas import ClientCreate
from app.integrations.views import (
    client_credentials,
    client_public,
    delivery_public,
    webhook_public,
)
from app.profile.public import public_profile
from app.web.forms import field_errors, message_for, problem_from_validation

router = APIRouter(prefix="/console/admin", include_in_schema=False)

CPO = ("cpo",)  # core/deps.CPO: staff accounts, clients, webhooks
OVERSEERS = ("cpo", "auditor")  # core/deps.Overseer: the access record, and the profile
ROLES = [r.value for r in Role]
DELIVERIES_SHOWN = 20
Many = Annotated[list[str], Form()]
# An id of ours (`usr_…`, `cli_…`, `whd_…`): anything else in the path is no such thing, and
# never reaches a query (PostgreSQL refuses a NUL outright).
_ID = re.compile(r"^[a-z]{2,5}_[0-9a-z]{1,40}$")


def _known(key: str) -> bool:
    return bool(_ID.match(key))


# The services' refusals beside their fields, by (field, code), in the catalogue's msgids.
BY_FIELD_CODE = {
    ("month", "future_month"): words.MONTH_NOT_BEGUN,
    ("month", "month_not_ended"): words.MONTH_NOT_ENDED,
    ("month", "before_record"): words.MONTH_BEFORE_RECORD,
    ("month", "invalid_month"): words.BAD_MONTH,
    ("month", "string_pattern_mismatch"): words.BAD_MONTH,
    ("password", "too_short"): words.PASSWORD_TOO_SHORT,
    ("email", "invalid"): words.BAD_EMAIL,
    ("email", "value_error"): words.BAD_EMAIL,
    ("systems", "unknown_system"): words.UNKNOWN_SYSTEM,
    ("systems", "required"): words.SYSTEMS_REQUIRED,
    ("scopes", "invalid"): words.CHOOSE_SCOPES,
    ("scopes", "too_short"): words.CHOOSE_SCOPES,
}


def _message(error: dict[str, Any]) -> str:
    name = error.get("field", "").split(".")[0]
    return BY_FIELD_CODE.get((name, error.get("code", "")), message_for(error))


def _errors(http: HttpRequest, problem: Problem | ValidationError) -> dict[str, str]:
    """Input name → its message; a list field's errors (`scopes.0`) under the list's name."""
    if isinstance(problem, ValidationError):
        problem = problem_from_validation(problem)
    t = _pages(http).translator(http)
    return field_errors(
        problem, lambda m: t.gettext(m), _message, name=lambda f: f.split(".")[0] or "form"
    )


def _say(http: HttpRequest, msgid: str, **values: Any) -> str:
    return _pages(http).translator(http).gettext(msgid, **values)


@dataclass
class Shown:
    """What a page shows of a form sent to it: which form (`create`, or a row's
    `user:usr_…`), what was typed, the messages beside the fields, and what was done."""

    form: str | None = None
    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    status_code: int = 200
    done: str | None = None

    def context(self) -> dict[str, Any]:
        return {"form": self.form, "values": self.values, "errors": self.errors, "done": self.done}


Page = Callable[[HttpRequest, Session, AppContext, StaffPrincipal, Shown], Response]


def _again(
    http: HttpRequest,
    session: Session,
    ctx: AppContext,
    page: Page,
    form: str,
    values: dict | None = None,
    conflict_field: str | None = None,
) -> Callable[[StaffPrincipal, dict[str, str], int], Response]:
    """The page again with the form's errors beside its fields: a 409 (under `form`) beside
    `conflict_field`; for a row's form (`user:usr_…`) its one message beside the row."""

    def again(principal: StaffPrincipal, errors: dict[str, str], status_code: int) -> Response:
        if ":" in form:
            errors = {form: errors.get("form") or next(iter(errors.values()))}
        elif conflict_field and "form" in errors:
            errors = {conflict_field: errors.pop("form")}
        shown = Shown(form, values or {}, errors, status_code)
        return page(http, session, ctx, principal, shown)

    return again


def _acting(
    http: HttpRequest,
    session: Session,
    ctx: AppContext,
    roles: tuple[str, ...],
    do: Callable[[StaffPrincipal], Response],
    again: Callable[[StaffPrincipal, dict[str, str], int], Response],
    conflict: Callable[[Problem], str] = lambda _p: words.CANNOT_NOW,
) -> Response:
    """Who acts, then `do`; a refusal of the service undoes everything and is shown beside
    its field on the form again (`again`; a 409 in the words `conflict` picks for it), or as
    the console's page for its status (404)."""
    principal, refusal = _who(http, ctx, roles)
    if refusal is not None:
        return refusal
    try:
        return do(principal)
    except (Problem, ValidationError) as exc:
        session.rollback()
        if isinstance(exc, ValidationError) or exc.status == 422:
            errors = _errors(http, exc) or {"form": _say(http, words.CANNOT_NOW)}
            return again(principal, errors, 422)
        if exc.status == 409:
            return again(principal, {"form": _say(http, conflict(exc))}, 409)
        return _problem_page(http, ctx, principal, exc)


def _not_found(http: HttpRequest, ctx: AppContext, principal: StaffPrincipal) -> Response:
    return _page(http, ctx, principal, "message.html", 404, kind="not_found")


def _account_conflict(problem: Problem) -> str:
    """The service's 409s about an account, by the reason it names."""
    reason = problem.extra.get("reason")
    return {"last_active_cpo": words.LAST_CPO, "own_account": words.OWN_ACCOUNT}.get(
        reason, words.CANNOT_NOW
    )


def _retry_conflict(problem: Problem) -> str:
    """A retry's 409: the endpoint is disabled, or the delivery is not failed."""
    return words.WEBHOOK_DISABLED if "disabled" in (problem.detail or "") else words.NOT_FAILED


def _opened(
    http: HttpRequest,
    session: Session,
    ctx: AppContext,
    roles: tuple[str, ...],
    page: Page,
    done: str | None,
    dones: tuple[str, ...],
) -> Response:
    """A page opened by a GET; `done` (after a redirect) only as one of its own words."""
    principal, refusal = _who(http, ctx, roles)
    if refusal is not None:
        return refusal
    return page(http, session, ctx, principal, Shown(done=done if done in dones else None))


# -- the index -------------------------------------------------------------------------------


@router.get("")
def index(http: HttpRequest, ctx: ContextDep) -> Response:
    """What the administration holds, as far as the role may see it."""
    principal, refusal = _who(http, ctx, OVERSEERS)
    if refusal is not None:
        return refusal
    return _page(http, ctx, principal, "admin_index.html")


# -- the monthly access-record review --------------------------------------------------------


def _review_page(
    http: HttpRequest, session: Session, ctx: AppContext, principal: StaffPrincipal, shown: Shown
) -> Response:
    """The months since the record began, newest first: reviewed (by whom, when, the note)
    or not, each with its flagged days; reading the reviews is recorded (the service)."""
    found = review.list_reviews(session, ctx, limit=24, before=None, actor=principal.actor)
    conn = session.connection()
    current = review.Month.of(ctx.clock.now())
    months: dict[str, dict] = {}
    for m in found.unreviewed:
        months[m.label] = {"month": m.label, "review": None, "note": None}
    for row, note in found.items:
        months[row.month] = {"month": row.month, "review": row, "note": note}
    for label, entry in months.items():
        entry["flags"] = review.flags_for(conn, review.Month.parse(label), found.threshold)
    return _page(
        http,
        ctx,
        principal,
        "admin_review.html",
        shown.status_code,
        months=sorted(months.values(), key=lambda e: e["month"], reverse=True),
        unreviewed=[m.label for m in found.unreviewed],
        threshold=found.threshold,
        current=current.label,
        last=current.previous().label,
        emails={f"staff:{u.id}": u.email for u in accounts.listing(session, limit=200)},
        reason_max=review.REASON_MAX,
        **shown.context(),
    )


@router.get("/access-record")
def review_page(
    http: HttpRequest, session: WriteSessionDep, ctx: ContextDep, done: str | None = None
) -> Response:
    """The monthly review of the access record (as `GET /v1/staff/audit/reviews`)."""
    return _opened(http, session, ctx, OVERSEERS, _review_page, done, ("reviewed",))


@router.post("/access-record/export")
def export_month(
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    month: Text = "",
    reason: Text = "",
    format: Text = "csv",
) -> Response:
    """A month's entries as a download (as `GET /v1/staff/audit/export`), the reason posted
    so it never stands in a URL; the download is an access-record entry with the reason."""
    _pages(http).check_csrf(http, csrf)
    values = {"month": month[:20], "reason": reason[:500], "format": format[:10]}
    again = _again(http, session, ctx, _review_page, "export", values)

    def do(principal: StaffPrincipal) -> Response:
        errors = {}
        try:
            checked = review.check_reason(reason)
        except ValueError:
            errors["reason"] = _say(http, words.BAD_EXPORT_REASON, max=review.REASON_MAX)
        if format not in EXPORT_MEDIA:
            errors["format"] = _say(http, "Choose one of the options.")
        try:
            wanted = review.exportable_month(month.strip(), ctx.clock.now())
        except Problem as problem:
            errors.update(_errors(http, problem))
        if errors:
            return again(principal, errors, 422)
        return export_download(session, ctx, principal, wanted, format, checked)

    return _acting(http, session, ctx, OVERSEERS, do, again)


@router.post("/access-record/reviews")
def record_review(
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    month: Text = "",
    note: Text = "",
) -> Response:
    """Record that a month that has ended was reviewed, with a note (as
    `POST /v1/staff/audit/reviews`): one review per month."""
    _pages(http).check_csrf(http, csrf)
    values = {"month": month[:20], "note": note[:2000]}

    def do(principal: StaffPrincipal) -> Response:
        body = ReviewCreate.model_validate(
            {"month": month.strip(), **({"note": note} if note.strip() else {})}
        )
        review.record_review(
            session, ctx, month_text=body.month, note=body.note, actor=principal.actor
        )
        return _pages(http).redirect("/console/admin/access-record?done=reviewed")

    again = _again(http, session, ctx, _review_page, "review", values, conflict_field="month")
    return _acting(http, session, ctx, OVERSEERS, do, again, lambda _p: words.ALREADY_REVIEWED)


# -- staff accounts --------------------------------------------------------------------------


def _users_page(
    http: HttpRequest, session: Session, ctx: AppContext, principal: StaffPrincipal, shown: Shown
) -> Response:
    now = ctx.clock.now()
    return _page(
        http,
        ctx,
        principal,
        "admin_users.html",
        shown.status_code,
        users=[accounts.public(u, now) for u in accounts.listing(session, limit=200)],
        roles=ROLES,
        min_length=ctx.settings.password_min_length,
        **shown.context(),
    )


@router.get("/users")
def users_page(
    http: HttpRequest, session: SessionDep, ctx: ContextDep, done: str | None = None
) -> Response:
    """The staff accounts (as `GET /v1/staff/users`), and the form for a new one."""
    return _opened(http, session, ctx, CPO, _users_page, done, ("created", "changed"))


@router.post("/users")
def create_user(
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    email: Text = "",
    role: Text = "",
    password: Text = "",
) -> Response:
    """A new active account (as `POST /v1/staff/users`); the grant is an access-record
    entry. The password is never shown back."""
    _pages(http).check_csrf(http, csrf)

    def do(principal: StaffPrincipal) -> Response:
        body = StaffUserCreate.model_validate({"email": email, "role": role, "password": password})
        accounts.create_user(
            session,
            ctx,
            email=body.email,
            role=body.role,
            password=body.password,
            created_by=principal.actor.label,
            ip=principal.ip,
        )
        return _pages(http).redirect("/console/admin/users?done=created")

    values = {"email": email[:254], "role": role if role in ROLES else ""}
    again = _again(http, session, ctx, _users_page, "create", values, conflict_field="email")
    return _acting(http, session, ctx, CPO, do, again, lambda _p: words.EMAIL_TAKEN)


@router.post("/users/{user_id}")
def change_user(
    user_id: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    action: Text = "",
    role: Text = "",
) -> Response:
    """Change an account (as `PATCH /v1/staff/users/{id}`): `action` is `role` (with the new
    `role`), `deactivate`, `activate` or `unlock`. A new role or a deactivation ends the
    account's sessions at once (the service)."""
    _pages(http).check_csrf(http, csrf)
    changes = {
        "role": {"role": role},
        "deactivate": {"active": False},
        "activate": {"active": True},
        "unlock": {"unlock": True},
    }
    again = _again(http, session, ctx, _users_page, f"user:{user_id[:60]}")

    def do(principal: StaffPrincipal) -> Response:
        if not _known(user_id):
            return _not_found(http, ctx, principal)
        if action not in changes:
            return again(principal, {"form": _say(http, "Choose one of the options.")}, 422)
        body = StaffUserUpdate.model_validate(changes[action])
        accounts.change(
            session,
            ctx,
            user_id,
            actor=principal.actor,
            role=body.role,
            active=body.active,
            unlock=bool(body.unlock),
        )
        return _pages(http).redirect("/console/admin/users?done=changed")

    return _acting(http, session, ctx, CPO, do, again, _account_conflict)


# -- API clients -----------------------------------------------------------------------------


def _clients_page(
    http: HttpRequest, session: Session, ctx: AppContext, principal: StaffPrincipal, shown: Shown
) -> Response:
    return _page(
        http,
        ctx,
        principal,
        "admin_clients.html",
        shown.status_code,
        items=[client_public(c) for c in clients.listing(session, limit=200)],
        scopes=list(clients.SCOPES),
        # What a client's `systems` may name: the profile's systems and processors.
        systems=sorted(set(ctx.profile.systems) | set(ctx.profile.processors)),
        **shown.context(),
    )


@router.get("/clients")
def clients_page(
    http: HttpRequest, session: SessionDep, ctx: ContextDep, done: str | None = None
) -> Response:
    """The integration clients (as `GET /v1/staff/clients`, never their secrets)."""
    return _opened(http, session, ctx, CPO, _clients_page, done, ("revoked",))


def _secret_page(http, ctx, principal, issued: clients.Issued, kind: str) -> Response:
    """The secret, once: this page answers the POST (no redirect; `no-store` as every page);
    afterwards only a keyed hash of it is kept."""
    return _page(
        http, ctx, principal, "admin_secret.html", credentials=client_credentials(issued), kind=kind
    )


@router.post("/clients")
def create_client(
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    name: Text = "",
    scopes: Many = [],  # noqa: B006 (FastAPI copies defaults)
    systems: Many = [],  # noqa: B006
) -> Response:
    """Grant a client (as `POST /v1/staff/clients`): its secret is on the answering page."""
    _pages(http).check_csrf(http, csrf)

    def do(principal: StaffPrincipal) -> Response:
        body = ClientCreate.model_validate({"name": name, "scopes": scopes, "systems": systems})
        issued = clients.create(
            session,
            ctx,
            name=body.name,
            scopes=list(body.scopes),
            systems=list(body.systems),
            actor=principal.actor,
        )
        return _secret_page(http, ctx, principal, issued, "created")

    values = {"name": name[:80], "scopes": scopes[:10], "systems": systems[:60]}
    again = _again(http, session, ctx, _clients_page, "create", values)
    return _acting(http, session, ctx, CPO, do, again)


def _client_action(
    http: HttpRequest,
    session: Session,
    ctx: AppContext,
    client_id: str,
    act: Callable[[StaffPrincipal], Response],
) -> Response:
    """`act` on a client; its refusal beside the client's row."""

    def do(principal: StaffPrincipal) -> Response:
        return act(principal) if _known(client_id) else _not_found(http, ctx, principal)

    again = _again(http, session, ctx, _clients_page, f"client:{client_id[:60]}")
    return _acting(http, session, ctx, CPO, do, again, lambda _p: words.CLIENT_REVOKED)


@router.post("/clients/{client_id}/rotate")
def rotate_client(
    client_id: str, http: HttpRequest, session: SessionDep, ctx: ContextDep, csrf: CsrfDep = ""
) -> Response:
    """A new secret (as `POST /v1/staff/clients/{id}/rotate`): the old one and its tokens stop
    working at once; the new one is on the answering page."""
    _pages(http).check_csrf(http, csrf)

    def act(principal: StaffPrincipal) -> Response:
        issued = clients.rotate(session, ctx, client_id, actor=principal.actor)
        return _secret_page(http, ctx, principal, issued, "rotated")

    return _client_action(http, session, ctx, client_id, act)


@router.post("/clients/{client_id}/revoke")
def revoke_client(
    client_id: str, http: HttpRequest, session: SessionDep, ctx: ContextDep, csrf: CsrfDep = ""
) -> Response:
    """Revoke the client (as `DELETE /v1/staff/clients/{id}`)."""
    _pages(http).check_csrf(http, csrf)

    def act(principal: StaffPrincipal) -> Response:
        clients.revoke(session, ctx, client_id, actor=principal.actor)
        return _pages(http).redirect("/console/admin/clients?done=revoked")

    return _client_action(http, session, ctx, client_id, act)


# -- webhooks --------------------------------------------------------------------------------


def _webhooks_page(
    http: HttpRequest, session: Session, ctx: AppContext, principal: StaffPrincipal, shown: Shown
) -> Response:
    endpoints = []
    for row in webhooks.listing(session, limit=200, cursor=None)[0]:
        rows, more = webhooks.deliveries(session, row.id, limit=DELIVERIES_SHOWN, cursor=None)
        endpoints.append(
            {
                "hook": webhook_public(row),
                "deliveries": [delivery_public(d) for d in rows],
                "more": more is not None,
            }
        )
    return _page(
        http,
        ctx,
        principal,
        "admin_webhooks.html",
        shown.status_code,
        endpoints=endpoints,
        **shown.context(),
    )


@router.get("/webhooks")
def webhooks_page(
    http: HttpRequest, session: SessionDep, ctx: ContextDep, done: str | None = None
) -> Response:
    """The webhook endpoints, each with its latest deliveries (as `GET /v1/staff/webhooks`
    and `…/deliveries`)."""
    return _opened(http, session, ctx, CPO, _webhooks_page, done, ("retried",))


@router.post("/webhooks/deliveries/{delivery_id}/retry")
def retry_delivery(
    delivery_id: str, http: HttpRequest, session: SessionDep, ctx: ContextDep, csrf: CsrfDep = ""
) -> Response:
    """Send a failed delivery once more (as `POST /v1/staff/webhooks/deliveries/{id}/retry`):
    it is due at once, and the commit wakes the deliverer."""
    _pages(http).check_csrf(http, csrf)

    def do(principal: StaffPrincipal) -> Response:
        if not _known(delivery_id):
            return _not_found(http, ctx, principal)
        webhooks.retry(session, ctx, delivery_id, actor=principal.actor)
        return _pages(http).redirect("/console/admin/webhooks?done=retried")

    again = _again(http, session, ctx, _webhooks_page, f"delivery:{delivery_id[:60]}")
    return _acting(http, session, ctx, CPO, do, again, _retry_conflict)


# -- the profile -----------------------------------------------------------------------------


@router.get("/profile")
def profile_page(http: HttpRequest, ctx: ContextDep) -> Response:
    """The policy profile as loaded: what `GET /v1/profile/public` serves, and the retention
    rules, processors and systems behind it."""
    principal, refusal = _who(http, ctx, OVERSEERS)
    if refusal is not None:
        return refusal
    return _page(
        http,
        ctx,
        principal,
        "admin_profile.html",
        public=public_profile(ctx.profile),
        profile=ctx.profile,
    )
