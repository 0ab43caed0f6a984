"""The portal's pages (`/portal`): each handler reads the form, calls the service function the
API's route calls (with the same rate limits), and renders a page or redirects (POST →
redirect → GET). No SQL, no rule of its own."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi import Request as HttpRequest
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from app.core import rate_limit
from app.core.actors import Actor
from app.core.config import Environment
from app.core.context import AppContext
from app.core.deps import (
    ContextDep,
    SessionDep,
    WriteSessionDep,
    client_ip,
    owned_request_id,
    resolve_request_id,
)
from app.core.errors import Problem
from app.core.group_writer import Later
from app.intake import flows
from app.law.deadlines import STATUTORY_DAYS
from app.law.rights import Channel
from app.portal import views
from app.portal.company import public_profile
from app.portal.forms import body_from_form, field_errors
from app.portal.session import SESSION_COOKIE, signed_in
from app.requests import service as requests
from app.requests.schemas import CodeIn, RequestCreate, SignInIn
from app.results import service as results
from app.results.router import MEDIA
from app.verification import documents
from app.verification import service as verification
from app.web.forms import problem_from_validation
from app.web.pages import CSRF_FIELD, Pages, on_csrf_refused, switch_language
from app.web.theme import check_primary, read_logo, theme_css
from app.web.words import seoul_day
from app.workflow import service as workflow
from app.workflow.schemas import ObjectionIn
from app.workflow.views import public_view

router = APIRouter(prefix="/portal", include_in_schema=False)

WAIT_COOKIE = "rd_wait"  # when the next code may be asked for (epoch seconds): no lookup, no leak
KINDS = ("self", "legal_representative", "delegate")
CsrfDep = Annotated[str, Form(alias=CSRF_FIELD)]


def _pages(http: HttpRequest) -> Pages:
    return http.app.state.portal_pages


def _base(http: HttpRequest, ctx: AppContext) -> dict[str, Any]:
    """What the shell shows on every page."""
    company = public_profile(ctx)
    lang = _pages(http).language(http)
    here = http.url.path
    return {
        "site_name": company["name_ko"] if lang == "ko" else company["name_en"],
        "company": company,
        "home": "/portal/",
        "logo_url": "/portal/logo" if http.app.state.portal_logo else None,
        "theme_css": "/portal/theme.css" if http.app.state.portal_theme else None,
        "language_url": f"/portal/language/{'en' if lang == 'ko' else 'ko'}?next={here}",
        "signed_in": signed_in(http, ctx) is not None,
    }


def _page(
    http: HttpRequest, ctx: AppContext, template: str, status_code: int = 200, **context
) -> Response:
    return _pages(http).render(
        http, template, {**_base(http, ctx), **context}, status_code=status_code
    )


def _refused_csrf(http: HttpRequest, ctx: AppContext) -> Response:
    return _page(http, ctx, "message.html", 403, kind="csrf")


def _not_found(http: HttpRequest, ctx: AppContext) -> Response:
    return _page(http, ctx, "message.html", 404, kind="not_found")


def _problem_page(http: HttpRequest, ctx: AppContext, problem: Problem) -> Response:
    kinds = {404: "not_found", 410: "purged", 429: "rate_limited", 409: "conflict"}
    return _page(
        http,
        ctx,
        "message.html",
        problem.status,
        kind=kinds.get(problem.status, "error"),
        retry_after=problem.extra.get("retry_after"),
    )


def _set_wait(http: HttpRequest, ctx: AppContext, response: Response, seconds: int) -> None:
    until = int(ctx.clock.now().timestamp()) + seconds
    _pages(http).set_cookie(response, WAIT_COOKIE, str(until), max_age=max(seconds, 1))


def _wait_left(http: HttpRequest, ctx: AppContext) -> int:
    try:
        until = int(http.cookies.get(WAIT_COOKIE, "0"))
    except ValueError:
        return 0
    return max(0, math.ceil(until - ctx.clock.now().timestamp()))


def _filled(**fields: str) -> dict[str, str]:
    """The fields a person filled in: an empty input is a missing field, as in the filing."""
    return {name: value.strip() for name, value in fields.items() if value.strip()}


def _reference_path(reference: str) -> str:
    return f"/portal/requests/{reference.upper()}"


# -- start, theme and language ---------------------------------------------------------------


@router.get("/")
def start(http: HttpRequest, ctx: ContextDep, done: str | None = None) -> Response:
    return _page(http, ctx, "start.html", statutory_days=STATUTORY_DAYS, request_done=done)


@router.get("/theme.css")
def theme(http: HttpRequest) -> Response:
    """The company's primary colour, as a stylesheet (the CSP allows no inline style)."""
    css = http.app.state.portal_theme
    if css is None:
        return Response(status_code=404)
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/logo")
def logo(http: HttpRequest) -> Response:
    found = http.app.state.portal_logo
    if found is None:
        return Response(status_code=404)
    content, media = found
    return Response(content, media_type=media, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/language/{lang}")
def language(lang: str, http: HttpRequest, next: str = "/portal/") -> Response:
    """Korean by default; English by this switch, kept in a cookie."""
    return switch_language(_pages(http), lang, next, "/portal/")


# -- filing -----------------------------------------------------------------------------------


def _filing_context(
    ctx: AppContext, lang: str, kind: str, values: dict, errors: dict, error_list=()
) -> dict[str, Any]:
    company = public_profile(ctx)
    return {
        "error_list": list(error_list),
        "kind": kind,
        "values": values,
        "errors": errors,
        "categories_options": [
            (c["key"], c["name_ko"] if lang == "ko" else c["name_en"])
            for c in company["categories"]
        ],
        "chosen": values.get("categories", []),
        # A withdrawal of consent (PIPA Art. 37(1), (3)) names the profile's consents.
        "consent_options": [
            (c["id"], c["label_ko"] if lang == "ko" else c["label_en"]) for c in company["consents"]
        ],
        "chosen_consents": values.get("scope.consents", []),
        # An automated decision (PIPA Art. 37-2): what is asked, and of which declared one.
        "automated_days": next(
            (r["days"] for r in company["rights"] if r["type"] == "automated_decision"), None
        ),
        # Transmission (PIPA Art. 35-2): only where the profile says the company is covered.
        "transmission": any(r["type"] == "transmission" for r in company["rights"]),
        "decision_options": [
            (d["id"], d["description_ko"] if lang == "ko" else d["description_en"])
            for d in company["automated_decisions"]
        ],
        "correction_rows": 3,
    }


@router.get("/file")
def file_form(
    http: HttpRequest, ctx: ContextDep, kind: Annotated[str, Query(alias="for")] = "self"
) -> Response:
    kind = kind if kind in KINDS else "self"
    return _page(
        http, ctx, "file.html", **_filing_context(ctx, _pages(http).language(http), kind, {}, {})
    )


@router.post("/file")
async def file_submit(http: HttpRequest, ctx: ContextDep) -> Response:
    """The same filing as POST /v1/requests: the same schema, limits and service."""
    pages = _pages(http)
    form = await http.form()
    pages.check_csrf(http, form.get(CSRF_FIELD))  # type: ignore[arg-type]
    kind = form.get("requester.kind") or "self"
    kind = kind if kind in KINDS else "self"
    values: dict[str, Any] = {
        k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD
    }
    values["categories"] = [v for v in form.getlist("categories") if isinstance(v, str)]
    values["scope.consents"] = [v for v in form.getlist("scope.consents") if isinstance(v, str)]
    values["power_of_attorney.rights"] = [
        v for v in form.getlist("power_of_attorney.rights") if isinstance(v, str)
    ]
    t = pages.translator(http)

    def refused(problem: Problem) -> Response:
        errors = field_errors(problem, t.gettext)
        return _page(
            http,
            ctx,
            "file.html",
            **_filing_context(ctx, t.lang, kind, values, errors, views.error_list(errors, t)),
        )

    try:
        data = RequestCreate.model_validate(body_from_form(form, locale=t.lang))
    except ValidationError as exc:
        return refused(problem_from_validation(exc))
    ip = client_ip(http)
    actor = Actor("subject", None, ip)

    def file(session: Session):
        # Two steps, as the API's filing route: the group writer runs the second (number,
        # rows, entry: what every filing shares) after the first step of every filing.
        now = ctx.clock.now()
        return Later(
            flows.file(session, ctx, data, channel=Channel.portal, received_at=now, actor=actor)
        )

    try:
        filed = await ctx.intake_writer.run(file, rate_limit.hits(ctx, "filing", ip=ip))
    except Problem as problem:
        if problem.status == 422:
            return refused(problem)
        return _problem_page(http, ctx, problem)
    response = pages.redirect(_reference_path(filed.reference) + "/code?sent=filed")
    _set_wait(http, ctx, response, ctx.settings.code_resend_cooldown_seconds)
    return response


# -- the code, resend, sign-in, sign-out -----------------------------------------------------


@router.get("/requests/{reference}/code")
def code_form(
    reference: str, http: HttpRequest, ctx: ContextDep, sent: str | None = None
) -> Response:
    if not views.REFERENCE.match(reference):
        return _not_found(http, ctx)
    return _page(
        http,
        ctx,
        "code.html",
        reference=reference.upper(),
        sent=sent,
        wait=_wait_left(http, ctx),
        errors={},
        error_list=[],
        values={},
    )


@router.post("/requests/{reference}/code")
def code_submit(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    """The same check as POST /v1/requests/{id}/verification; the token becomes the cookie."""
    pages = _pages(http)
    pages.check_csrf(http, csrf)
    t = pages.translator(http)

    def wrong(problem: Problem) -> Response:
        errors = field_errors(problem, t.gettext)
        if problem.status != 422:
            errors = {"code": t.gettext(views.code_message(problem.slug))}
        return _page(
            http,
            ctx,
            "code.html",
            reference=reference.upper(),
            sent=None,
            wait=_wait_left(http, ctx),
            errors=errors,
            error_list=views.error_list(errors, t),
            values={},
        )

    try:
        body = CodeIn.model_validate(_filled(code=code))
    except ValidationError as exc:
        return wrong(problem_from_validation(exc))
    ip = client_ip(http)
    try:
        request_id = rate_limit.guard(
            ctx, "code_check", ip=ip, identifier=partial(resolve_request_id, key=reference)
        )
        request = requests.get(session, request_id)
        done = verification.verify_code(
            session, ctx, request, body.code, Actor("subject", request.id, ip)
        )
    except Problem as problem:
        if not problem.commit:
            session.rollback()
        # An unknown reference reads like a wrong code: the page tells nothing more.
        if problem.status == 404:
            problem = Problem(400, "code-invalid")
        return wrong(problem)
    response = pages.redirect(_reference_path(request.reference))
    pages.set_cookie(response, SESSION_COOKIE, done.access_token, max_age=done.expires_in)
    return response


@router.post("/requests/{reference}/code/resend")
def code_resend(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
) -> Response:
    """The same resend as POST /v1/requests/{id}/verification/resend, with its limits."""
    pages = _pages(http)
    pages.check_csrf(http, csrf)
    ip = client_ip(http)
    target = _reference_path(reference) + "/code"
    try:
        request_id = rate_limit.guard(
            ctx, "resend", ip=ip, identifier=partial(resolve_request_id, key=reference)
        )
        request = requests.get(session, request_id)
        done = verification.resend(session, ctx, request, Actor("subject", request.id, ip))
    except Problem as problem:
        if not problem.commit:
            session.rollback()
        if problem.status == 429:
            response = pages.redirect(target + "?sent=wait")
            _set_wait(http, ctx, response, int(problem.extra.get("retry_after") or 60))
            return response
        # Unknown reference or no address: the same answer as a sent code, nothing told.
        response = pages.redirect(target + "?sent=resent")
        _set_wait(http, ctx, response, ctx.settings.code_resend_cooldown_seconds)
        return response
    response = pages.redirect(target + "?sent=resent")
    _set_wait(http, ctx, response, done.retry_after)
    return response


@router.get("/sign-in")
def sign_in_form(http: HttpRequest, ctx: ContextDep, reference: str | None = None) -> Response:
    values = (
        {"reference": reference.upper()} if reference and views.REFERENCE.match(reference) else {}
    )
    return _page(http, ctx, "sign_in.html", values=values, errors={}, error_list=[])


@router.post("/sign-in")
def sign_in_submit(
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    reference: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    """The same as POST /v1/requests/sign-in: a code goes out only when both match, and the
    page says the same either way."""
    pages = _pages(http)
    pages.check_csrf(http, csrf)
    t = pages.translator(http)
    values = {"reference": reference, "email": email}
    try:
        body = SignInIn.model_validate(_filled(reference=reference, email=email))
    except ValidationError as exc:
        errors = field_errors(problem_from_validation(exc), t.gettext)
        return _page(
            http,
            ctx,
            "sign_in.html",
            values=values,
            errors=errors,
            error_list=views.error_list(errors, t),
        )
    ip = client_ip(http)
    try:
        rate_limit.guard(ctx, "sign_in", ip=ip, identifier=body.reference.upper())
        verification.sign_in(session, ctx, body.reference, str(body.email), ip)
    except Problem as problem:
        if not problem.commit:
            session.rollback()
        return _problem_page(http, ctx, problem)
    response = pages.redirect(_reference_path(body.reference) + "/code?sent=signin")
    _set_wait(http, ctx, response, ctx.settings.code_resend_cooldown_seconds)
    return response


@router.post("/sign-out")
def sign_out(http: HttpRequest, ctx: ContextDep, csrf: CsrfDep = "") -> Response:
    pages = _pages(http)
    pages.check_csrf(http, csrf)
    response = pages.redirect("/portal/?done=signed_out")
    pages.delete_cookie(response, SESSION_COOKIE)
    return response


# -- the request -------------------------------------------------------------------------------


def _owned(http: HttpRequest, session: Session, ctx: AppContext, reference: str):
    """(request id, principal), or the response to give instead: the sign-in page for a
    visitor without a session, a 404 page for someone else's request (the one owner check)."""
    principal = signed_in(http, ctx)
    if principal is None:
        return None, None, _pages(http).redirect(f"/portal/sign-in?reference={reference.upper()}")
    if not views.REFERENCE.match(reference):
        return None, None, _not_found(http, ctx)
    try:
        return owned_request_id(session, principal, reference), principal, None
    except Problem as problem:
        return None, None, _problem_page(http, ctx, problem)


@router.get("/requests/{reference}")
def request_page(
    reference: str, http: HttpRequest, session: SessionDep, ctx: ContextDep, done: str | None = None
) -> Response:
    request_id, _, refusal = _owned(http, session, ctx, reference)
    if refusal is not None:
        return refusal
    now = ctx.clock.now()
    view = public_view(session, ctx, requests.get(session, request_id), now)
    result = results.find(session, request_id) if "download_result" in view.actions else None
    return _page(
        http,
        ctx,
        "request.html",
        view=view,
        v=views.RequestWords(view, ctx, _pages(http).language(http)),
        result_expires=seoul_day(result.expires_at) if result is not None else None,
        done=done,
        errors={},
        error_list=[],
        values={},
    )


@router.get("/requests/{reference}/withdraw")
def withdraw_confirm(
    reference: str, http: HttpRequest, session: SessionDep, ctx: ContextDep
) -> Response:
    _request_id, _, refusal = _owned(http, session, ctx, reference)
    if refusal is not None:
        return refusal
    return _page(http, ctx, "withdraw.html", reference=reference.upper())


@router.post("/requests/{reference}/withdraw")
def withdraw(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
) -> Response:
    """The same as POST /v1/requests/{id}/withdraw, after the confirmation page."""
    _pages(http).check_csrf(http, csrf)
    request_id, principal, refusal = _owned(http, session, ctx, reference)
    if refusal is not None:
        return refusal
    try:
        flows.withdraw(session, ctx, request_id, reason=None, actor=principal.actor)
    except Problem as problem:
        session.rollback()
        return _problem_page(http, ctx, problem)
    return _pages(http).redirect(_reference_path(reference) + "?done=withdrawn")


@router.post("/requests/{reference}/objections")
def objection(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """The same as POST /v1/requests/{id}/objections."""
    pages = _pages(http)
    pages.check_csrf(http, csrf)
    request_id, principal, refusal = _owned(http, session, ctx, reference)
    if refusal is not None:
        return refusal
    t = pages.translator(http)
    try:
        body = ObjectionIn.model_validate(_filled(reason=reason))
        request = requests.get(session, request_id)
        workflow.object_to(session, ctx, request, body.reason, principal.actor)
    except ValidationError as exc:
        errors = field_errors(problem_from_validation(exc), t.gettext)
        return _request_again(http, session, ctx, request_id, {"reason": reason}, errors)
    except Problem as problem:
        session.rollback()
        return _problem_page(http, ctx, problem)
    return pages.redirect(_reference_path(reference) + "?done=objected")


@router.post("/requests/{reference}/documents")
def upload(
    reference: str,
    http: HttpRequest,
    session: SessionDep,
    ctx: ContextDep,
    csrf: CsrfDep = "",
    kind: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The same as POST /v1/requests/{id}/documents: PDF, PNG or JPEG, judged by content."""
    pages = _pages(http)
    pages.check_csrf(http, csrf)
    request_id, principal, refusal = _owned(http, session, ctx, reference)
    if refusal is not None:
        return refusal
    t = pages.translator(http)
    errors: dict[str, str] = {}
    if kind not in ("power_of_attorney", "identity_proof", "relationship_proof"):
        errors["kind"] = t.gettext("Choose one of the options.")
    if file is None or not file.filename:
        errors["file"] = t.gettext("Choose a PDF, PNG or JPEG file.")
    if not errors:
        try:
            data = file.file.read(ctx.settings.max_document_bytes + 1)
            documents.store(
                session,
                ctx,
                requests.get(session, request_id),
                kind=kind,
                filename=file.filename,
                data=data,
                actor=principal.actor,
            )
        except Problem as problem:
            session.rollback()
            if problem.status in (413, 415, 422):
                errors["file"] = t.gettext(views.document_message(problem.status))
            else:
                return _problem_page(http, ctx, problem)
    if errors:
        return _request_again(http, session, ctx, request_id, {"kind": kind}, errors)
    return pages.redirect(_reference_path(reference) + "?done=uploaded")


def _request_again(
    http: HttpRequest, session: Session, ctx: AppContext, request_id: str, values, errors
) -> Response:
    t = _pages(http).translator(http)
    view = public_view(session, ctx, requests.get(session, request_id), ctx.clock.now())
    return _page(
        http,
        ctx,
        "request.html",
        view=view,
        v=views.RequestWords(view, ctx, t.lang),
        result_expires=None,
        done=None,
        errors=errors,
        error_list=views.error_list(errors, t),
        values=values,
    )


@router.get("/requests/{reference}/result")
def result_download(
    reference: str,
    http: HttpRequest,
    session: WriteSessionDep,
    ctx: ContextDep,
    format: Literal["json", "csv", "zip"] = "json",
) -> Response:
    """The same download as GET /v1/requests/{id}/result (each one in the access record)."""
    request_id, principal, refusal = _owned(http, session, ctx, reference)
    if refusal is not None:
        return refusal
    try:
        body, filename = results.download(
            session, ctx, request_id, fmt=format, actor=principal.actor
        )
    except Problem as problem:
        session.rollback()
        return _problem_page(http, ctx, problem)
    return Response(
        body,
        media_type=MEDIA[format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def install(app, ctx: AppContext) -> None:
    """Mount the portal (RIGHTSDESK_PORTAL=on)."""
    s = ctx.settings
    # The profile's theming first (issue 19.6), the settings' where it says nothing.
    primary = ctx.profile.company.primary_color or s.portal_primary_color
    app.state.portal_theme = theme_css(check_primary(primary)) if primary else None
    logo_path = ctx.profile.company.logo_path or s.portal_logo_path
    app.state.portal_logo = read_logo(Path(logo_path)) if logo_path else None
    app.state.portal_pages = Pages(
        "app.portal",
        cookie_path="/portal",
        secret=ctx.secret_key,
        secure=ctx.settings.env is Environment.production,
    )
    # A form without its CSRF token (or with another browser's) gets the refusal page,
    # whichever handler's check raised it.
    on_csrf_refused(app, "/portal", lambda http: _refused_csrf(http, http.app.state.ctx))
    app.include_router(router)
