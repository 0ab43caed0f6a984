"""Staff accounts as the API shows them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Role(StrEnum):
    cpo = "cpo"  # 개인정보 보호책임자: everything
    handler = "handler"  # 담당자: works the requests assigned to them
    auditor = "auditor"  # reads only: the queue, requests, the access record


class StaffPublic(BaseModel):
    id: str
    email: str
    role: Role


class StaffToken(BaseModel):
    """A bearer token: a staff member's (with `role`) or an integration client's (with
    `scope`)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str | None = Field(
        None,
        description="Staff: spend it once at POST /v1/auth/token with "
        "`grant_type=refresh_token` for a new pair; a second use ends the session.",
    )
    role: Role | None = Field(None, description="Staff: the account's role.")
    scope: str | None = Field(
        None, description="Integration clients: the granted scopes, space-separated."
    )
