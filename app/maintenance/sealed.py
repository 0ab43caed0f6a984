"""The registry of every value sealed with the key ring (core/crypto.py `KeyRing`): which
table and column, and the associated data (AAD) that binds a value to its place.

Key rotation (maintenance/keys.py) opens each value with the AAD given here and seals it again
under the newest key, so an AAD that drifted from the code that writes the value shows up at
once: the value does not open and the rotation reports it (tests/maintenance round-trip
every kind of value written through the API). Where the module that seals a column keeps its
AAD in a function, it is imported from there; where the AAD is written inline at the call
sites (task notes and reasons, decisions, extensions, objections — sealed in workflow/ and
opened in workflow/views.py) the one-line format is copied here, naming its source.

A new `*_enc` column must be added here, or to `NOT_RING_SEALED` with the reason: a test
compares this registry with every `*_enc` column of `SQLModel.metadata`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.audit.review import _note_aad as _audit_review_note_aad
from app.integrations.idempotency import _aad as _idempotency_aad
from app.integrations.webhooks import _aad as _webhook_aad
from app.notifications.outbox import _aad as _outbox_aad
from app.requests import pii
from app.results.collected import data_aad as _task_data_aad
from app.results.service import _aad as _result_aad
from app.retention.holds import _aad as _hold_aad
from app.verification.documents import _aad as _document_aad
from app.workflow.notes import _aad as _staff_note_aad


@dataclass(frozen=True)
class SealedColumn:
    """One column of ring-sealed values. Every such table has a string primary key `id`."""

    table: str
    column: str
    aad: Callable[[str], str]  # row id -> associated data
    # Sealed with `encrypt_bytes` (raw bytes, e.g. a document's own key), not a text.
    binary: bool = False

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


def _request(column: str) -> SealedColumn:
    name = column.removesuffix("_enc")
    return SealedColumn("request", column, lambda rid: pii.aad(rid, name))


SEALED: tuple[SealedColumn, ...] = (
    # requests/pii.py `aad(request_id, column)`, one per personal data column.
    *(
        _request(c)
        for c in (
            "subject_name_enc",
            "subject_email_enc",
            "subject_phone_enc",
            "subject_birth_date_enc",
            "requester_name_enc",
            "requester_email_enc",
            "requester_phone_enc",
            "requester_relationship_enc",
            "power_of_attorney_enc",
            "corrections_enc",
            "details_enc",
            "external_ref_enc",
        )
    ),
    # verification/documents.py: the file name, and the document's own AES key (the content
    # is sealed with that key, so re-sealing the key is enough).
    SealedColumn("document", "filename_enc", lambda i: _document_aad(i, "filename")),
    SealedColumn("document", "key_enc", lambda i: _document_aad(i, "key"), binary=True),
    SealedColumn("outbox_message", "payload_enc", _outbox_aad),
    SealedColumn("access_result", "content_enc", _result_aad),
    # workflow/tasks.py: note and waived reason are inline f-strings there.
    SealedColumn("task", "note_enc", lambda i: f"task.note:{i}"),
    SealedColumn("task", "data_enc", _task_data_aad),
    SealedColumn("task", "waived_reason_enc", lambda i: f"task.waived_reason:{i}"),
    # workflow/service.py (sealed) and workflow/views.py (opened): inline f-strings.
    SealedColumn("decision", "explanation_enc", lambda i: f"decision.explanation:{i}"),
    SealedColumn("extension", "reason_enc", lambda i: f"extension.reason:{i}"),
    SealedColumn("objection", "reason_enc", lambda i: f"objection.reason:{i}"),
    SealedColumn("staff_note", "text_enc", _staff_note_aad),
    SealedColumn("hold", "note_enc", _hold_aad),
    SealedColumn("audit_review", "note_enc", _audit_review_note_aad),
    SealedColumn("idempotency_key", "response_enc", _idempotency_aad),
    SealedColumn("webhook_endpoint", "secret_enc", _webhook_aad),
    SealedColumn("webhook_endpoint", "previous_secret_enc", lambda i: _webhook_aad(i, "previous")),
)

# `*_enc` columns that are not sealed with the ring, and why.
NOT_RING_SEALED: dict[str, str] = {
    "document.content_enc": "sealed with the document's own key (document.key_enc), which "
    "the rotation re-seals; the content itself never needs re-encrypting",
}


def tables() -> dict[str, tuple[SealedColumn, ...]]:
    """The registry grouped by table, in a fixed order (the order a rotation walks them)."""
    out: dict[str, list[SealedColumn]] = {}
    for sealed in SEALED:
        out.setdefault(sealed.table, []).append(sealed)
    return {table: tuple(columns) for table, columns in out.items()}
