"""Staff log-in: OAuth2 password form, so the OpenAPI "Authorize" button works."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Request as HttpRequest
from fastapi.security import OAuth2PasswordRequestForm

from app.accounts import service
from app.accounts.schemas import Role, StaffToken
from app.core.deps import ContextDep, SessionDep, client_ip

router = APIRouter(prefix="/v1/auth", tags=["staff auth"])


@router.post(
    "/token",
    response_model=StaffToken,
    responses={
        401: {"description": "Wrong e-mail or password"},
        423: {"description": "Locked after repeated failures; see Retry-After"},
    },
)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    ctx: ContextDep,
    http: HttpRequest,
) -> StaffToken:
    """Log in with e-mail (as `username`) and password; returns a short-lived bearer token.

    Five wrong passwords in a row lock the account for 15 minutes. Every log-in, failure and
    lock-out is written to the access record.
    """
    done = service.log_in(
        session, ctx, email=form.username, password=form.password, ip=client_ip(http)
    )
    return StaffToken(
        access_token=done.token, expires_in=done.expires_in, role=Role(done.user.role)
    )
