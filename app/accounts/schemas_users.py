"""Bodies and views of staff-account administration (`/v1/staff/users`, CPO only)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr, Field, model_validator

from app.accounts.schemas import Role
from app.core.validation import StrictBody


class StaffUserCreate(StrictBody):
    email: EmailStr = Field(max_length=254, description="The log-in e-mail (case does not matter).")
    role: Role = Field(
        description="`cpo` (everything), `handler` (works requests) or `auditor` (reads only)."
    )
    password: str = Field(
        min_length=1,
        max_length=1000,
        description="The first password, at least RIGHTSDESK_PASSWORD_MIN_LENGTH (default 12) "
        "characters; stored only as an argon2 hash. Hand it over out of band.",
    )


class StaffUserUpdate(StrictBody):
    role: Role | None = Field(None, description="The new role; takes effect at once.")
    active: bool | None = Field(
        None,
        description="`false` deactivates: log-in is refused and the account's tokens stop "
        "working at once. `true` reactivates.",
    )
    unlock: Literal[True] | None = Field(
        None, description="`true` clears a lock-out after failed log-ins, and the failure count."
    )

    @model_validator(mode="after")
    def _something(self) -> StaffUserUpdate:
        if self.role is None and self.active is None and self.unlock is None:
            raise ValueError("send at least one of role, active, unlock")
        return self


class StaffUserPublic(BaseModel):
    id: str
    email: str
    role: Role
    active: bool
    locked: bool = Field(description="Locked out by failed log-ins right now.")
    locked_until: datetime | None = Field(None, description="While locked: until when.")
    failed_logins: int = Field(description="Failed log-ins since the last success or unlock.")
    last_login_at: datetime | None
    created_at: datetime


class StaffUserList(BaseModel):
    items: list[StaffUserPublic]
    next_cursor: str | None
