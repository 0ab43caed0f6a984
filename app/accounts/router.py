"""`POST /v1/auth/token`: staff log in with the OAuth2 password form (so the OpenAPI
"Authorize" button works); integration clients use the client-credentials grant."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Form, Response, status
from fastapi import Request as HttpRequest

from app.accounts import clients, service, sessions
from app.accounts.schemas import Role, StaffToken
from app.core import rate_limit
from app.core.deps import AnyStaff, ContextDep, SessionDep, client_ip
from app.core.errors import Problem

router = APIRouter(prefix="/v1/auth", tags=["auth"])


def _basic(http: HttpRequest) -> tuple[str, str] | str | None:
    """Client id and secret from HTTP Basic (RFC 6749 §2.3.1: each form-urlencoded first);
    None without Basic; a reason (str) when the header is malformed."""
    header = http.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "malformed Basic credentials"
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return "malformed Basic credentials"
    return unquote(client_id), unquote(secret)


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse_non_form(http: HttpRequest) -> None:
    """JSON (or anything else) sent here would read as an empty form and be answered "username
    required": say instead that this is the OAuth2 form (RFC 6749 §4.3.2, §4.4.2)."""
    sent = http.headers.get("content-type")
    media = (sent or "").split(";")[0].strip().lower()
    has_body = http.headers.get("content-length", "0") not in ("", "0") or (
        "transfer-encoding" in http.headers
    )
    if media in _FORMS or (sent is None and not has_body):
        return
    raise Problem(
        415,
        "unsupported-media-type",
        "This is the OAuth2 token endpoint: send a form (`Content-Type: "
        "application/x-www-form-urlencoded`), not "
        + (f"`{media[:100]}`" if media else "a body without a Content-Type")
        + ", with `username` (the e-mail) and `password`, or `grant_type=client_credentials` "
        "with `client_id` and `client_secret`.",
        accept="application/x-www-form-urlencoded",
    )


