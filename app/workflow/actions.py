"""What the dashboard may offer on a request now: the staff endpoints the caller may call, by
the request's status, the caller's role and assignment, and the open work. Pure: no database.

The names are the endpoints' last path segments (`POST /v1/staff/requests/{id}/assign`, …),
so a dashboard can show exactly the buttons that will not be refused with 403 or 409."""

from __future__ import annotations

from typing import Literal

from app.requests.lifecycle import Status
from app.retention.holds import SETTABLE as _HOLDABLE
from app.retention.plan import KEEP_GROUND

StaffAction = Literal["assign", "verify", "extend", "decision", "complete", "holds", "merge"]

S = Status
# Statuses in which the request still waits for us (a refusal can be reassigned, for the
# objection that may come).
_ASSIGNABLE = (S.pending_verification, S.open, S.in_progress, S.fulfilling, S.refused)
_EXTENDABLE = (S.pending_verification, S.open, S.in_progress, S.fulfilling)
_MERGEABLE = (S.pending_verification, S.open, S.in_progress)  # before a decision


def staff_actions(
    *,
    status: str,
    request_type: str,
    assignee_id: str | None,
    role: str,
    principal_id: str,
    unfinished_tasks: int,
    duplicate: bool = False,
) -> list[StaffAction]:
    """The endpoints `role` may call now; empty for the auditor (who reads only) and for a
    handler on someone else's request."""
    if role not in ("cpo", "handler"):
        return []
    if role == "handler" and assignee_id not in (None, principal_id):
        return []
    s = Status(status)
    actions: list[StaffAction] = []
    if s in _ASSIGNABLE:
        actions.append("assign")
    if s is S.pending_verification:
        actions.append("verify")
    if s in _EXTENDABLE:
        actions.append("extend")
    if s is S.in_progress:
        actions.append("decision")
    if s is S.fulfilling and unfinished_tasks == 0:
        actions.append("complete")
    if s in _HOLDABLE and request_type in KEEP_GROUND:
        actions.append("holds")
    if duplicate and s in _MERGEABLE:
        actions.append("merge")  # into its duplicate_of (workflow/duplicates.py)
    return actions
