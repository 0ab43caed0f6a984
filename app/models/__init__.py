"""Every table, imported once so SQLModel.metadata (and Alembic) sees them all."""

from app.models.access_result import AccessResult
from app.models.api_client import ApiClient
from app.models.audit_entry import AuditEntry, AuditHead
from app.models.audit_review import AuditReview
from app.models.base import UTCDateTime  # noqa: F401  (naming convention first)
from app.models.decision import Decision
from app.models.document import Document
from app.models.extension import Extension
from app.models.hold import Hold
from app.models.idempotency_key import IdempotencyKey
from app.models.maintenance_job import MaintenanceJob
from app.models.objection import Objection
from app.models.outbox_message import OutboxMessage
from app.models.rate_limit import RateLimitBucket
from app.models.reference_counter import ReferenceCounter
from app.models.reminder import Reminder
from app.models.request import Request
from app.models.scrub_pending import ScrubPending
from app.models.staff_note import StaffNote
from app.models.staff_session import StaffSession
from app.models.staff_user import StaffUser
from app.models.task import Task
from app.models.timeline_event import TimelineEvent
from app.models.transmission_log import TransmissionLog
from app.models.verification_code import VerificationCode
from app.models.webhook_delivery import WebhookDelivery
from app.models.webhook_endpoint import WebhookEndpoint

__all__ = [
    "AccessResult",
    "ApiClient",
    "AuditEntry",
    "AuditHead",
    "AuditReview",
    "Decision",
    "Document",
    "Extension",
    "Hold",
    "IdempotencyKey",
    "MaintenanceJob",
    "Objection",
    "OutboxMessage",
    "RateLimitBucket",
    "ReferenceCounter",
    "Reminder",
    "Request",
    "ScrubPending",
    "StaffNote",
    "StaffSession",
    "StaffUser",
    "Task",
    "TimelineEvent",
    "TransmissionLog",
    "VerificationCode",
    "WebhookDelivery",
    "WebhookEndpoint",
]