@router.post(
    "/token",
    response_model=StaffToken,
    response_model_exclude_none=True,
    responses={
        400: {"description": "Unsupported grant type, missing fields, or an ungranted scope"},
        401: {"description": "Wrong e-mail or password, or an invalid client"},
        415: {"description": "Not a form (e.g. JSON): send application/x-www-form-urlencoded"},
        423: {"description": "Locked after repeated failures; see Retry-After"},
        429: {"description": "Too many attempts from this address or for this account"},
    },
)
def token(
    session: SessionDep,
    ctx: ContextDep,
    http: HttpRequest,
    grant_type: Annotated[
        str | None,
        Form(description="`password` (staff, the default) or `client_credentials`."),
    ] = None,
    username: Annotated[str | None, Form(max_length=254, description="Staff e-mail.")] = None,
    password: Annotated[str | None, Form(max_length=1000, description="Staff password.")] = None,
    scope: Annotated[
        str | None, Form(max_length=500, description="Clients: a subset of the granted scopes.")
    ] = None,
    client_id: Annotated[
        str | None, Form(max_length=200, description="Clients (or use HTTP Basic).")
    ] = None,
    client_secret: Annotated[
        str | None, Form(max_length=200, description="Clients (or use HTTP Basic).")
    ] = None,
    refresh_token: Annotated[
        str | None,
        Form(max_length=200, description="Staff, with `grant_type=refresh_token`."),
    ] = None,
) -> StaffToken:
    """Get a short-lived bearer token.

    Staff: the OAuth2 password form, e-mail as `username`. Five wrong passwords in a row lock
    the account for 15 minutes; every log-in, failure and lock-out is in the access record.

    The answer carries a `refresh_token` too. Before the access token expires (`expires_in`
    seconds), send `grant_type=refresh_token` with it: the answer is a new access token and
    a new refresh token, and the old refresh token is spent. Using a spent one again ends the
    whole session (a sign that it was stolen), as do log-out (`POST /v1/auth/logout`), a
    deactivation, a role change or a password reset. A session idle for
    RIGHTSDESK_STAFF_IDLE_MINUTES (30) or older than RIGHTSDESK_STAFF_SESSION_HOURS (12)
    cannot be refreshed: log in again.

    Integration clients: `grant_type=client_credentials` with `client_id` and `client_secret`
    in the form or as HTTP Basic (RFC 6749 §2.3.1), and optionally `scope` (a subset of the
    granted scopes). The token opens the integration routes only.
    """
    _refuse_non_form(http)
    ip = client_ip(http)
    if grant_type == "client_credentials":
        basic = _basic(http)
        if isinstance(basic, str):
            rate_limit.guard(ctx, "client_token", ip=ip)
            raise clients.refuse(session, ctx, basic=True, ip=ip, reason=basic)
        if basic is not None:
            cid, secret = basic
        elif client_id and client_secret:
            cid, secret = client_id, client_secret
        else:
            rate_limit.guard(ctx, "client_token", ip=ip)
            raise clients.refuse(session, ctx, basic=False, ip=ip, reason="no credentials")
        # Every way in (form, multipart, Basic) ends here: a NUL matches no client and would
        # reach PostgreSQL (which cannot hold one); it is a failed attempt like any other.
        if "\x00" in cid or "\x00" in secret:
            rate_limit.guard(ctx, "client_token", ip=ip)
            raise clients.refuse(
                session, ctx, basic=basic is not None, ip=ip, reason="malformed credentials"
            )
        rate_limit.guard(ctx, "client_token", ip=ip, identifier=cid)
        done = clients.issue(
            session,
            ctx,
            client_id=cid,
            secret=secret,
            requested=scope.split() if scope else None,
            basic=basic is not None,
            ip=ip,
        )
        return StaffToken(
            access_token=done.token, expires_in=done.expires_in, scope=" ".join(done.scopes)
        )
    if grant_type == "refresh_token":
        if not refresh_token:
            raise Problem(
                422,
                "validation-error",
                "Send the `refresh_token` from the last token answer.",
                errors=[{"field": "refresh_token", "code": "missing", "message": "required"}],
            )
        if "\x00" in refresh_token:
            rate_limit.guard(ctx, "login", ip=ip)
            raise sessions.refuse_malformed(session, ctx, ip=ip)
        done = sessions.refresh(session, ctx, refresh_token, ip=ip)
        return StaffToken(
            access_token=service.access_token(ctx, done.user, done.session_id),
            expires_in=ctx.settings.staff_token_ttl_seconds,
            refresh_token=done.refresh_token,
            role=Role(done.user.role),
        )
    if grant_type not in (None, "password"):
        raise Problem(
            400,
            "unsupported-grant-type",
            "grant_type must be password or refresh_token (staff), or client_credentials "
            "(integrations).",
            error="unsupported_grant_type",
        )
    if not username or password is None:
        raise Problem(
            422,
            "validation-error",
            "Staff log in with `username` (the e-mail) and `password` as an OAuth2 form.",
            errors=[
                {"field": name, "code": "missing", "message": "required"}
                for name, value in (("username", username), ("password", password))
                if not value and (name == "username" or value is None)
            ],
        )
    done = service.password_grant(session, ctx, username=username, password=password, ip=ip)
    return StaffToken(
        access_token=done.token,
        expires_in=done.expires_in,
        refresh_token=done.refresh_token,
        role=Role(done.user.role),
    )


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: {"description": "No staff token, or its session has already ended"}},
)
def logout(principal: AnyStaff, session: SessionDep, ctx: ContextDep) -> Response:
    """End the caller's staff session: its access token and refresh token stop working at
    once (and the console's cookie, for a console session). Recorded in the access record."""
    sessions.log_out(
        session, ctx, principal.session_id, actor=principal.actor.label, ip=principal.ip
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
