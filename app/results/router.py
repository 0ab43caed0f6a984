"""The subject's download of an access result (GET /v1/requests/{id}/result)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.core.deps import ContextDep, SubjectToken, WriteSessionDep, owned_request_id
from app.core.responses import NOT_A_SUBJECT
from app.results import service

router = APIRouter(prefix="/v1/requests", tags=["requests (public)"], responses=NOT_A_SUBJECT)

MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
}


@router.get(
    "/{request_id}/result",
    response_class=Response,
    responses={
        200: {
            "description": "The result as JSON (default), CSV or ZIP",
            "content": {
                "application/json": {},
                "text/csv": {"schema": {"type": "string"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        401: {"description": "No or bad token"},
        404: {"description": "Not yours, or no result yet (the request is not completed)"},
        410: {
            "description": "The download time ran out and the result was destroyed, or the "
            "request's personal data was purged"
        },
        422: {"description": "Unknown format"},
    },
)
def download_result(
    request_id: str,
    principal: SubjectToken,
    session: WriteSessionDep,
    ctx: ContextDep,
    format: Annotated[
        Literal["json", "csv", "zip"],
        Query(description="`json`, `csv` (UTF-8 with BOM) or `zip` (both and a summary)."),
    ] = "json",
) -> Response:
    """Download the result of your completed access request (열람 결과): per data category
    the items and their content as our systems hold them, with the purposes, retention,
    provision to third parties and processors (Decree 41①). `?format=csv` gives one row per
    category and item (UTF-8 with a BOM, so Excel shows Korean correctly); `?format=zip` holds
    result.json, result.csv and a readable summary in Korean and English. Available for
    `RIGHTSDESK_RESULT_TTL_DAYS` days after completion, then destroyed (410). Each download is
    written to the access record. The same route delivers a completed transmission request
    (전송요구, PIPA Art. 35-2): the JSON then carries a `manifest`, the ZIP a manifest.json with
    each file's SHA-256, and each download is entered in the transmission log (kept 3 years)."""
    rid = owned_request_id(session, principal, request_id)
    body, filename = service.download(session, ctx, rid, fmt=format, actor=principal.actor)
    return Response(
        content=body,
        media_type=MEDIA[format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
