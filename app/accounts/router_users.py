"""(cpo) Staff accounts: create, list, change role, deactivate or reactivate, unlock
(`/v1/staff/users`). Every change is in the access record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from app.accounts import service
from app.accounts.schemas import Role
from app.accounts.schemas_users import (
    StaffUserCreate,
    StaffUserList,
    StaffUserPublic,
    StaffUserUpdate,
)
from app.core.deps import CPO, ContextDep, SessionDep
from app.core.paging import page
from app.core.responses import CPO_ONLY

router = APIRouter(prefix="/v1/staff/users", tags=["staff: accounts"])

_AUTH = CPO_ONLY
_INVALID = {422: {"description": "A field is invalid; `errors` names it"}}


@router.get("", response_model=StaffUserList, responses={**_AUTH, **_INVALID})
def list_users(
    principal: CPO,
    session: SessionDep,
    ctx: ContextDep,
    role: Annotated[Role | None, Query(description="Only accounts with this role.")] = None,
    active: Annotated[
        bool | None, Query(description="Only active (`true`) or deactivated (`false`) accounts.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page.")
    ] = None,
) -> StaffUserList:
    """The staff accounts, oldest first, with whether each is locked out (never a password or
    hash). Page with `next_cursor` until it is null."""
    rows, more = page(
        service.listing(session, limit=limit + 1, after=cursor, role=role, active=active), limit
    )
    now = ctx.clock.now()
    return StaffUserList(
        items=[service.public(u, now) for u in rows],
        next_cursor=rows[-1].id if more and rows else None,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffUserPublic,
    responses={
        **_AUTH,
        409: {"description": "An account with this e-mail exists"},
        422: {
            "description": "A bad e-mail, an unknown role or a short password; `errors` names "
            "the field"
        },
    },
)
def create_user(
    body: StaffUserCreate, principal: CPO, session: SessionDep, ctx: ContextDep
) -> StaffUserPublic:
    """Create an active staff account `{email, role, password}`; the person logs in at
    `POST /v1/auth/token` with that e-mail and password. The grant is in the access record
    (action `grant`)."""
    user = service.create_user(
        session,
        ctx,
        email=body.email,
        role=body.role,
        password=body.password,
        created_by=principal.actor.label,
        ip=principal.ip,
    )
    return service.public(user, ctx.clock.now())


@router.patch(
    "/{user_id}",
    response_model=StaffUserPublic,
    responses={
        **_AUTH,
        404: {"description": "No such account"},
        409: {
            "description": "The last active CPO cannot be demoted or deactivated "
            "(`reason: last_active_cpo`), nor can a CPO deactivate their own account "
            "(`reason: own_account`)"
        },
        **_INVALID,
    },
)
def change_user(
    user_id: Annotated[str, Path(max_length=254, description="The account's id.")],
    body: StaffUserUpdate,
    principal: CPO,
    session: SessionDep,
    ctx: ContextDep,
) -> StaffUserPublic:
    """Change an account: any of `role`, `active` (`false` deactivates, `true` reactivates)
    and `unlock: true` (clears a lock-out after failed log-ins). Returns the account as it is
    now.

    Takes effect at once: a deactivation or a new role ends the account's sessions, so its
    existing tokens are refused (401) on their next call; a deactivated account cannot log
    in, and a new log-in carries the new role.
    Each change is one access-record entry (`role_changed` with `from` and `to`,
    `deactivated`, `activated`, `unlocked`); asking for what is already so changes and records
    nothing. The company always keeps an active CPO: demoting or deactivating the last one is
    a 409, and so is deactivating your own account."""
    user = service.change(
        session,
        ctx,
        user_id,
        actor=principal.actor,
        role=body.role,
        active=body.active,
        unlock=bool(body.unlock),
    )
    return service.public(user, ctx.clock.now())
