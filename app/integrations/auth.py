"""Who is calling an integration route: a client with a token from the client-credentials
grant, and the scopes the route needs (visible in the signature and in OpenAPI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from fastapi.security.utils import get_authorization_scheme_param

from app.accounts import clients
from app.core.actors import Actor
from app.core.context import AppContext
from app.core.deps import client_ip
from app.core.errors import NotFound, Problem, Unauthorized
from app.core.security import AUD_INTEGRATION, TokenError, read_token, token_audience
from app.models import ApiClient

_client_credentials = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl="/v1/auth/token",
            scopes={
                clients.REQUESTS_WRITE: "File requests.",
                clients.REQUESTS_READ: "Read the requests this client filed.",
                clients.REQUESTS_VERIFIED: "File with identity_verified (logged-in users).",
                clients.TASKS_READ: "See the tasks of this client's systems.",
                clients.TASKS_WRITE: "Confirm the tasks of this client's systems.",
            },
        )
    ),
    scheme_name="IntegrationClient",
    description="Integrations: client id and secret at POST /v1/auth/token "
    "(grant_type=client_credentials).",
    auto_error=False,
)


@dataclass(frozen=True)
class ClientPrincipal:
    id: str
    name: str
    scopes: frozenset[str]
    systems: tuple[str, ...]
    ip: str | None

    @property
    def actor(self) -> Actor:
        return Actor("integration", self.id, self.ip)

    def owns(self, client_id: str | None) -> None:
        """The one owner check for requests: a client reads what it filed, nothing else (404,
        so ids of other requests cannot be probed)."""
        if client_id != self.id:
            raise NotFound("No such request.")

    def holds_system(self, system: str | None) -> None:
        """The one owner check for tasks: those of the client's own systems (404 otherwise)."""
        if system is None or system not in self.systems:
            raise NotFound("No such task.")


def _unauthorized(detail: str) -> Problem:
    return Unauthorized(detail, invalid_token=True)


def _principal(
    request: Request, scopes: SecurityScopes, authorization: str | None
) -> ClientPrincipal:
    ctx: AppContext = request.app.state.ctx
    scheme, token = get_authorization_scheme_param(authorization)
    if not authorization or scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "Get a token at /v1/auth/token (grant_type=client_credentials) and send it as Bearer."
        )
    now = ctx.clock.now()
    try:
        claims = read_token(ctx.secret_key, token, audience=AUD_INTEGRATION, now=now)
    except TokenError as exc:
        if token_audience(ctx.secret_key, token, now=now) is not None:
            raise Problem(
                403, "forbidden", "Only an integration client's token opens integration routes."
            ) from None
        raise _unauthorized(f"The token is not accepted ({exc}).") from None
    # The client as it is now: revoking or rotating ends its tokens at once.
    with ctx.db.session(write=False) as session:
        client = session.get(ApiClient, claims["sub"])
    if not clients.token_still_good(client, claims.get("gen")):
        raise _unauthorized("The client was revoked or its secret rotated; get a new token.")
    granted = frozenset(str(claims.get("scope", "")).split()) & frozenset(client.scopes)
    missing = [s for s in scopes.scopes if s not in granted]
    if missing:
        raise Problem(
            403,
            "insufficient-scope",
            f"This needs the scope {' and '.join(missing)}.",
            headers={
                "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scopes.scope_str}"'
            },
            required_scopes=missing,
        )
    return ClientPrincipal(
        client.id, client.name, granted, tuple(client.systems), client_ip(request)
    )


def _dependency(
    request: Request,
    security_scopes: SecurityScopes,
    authorization: Annotated[str | None, Depends(_client_credentials)],
) -> ClientPrincipal:
    return _principal(request, security_scopes, authorization)


def Integration(*scopes: str):
    """`Integration("requests:write")`: a client whose token carries these scopes."""
    return Security(_dependency, scopes=list(scopes))


Filer = Annotated[ClientPrincipal, Integration(clients.REQUESTS_WRITE)]
Reader = Annotated[ClientPrincipal, Integration(clients.REQUESTS_READ)]
TaskReader = Annotated[ClientPrincipal, Integration(clients.TASKS_READ)]
TaskWriter = Annotated[ClientPrincipal, Integration(clients.TASKS_WRITE)]
