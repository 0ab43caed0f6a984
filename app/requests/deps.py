"""Route dependencies on one request (staff routes that change it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlmodel import Session

from app.core.deps import IfMatch, SessionDep, resolve_request_id
from app.models import Request
from app.requests.locks import lock_checked


@dataclass(frozen=True)
class RequestToChange:
    """The request a staff action changes, from the path and If-Match (428 when missing).
    `lock()` loads it, locks it and checks the version (404, 412): called by the route, after
    its body is read, so a bad body is still refused first."""

    session: Session
    request_id: str
    version: int

    def lock(self) -> Request:
        # Locked first (request row, then the access record: the one lock order), so of
        # writers racing with the same If-Match one proceeds and the others are told 412.
        return lock_checked(self.session, self.request_id, self.version)


def _to_change(request_id: str, version: IfMatch, session: SessionDep) -> RequestToChange:
    # `{request_id}` is the id or the reference, as on the public routes.
    return RequestToChange(session, resolve_request_id(session, request_id), version)


ToChange = Annotated[RequestToChange, Depends(_to_change)]
