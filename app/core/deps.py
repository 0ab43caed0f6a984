"""FastAPI dependencies: the unit of work, the context, and who is calling."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.core.actors import Actor
from app.core.context import AppContext
from app.core.db import commit
from app.core.errors import NotFound, Problem
from app.core.security import AUD_SUBJECT, TokenError, read_token


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


ContextDep = Annotated[AppContext, Depends(get_ctx)]


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per HTTP request, committed once before the response is sent.

    A Problem raised with `commit=True` (a counted wrong code) commits first; any other
    error rolls everything back, so bad input changes nothing.
    """
    ctx: AppContext = request.app.state.ctx
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    with ctx.db.session(write=write) as session:
        try:
            yield session
        except Problem as exc:
            if exc.commit:
                commit(session)
            raise
        commit(session)


# scope="function": the commit runs before the response goes out, not after.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


_bearer = HTTPBearer(auto_error=False, description="A token from the code verification.")


@dataclass(frozen=True)
class SubjectPrincipal:
    request_id: str
    ip: str | None

    @property
    def actor(self) -> Actor:
        return Actor("subject", self.request_id, self.ip)

    def owns(self, request_id: str) -> None:
        """The one owner check: a token opens its own request and no other (404, not 403,
        so a token cannot tell which other ids exist)."""
        if request_id != self.request_id:
            raise NotFound("No such request.")


def subject_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> SubjectPrincipal:
    ctx: AppContext = request.app.state.ctx
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(
            401,
            "unauthorized",
            "Send the token from the verification as a Bearer token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        claims = read_token(
            ctx.secret_key, credentials.credentials, audience=AUD_SUBJECT, now=ctx.clock.now()
        )
    except TokenError as exc:
        raise Problem(
            401,
            "unauthorized",
            f"The token is not accepted ({exc}).",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    return SubjectPrincipal(request_id=claims["sub"], ip=client_ip(request))


SubjectToken = Annotated[SubjectPrincipal, Depends(subject_principal)]
