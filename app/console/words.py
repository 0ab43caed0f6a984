"""The console's words for what the staff view holds: statuses, types, channels, tasks and
days left, in the page's language (the msgids are in the shared catalogues)."""

from __future__ import annotations

from datetime import date, datetime

from app.web import words
from app.web.i18n import Translator

STATUS = {
    "pending_verification": "Waiting for verification",
    "open": "Open, not assigned",
    "in_progress": "In progress",
    "fulfilling": "Being carried out",
    "completed": "Completed",
    "refused": "Refused",
    "rejected": "Rejected (identity or authority)",
    "withdrawn": "Withdrawn",
    "merged": "Merged into an earlier request",
}
TYPES = {
    "access": "Access",
    "correction": "Correction",
    "deletion": "Deletion",
    "suspension": "Suspension",
    "consent_withdrawal": "Consent withdrawal",
    "automated_decision": "Automated decision",
    "transmission": "Transmission",
}
CHANNELS = {
    "portal": "Portal",
    "api": "API",
    "email": "E-mail",
    "phone": "Phone call",
    "fax": "Fax",
    "letter": "Letter",
    "in_person": "Visit in person",
}
TASK_KINDS = {
    "verify": "Verify",
    "decide": "Decide",
    "fulfil": "Carry out",
    "collect": "Collect data",
    "review_objection": "Review objection",
}
TASK_STATUS = {
    "open": "Open",
    "done": "Done",
    "failed": "Failed",
    "waived": "Waived",
    "cancelled": "Cancelled",
}
TASK_OUTCOMES = {"done": "Done", "not_found": "Nothing held", "failed": "Failed"}
OUTCOMES = {
    "granted": "Granted",
    "partially_granted": "Partly granted",
    "refused": "Refused",
}
PLAN_ACTIONS = {
    "delete": "Delete",
    "suspend": "Suspend",
    "retain": "Retain (a law requires it)",
    "hold": "Hold",
    "correct": "Correct",
    "collect": "Collect",
    "stop": "Stop",
}
HOLD_KINDS = {"investigation": "Investigation under way", "debt": "Debt remaining"}

# Messages the console builds outside the tables above (for the catalogue check).
# Errors the reports' handlers say beside a field (app/console/reports.py).
BAD_DATE = "Enter a date as YYYY-MM-DD."
BAD_REASON = "Give the reason for including identifiers: one line of at most %(max)s characters."

# Refusals the administration's handlers say beside a field (app/console/admin.py).
BAD_EXPORT_REASON = "Give the reason for the download: one line of at most %(max)s characters."
BAD_MONTH = "Enter a month as YYYY-MM, for example 2026-11."
MONTH_NOT_BEGUN = "This month has not begun yet (Korea time)."
MONTH_NOT_ENDED = "A month is reviewed once it is over (Korea time): choose an earlier month."
MONTH_BEFORE_RECORD = "The access record began after this month: there is nothing to review."
ALREADY_REVIEWED = "This month has already been reviewed."
PASSWORD_TOO_SHORT = "The password is too short."
BAD_EMAIL = "Enter an e-mail address like name@example.com."
EMAIL_TAKEN = "A staff account with this e-mail address exists."
LAST_CPO = "This is the last active CPO: make another account CPO first."
OWN_ACCOUNT = "You cannot deactivate your own account; another CPO can."
UNKNOWN_SYSTEM = "Choose the systems from the list."
SYSTEMS_REQUIRED = "A client with a task scope needs the systems whose tasks it sees."
CHOOSE_SCOPES = "Choose at least one scope from the list."
CLIENT_REVOKED = "The client is revoked; grant a new one."
WEBHOOK_DISABLED = "The endpoint is disabled; register the receiver again to send to it."
NOT_FAILED = "Only a failed delivery can be sent again."
CANNOT_NOW = "This cannot be done now. Reload the page and try again."

EXTRA_MSGIDS = (
    BAD_DATE,
    # app/console/bulk.py
    "The selection is not one the queue offered. Go back and tick again.",
    "Tick at least one request in the queue.",
    "Tick at most %(n)s requests at a time.",
    "Choose what to do with them.",
    BAD_REASON,
    BAD_EXPORT_REASON,
    BAD_MONTH,
    MONTH_NOT_BEGUN,
    MONTH_NOT_ENDED,
    MONTH_BEFORE_RECORD,
    ALREADY_REVIEWED,
    PASSWORD_TOO_SHORT,
    BAD_EMAIL,
    EMAIL_TAKEN,
    LAST_CPO,
    OWN_ACCOUNT,
    UNKNOWN_SYSTEM,
    SYSTEMS_REQUIRED,
    CHOOSE_SCOPES,
    CLIENT_REVOKED,
    WEBHOOK_DISABLED,
    NOT_FAILED,
    CANNOT_NOW,
    "%(num)s days overdue",
    "Due today",
    "%(num)s day left",
    "%(num)s days left",
    "Closed",
    "Say why, in 5 to 500 characters.",
    "Status: %(status)s",
    "Update",
    "The person",
    "API",
    "System",
)


class Words:
    """Words for one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.t = Translator(lang)

    def _word(self, table: dict[str, str], key: str | None) -> str:
        return self.t.gettext(table[key]) if key in table else (key or "")

    def status(self, key: str) -> str:
        return self._word(STATUS, key)

    def type(self, key: str) -> str:
        return self._word(TYPES, key)

    def channel(self, key: str) -> str:
        return self._word(CHANNELS, key)

    def task_kind(self, key: str) -> str:
        return self._word(TASK_KINDS, key)

    def task_status(self, key: str) -> str:
        return self._word(TASK_STATUS, key)

    def task_outcome(self, key: str | None) -> str:
        return self._word(TASK_OUTCOMES, key)

    def outcome(self, key: str) -> str:
        return self._word(OUTCOMES, key)

    def plan_action(self, key: str) -> str:
        return self._word(PLAN_ACTIONS, key)

    def hold_kind(self, key: str) -> str:
        return self._word(HOLD_KINDS, key)

    def event(self, kind: str, status: str | None) -> str:
        """A timeline event in words; a status change names the new status."""
        if kind.startswith("status.") and status:
            return self.t.gettext("Status: %(status)s", status=self.status(status))
        return self.t.gettext(words.EVENTS.get(kind, "Update"))

    def actor(self, label: str | None, emails: dict[str, str]) -> str:
        """Who did it: a staff member by e-mail, the person, a client or the system."""
        kind, _, who = (label or "").partition(":")
        if kind == "staff":
            return emails.get(who, who)
        if kind == "subject":
            return self.t.gettext("The person")
        if kind in ("client", "integration"):  # Actor("integration", client id)
            return self.t.gettext("API")
        return self.t.gettext("System")

    def day(self, at: datetime | date | None) -> str:
        return words.day(at, self.lang)

    def moment(self, at: datetime | None) -> str:
        return words.moment(at, self.lang) if at is not None else ""

    def days_left(self, days: int | None, overdue: bool) -> str:
        """Days left in text (the colour beside it is never the only sign)."""
        if days is None:
            return self.t.gettext("Closed")
        if overdue or days < 0:
            return self.t.gettext("%(num)s days overdue", num=abs(days) if days < 0 else 0)
        if days == 0:
            return self.t.gettext("Due today")
        return self.t.ngettext("%(num)s day left", "%(num)s days left", days)


def urgency(days: int | None, overdue: bool) -> str:
    """The colour class of days left: overdue, 3 days or less, or none."""
    if days is None:
        return ""
    if overdue or days < 0:
        return "overdue"
    return "soon" if days <= 3 else ""
