"""From a posted form to the API's body, and from the API's problem document back to errors
beside the fields. The inputs carry the API's dotted field names (`subject.email`), so this
is a plain unflattening: no rule of the API is repeated here."""

from __future__ import annotations

from typing import Any

from app.core.errors import Problem
from app.web import forms as web_forms

# Inputs whose name differs from the API's field path. The under-14 rule names
# `requester.kind`, a hidden input of the chosen form: its error stands beside the birth date.
# A power of attorney left wholly empty is reported at its first input.
_FORM_NAME = {
    "scope.categories": "categories",
    "requester.kind": "subject.birth_date",
}
_WHOLE = {"power_of_attorney": "power_of_attorney.grantor.name"}
# Fields a form shows as several inputs (checkboxes) of one name.
LISTS = {
    "categories": "scope.categories",
    "scope.consents": "scope.consents",
    "power_of_attorney.rights": "power_of_attorney.rights",
}


def body_from_form(form: Any, *, locale: str) -> dict[str, Any]:
    """The JSON body the API would take, from a form whose inputs are named by field path.
    Empty inputs are left out, so optional fields stay absent."""
    body: dict[str, Any] = {}
    for name in set(form.keys()):
        if name == "csrf_token":
            continue
        if name in LISTS:
            values = [v for v in form.getlist(name) if isinstance(v, str) and v]
            _put(body, LISTS[name], values)
            continue
        value = form.get(name)
        if not isinstance(value, str):
            continue
        value = value.strip()
        if value:
            _put(body, name, value)
    corrections = body.get("scope", {}).get("corrections")
    if isinstance(corrections, dict):  # scope.corrections.0.item → a list, in index order
        body["scope"]["corrections"] = [
            corrections[k] for k in sorted(corrections, key=lambda k: int(k) if k.isdigit() else 0)
        ]
    requester = body.get("requester")
    if isinstance(requester, dict) and requester.get("kind") == "self":
        body.pop("requester")
    body["locale"] = locale
    return body


def _put(body: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = body
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return
    node[parts[-1]] = value


def form_name(field: str) -> str:
    """The input an API error field belongs to: `scope.categories.2` → `categories`."""
    if field in _WHOLE:
        return _WHOLE[field]
    for api, name in _FORM_NAME.items():
        if field == api or field.startswith(api + "."):
            return name
    if field.startswith("power_of_attorney.rights"):
        return "power_of_attorney.rights"
    return field


# What to tell a person, by the API's error code (and field, where it says more), in the
# catalogue's msgids: the page shows them in its language.
_BY_FIELD_CODE = {
    ("requester.kind", "child_needs_representative"): "The person is under 14: only a legal "
    "representative (such as a parent) may file for them (PIPA Art. 38(2)).",
    ("subject.birth_date", "future"): "The date of birth cannot be in the future.",
    ("power_of_attorney.signed_on", "future"): "The power of attorney cannot be dated after today.",
    ("requester.email", "value_error"): "Use an e-mail address of your own, not the subject's.",
    ("requester.name", "value_error"): "A proxy must be someone other than the subject.",
    ("scope.corrections", "missing"): "List at least one item to correct.",
    ("scope.consents", "missing"): "Choose the consent you withdraw.",
    ("scope.categories", "not_transmittable"): "Choose only the categories we transmit.",
    ("scope.kind", "missing"): "Choose what you ask about the decision.",
    ("scope.kind", "value_error"): "Choose this only for a request about an automated decision.",
    ("scope.decision", "value_error"): "Choose a decision only for a request about an automated "
    "decision.",
    ("scope.consents", "unknown_consent"): "Choose the consents from the list.",
    ("scope.consents", "value_error"): "Choose consents only for a withdrawal of consent.",
    ("scope.categories", "value_error"): "For a withdrawal of consent, leave the categories "
    "unchosen: the consents decide them.",
    ("power_of_attorney", "missing"): "Enter what the power of attorney says.",
    ("subject.email", "missing"): "Enter your e-mail address: the code is sent there.",
    ("power_of_attorney.rights", "value_error"): "The power of attorney must delegate the right "
    "you are asking for.",
}
_EMAIL_FIELDS = {"subject.email", "requester.email", "email"}
_PHONE_FIELDS = {"subject.phone", "requester.phone"}


def message_for(error: dict[str, Any]) -> str:
    """The catalogue's msgid for one error of a problem document."""
    field, code = error.get("field", ""), error.get("code", "")
    if (field, code) in _BY_FIELD_CODE:
        return _BY_FIELD_CODE[(field, code)]
    if field in _EMAIL_FIELDS and code == "value_error":
        return "Enter an e-mail address like name@example.com."
    if field in _PHONE_FIELDS and code == "string_pattern_mismatch":
        return "Enter a phone number like 010-1234-5678."
    if field == "code":
        return "Enter the 6 digits from the e-mail."
    if field == "reference" and code == "string_pattern_mismatch":
        return "Enter the reference like RD-2026-000123."
    return web_forms.message_for(error)


def field_errors(problem: Problem, gettext) -> dict[str, str]:
    """Input name → the first error about it, in the page's language."""
    return web_forms.field_errors(problem, gettext, message_for, form_name)


# Messages message_for returns outside the tables above (for the catalogue check).
EXTRA_MSGIDS = (
    "Enter an e-mail address like name@example.com.",
    "Enter a phone number like 010-1234-5678.",
    "Enter the 6 digits from the e-mail.",
    "Enter the reference like RD-2026-000123.",
    "Enter a valid value.",
)
