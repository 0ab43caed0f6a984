"""The evidence pack through the API: GET /v1/staff/requests/{id}/evidence (CPO, auditor)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator
from sqlmodel import Session

from app.core.context import AppContext
from app.core.deps import (
    ContextDep,
    Overseer,
    StaffPrincipal,
    WriteSessionDep,
    resolve_request_id,
)
from app.core.errors import Problem, ValidationProblem
from app.core.responses import NO_TOKEN
from app.evidence import render, service
from app.evidence.schemas import REASON_MAX, check_reason
from app.requests import service as requests

router = APIRouter(prefix="/v1/staff/requests", tags=["staff: requests"])


@router.get(
    "/{request_id}/evidence",
    response_class=Response,
    responses={
        200: {
            "description": "The evidence pack: a ZIP with `report.html` and `evidence.json`",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **NO_TOKEN,
        403: {"description": "Not a CPO or auditor; or identifiers asked for by an auditor"},
        404: {"description": "No such request"},
        422: {"description": "identifiers=true without a reason, or a malformed reason"},
    },
)
def download_evidence(
    request_id: str,
    principal: Overseer,
    session: WriteSessionDep,
    ctx: ContextDep,
    identifiers: Annotated[
        bool,
        Query(description="Include the subject's and the filer's name, e-mail and phone (CPO)."),
    ] = False,
    reason: Annotated[
        str | None,
        Query(
            max_length=REASON_MAX,
            description="Why the identifiers are included (required with `identifiers=true`); "
            "recorded in the access record.",
        ),
        AfterValidator(check_reason),
    ] = None,
) -> Response:
    """The evidence pack of one request (`{request_id}`: its id or its reference), for the
    regulator or a court: a ZIP holding `report.html` (printable, Korean with English, no
    external assets) and `evidence.json` — the request's facts, timeline, notices as the
    outbox keeps them (a delivered notice's text is erased, so its template, times and state),
    decisions with their grounds, extensions, tasks with outcomes, holds, objections, and the
    request's access-record entries with their hashes and the result of a check of the whole
    chain. The download is itself an access-record entry (`download`, `evidence_pack`) and the
    last entry of the pack: it holds digests of the earlier entries and of the content, so
    `rightsdesk audit verify PACK.zip` proves the pack unchanged offline. Identifiers (name,
    e-mail, phone) only for a CPO with `identifiers=true&reason=…`; the reason is recorded."""
    if identifiers and not principal.is_cpo:
        raise Problem(403, "forbidden", "Only the CPO may include identifiers in a pack.")
    if identifiers and reason is None:
        raise ValidationProblem(
            "reason",
            "missing",
            "give the reason for including identifiers",
            detail="Identifiers are included only with a reason, which is recorded.",
        )
    return pack_download(session, ctx, principal, request_id, identifiers, reason)


def pack_download(
    session: Session,
    ctx: AppContext,
    principal: StaffPrincipal,
    request_id: str,
    identifiers: bool,
    reason: str | None,
) -> Response:
    """The pack of one request (its id or reference) as a ZIP download, for a principal who may
    see the request: this route's answer and the console's button's."""
    request = requests.get(session, resolve_request_id(session, request_id))
    principal.may_see(request.assignee_id)
    pack = service.assemble(
        session, ctx, request, principal, identifiers=identifiers, reason=reason
    )
    return Response(
        content=render.evidence_zip(pack),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{request.reference}.zip"',
            "Cache-Control": "no-store",
        },
    )
