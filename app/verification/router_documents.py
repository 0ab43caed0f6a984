"""Proxy documents: the requester uploads (never downloads); staff download with a reason."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from pydantic import BaseModel

from app.core.deps import (
    ContextDep,
    Operator,
    SessionDep,
    SubjectToken,
    WriteSessionDep,
    owned_request_id,
    resolve_request_id,
)
from app.core.responses import NOT_A_SUBJECT
from app.requests import service as requests
from app.verification import documents

router = APIRouter(prefix="/v1/requests", tags=["documents"], responses=NOT_A_SUBJECT)
staff_router = APIRouter(prefix="/v1/staff/requests", tags=["staff: requests"])


class DocumentPublic(BaseModel):
    id: str
    kind: str
    content_type: str
    size: int
    uploaded_at: datetime
    destroyed_at: datetime | None = None


@router.post(
    "/{request_id}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentPublic,
    responses={
        401: {},
        404: {},
        409: {"description": "Closed request, or too many documents"},
        410: {"description": "The request's personal data was purged (retention ran out)"},
        413: {"description": "Too large"},
        415: {"description": "Not a PDF, PNG or JPEG"},
        422: {"description": "Empty file or bad kind"},
    },
)
def upload_document(
    request_id: str,
    principal: SubjectToken,
    session: SessionDep,
    ctx: ContextDep,
    kind: Annotated[
        Literal["power_of_attorney", "identity_proof", "relationship_proof"],
        Form(
            description="`power_of_attorney` (위임장, PIPC form 11), `identity_proof` or "
            "`relationship_proof` (e.g. a family relation certificate, 가족관계증명서)."
        ),
    ],
    file: Annotated[UploadFile, File(description="PDF, PNG or JPEG, up to 10 MB.")],
) -> DocumentPublic:
    """Upload a document that proves a proxy's authority or an identity. The type is judged by
    the file's content, not its name; the file is stored encrypted and is never served back.
    `{request_id}` is the id or the reference."""
    request = requests.get(session, owned_request_id(session, principal, request_id))
    data = file.file.read(ctx.settings.max_document_bytes + 1)
    document = documents.store(
        session, ctx, request, kind=kind, filename=file.filename, data=data, actor=principal.actor
    )
    return DocumentPublic.model_validate(document, from_attributes=True)


@staff_router.get(
    "/{request_id}/documents/{document_id}",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}, "image/png": {}, "image/jpeg": {}},
            "description": "The document",
        },
        401: {},
        403: {},
        404: {},
        410: {"description": "Destroyed under the retention rule"},
        422: {"description": "No reason given"},
    },
)
def download_document(
    request_id: str,
    document_id: str,
    principal: Operator,
    session: WriteSessionDep,
    ctx: ContextDep,
    reason: Annotated[
        str,
        Query(
            min_length=5,
            max_length=500,
            description="Why it is downloaded; recorded (PIPC standard).",
        ),
    ],
) -> Response:
    """Download a document; the download and its reason are written to the access record."""
    request = requests.get(session, resolve_request_id(session, request_id))
    principal.may_see(request.assignee_id)
    got = documents.download(
        session, ctx, request.id, document_id, reason=reason.strip(), actor=principal.actor
    )
    return Response(
        content=got.data,
        media_type=got.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{got.filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
