"""Staff on duplicates: merge a later filing into the earlier request, or unlink it. Both take
If-Match, like every staff write on a request; `{request_id}` and `into` take the id or the
reference."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.deps import ContextDep, IfMatch, Operator, SessionDep
from app.core.responses import IF_MATCH_MISSING, ON_A_REQUEST, STALE
from app.workflow import duplicates
from app.workflow.schemas import MergeIn, RequestStaffView
from app.workflow.views import staff_view

router = APIRouter(prefix="/v1/staff", tags=["staff: workflow"])


@router.post(
    "/requests/{request_id}/merge",
    response_model=RequestStaffView,
    responses={
        **ON_A_REQUEST,
        409: {
            "description": "The request is closed already (merged, withdrawn …) or is being "
            "carried out, or `into` is closed"
        },
        **STALE,
        **IF_MATCH_MISSING,
        422: {
            "description": "`into` is this request, another right, another subject's, a "
            "proxy's (not linked at filing), or no request"
        },
    },
)
def merge(
    request_id: str,
    body: MergeIn,
    principal: Operator,
    version: IfMatch,
    session: SessionDep,
    ctx: ContextDep,
) -> RequestStaffView:
    """Close this request as `merged` into `into`, the earlier request that stands: allowed
    when this request is marked `duplicate_of` it, or both are the same subject's (same
    e-mail) for the same right, both open and neither filed by a proxy. Only before a
    decision (`pending_verification`, `open`, `in_progress`). Its clock stops (never overdue,
    out of the open counts), its open tasks are cancelled, and the filer gets a notice naming
    the reference that carries on. A request already closed answers 409 whatever the If-Match,
    so of two merges racing one succeeds and the other gets 409."""
    request = duplicates.merge(session, ctx, request_id, version, body.into, principal)
    return staff_view(session, ctx, request, ctx.clock.now(), principal)


@router.delete(
    "/requests/{request_id}/duplicate-of",
    response_model=RequestStaffView,
    responses={
        **ON_A_REQUEST,
        409: {"description": "Not marked as a duplicate, or closed"},
        **STALE,
        **IF_MATCH_MISSING,
    },
)
def unlink(
    request_id: str,
    principal: Operator,
    version: IfMatch,
    session: SessionDep,
    ctx: ContextDep,
) -> RequestStaffView:
    """Clear `duplicate_of`: the request is not a duplicate and is handled on its own. In the
    timeline and the access record as `duplicate.unlinked`."""
    request = duplicates.unlink(session, ctx, request_id, version, principal)
    return staff_view(session, ctx, request, ctx.clock.now(), principal)
