"""Words for what the API's view holds: statuses, events, decisions and dates, in the page's
language (the msgids are in the catalogues; nothing here is shown untranslated)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from app.core.context import AppContext
from app.requests.schemas import RequestPublic
from app.web import words
from app.web.i18n import Translator
from app.web.words import EVENTS

REFERENCE = re.compile(r"^RD-[0-9]{4}-[0-9]{6}$", re.IGNORECASE)

STATUS = {
    "pending_verification": "Waiting for you to confirm it is you",
    "open": "Received, waiting for review",
    "in_progress": "Being reviewed",
    "fulfilling": "Being carried out",
    "completed": "Completed",
    "refused": "Refused",
    "rejected": "Not accepted: identity or authority not confirmed",
    "withdrawn": "Withdrawn",
    "merged": "Merged into your earlier request",
}
TYPES = {
    "access": "Access to my personal information",
    "correction": "Correction of my personal information",
    "deletion": "Deletion of my personal information",
    "suspension": "Suspension of processing",
    # The Act's newer rights (PIPA Art. 37(1), (3); Art. 37-2; Art. 35-2): filed through the
    # API or an integration, their notices link here all the same.
    "consent_withdrawal": "Withdrawal of consent",
    "automated_decision": "Refusal or explanation of an automated decision",
    "transmission": "Transmission of my personal information",
}
OUTCOMES = {
    "granted": "Granted",
    "partially_granted": "Partly granted",
    "refused": "Refused",
}
ITEM_RESULT = {"granted": "Done as asked", "refused": "Not done"}
DOCUMENT_KINDS = {
    "power_of_attorney": "Power of attorney (PIPC form 11)",
    "identity_proof": "Proof of identity",
    "relationship_proof": "Proof of relationship (e.g. family relation certificate)",
}
ACTION_CODE_MESSAGES = {
    "code-invalid": "The code is not right. Check the e-mail and try again.",
    "code-expired": "The code has expired. Ask for a new one.",
    "code-locked": "Too many wrong tries. Ask for a new code.",
    "code-used": "This code has already been used. Ask for a new one.",
    "rate-limited": "Too many tries. Please wait and try again later.",
}
FIELD_LABELS = {
    "type": "What you are asking for",
    "subject.name": "Name",
    "subject.email": "E-mail address",
    "subject.phone": "Phone number",
    "subject.birth_date": "Date of birth",
    "requester.kind": "Who is filing",
    "requester.name": "Your name",
    "requester.email": "Your e-mail address",
    "requester.phone": "Your phone number",
    "requester.relationship": "Your relationship to the person",
    "categories": "Categories of information",
    "scope.corrections": "Items to correct",
    "scope.consents": "Consents to withdraw",
    "scope.kind": "What you ask about the decision",
    "scope.decision": "Which decision",
    "details": "Anything else",
    "code": "Verification code",
    "reference": "Reference number",
    "email": "E-mail address",
    "reason": "Reason",
    "kind": "Kind of document",
    "file": "File",
    "power_of_attorney": "Power of attorney",
    "power_of_attorney.rights": "Rights delegated",
    "power_of_attorney.signed_on": "Date signed",
}


def code_message(slug: str) -> str:
    return ACTION_CODE_MESSAGES.get(slug, "The code is not right. Check the e-mail and try again.")


def document_message(status: int) -> str:
    return {
        413: "The file is too large (up to 10 MB).",
        415: "Only PDF, PNG or JPEG files are accepted.",
    }.get(status, "The file is empty or could not be read.")


def field_id(name: str) -> str:
    return "f-" + name.replace(".", "-")


def label_of(name: str) -> str:
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    match = re.match(r"^(power_of_attorney\.(grantor|grantee)|scope\.corrections\.\d+)\.", name)
    if match:
        return FIELD_LABELS.get(match.group(1).split(".")[0], "Power of attorney")
    return "Information"


def error_list(errors: dict[str, str], t: Translator) -> list[dict[str, Any]]:
    """The error summary: each error with the label of its field and a link to it."""
    return [
        {"id": field_id(name), "label": t.gettext(label_of(name)), "message": message}
        for name, message in errors.items()
    ]


class RequestWords:
    """The request's view in words for one language."""

    def __init__(self, view: RequestPublic, ctx: AppContext, lang: str) -> None:
        self.view, self.lang = view, lang
        self.t = Translator(lang)
        self.names = {
            k: (c.name_ko if lang == "ko" else c.name_en) for k, c in ctx.profile.categories.items()
        }

    def day(self, at: datetime | date | None) -> str:
        return words.day(at, self.lang)

    def moment(self, at: datetime) -> str:
        return words.moment(at, self.lang)

    @property
    def status(self) -> str:
        return self.t.gettext(STATUS.get(self.view.status, self.view.status))

    @property
    def type(self) -> str:
        return self.t.gettext(TYPES.get(self.view.type, self.view.type))

    def event(self, kind: str, status: str | None) -> str:
        if kind.startswith("status.") and status:
            return self.t.gettext(
                "Status: %(status)s", status=self.t.gettext(STATUS.get(status, status))
            )
        return self.t.gettext(EVENTS.get(kind, "Update"))

    def category(self, key: str) -> str:
        return self.names.get(key, key)

    def outcome(self, value: str) -> str:
        return self.t.gettext(OUTCOMES.get(value, value))

    def item_result(self, value: str) -> str:
        return self.t.gettext(ITEM_RESULT.get(value, value))

    def document_kind(self, value: str) -> str:
        return self.t.gettext(DOCUMENT_KINDS.get(value, value))

    def ground(self, g) -> str:
        if self.lang == "ko":
            return f"{g.article_ko} {g.title_ko}"
        return f"{g.article} {g.title_en}"

    def period(self, value: str | None) -> str:
        """An ISO 8601 period of years, months or days (P5Y, P3M) in words."""
        match = re.fullmatch(r"P(\d+)([YMD])", value or "")
        if not match:
            return ""
        n, unit = int(match.group(1)), match.group(2)
        if self.lang == "ko":
            return f"{n}{ {'Y': '년', 'M': '개월', 'D': '일'}[unit] }"
        word = {"Y": "year", "M": "month", "D": "day"}[unit]
        return f"{n} {word}{'s' if n != 1 else ''}"

    def law(self, item) -> str | None:
        return item.law_ko if self.lang == "ko" else item.law_en


# Messages this module builds outside the tables above (for the catalogue check).
EXTRA_MSGIDS = (
    "Status: %(status)s",
    "Update",
    "Information",
    "The code is not right. Check the e-mail and try again.",
    "The file is too large (up to 10 MB).",
    "Only PDF, PNG or JPEG files are accepted.",
    "The file is empty or could not be read.",
    "Choose a PDF, PNG or JPEG file.",
    "Choose one of the options.",
)
