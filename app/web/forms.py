"""Forms of every area: a pydantic refusal as the API's problem document, and the problem's
errors as messages beside the inputs (in the catalogue's msgids)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.core.errors import Problem, _validation_problem

# What to tell a person, by the API's error code, in the catalogue's msgids.
BY_CODE = {
    "missing": "Enter this information.",
    "value_error": "Enter a valid value.",
    "string_pattern_mismatch": "This is not in the expected format.",
    "string_too_long": "This is too long.",
    "string_too_short": "This is too short.",
    "too_long": "Too many are chosen.",
    "too_short": "Choose at least one.",
    "date_from_datetime_parsing": "Enter a date like 2015-03-01.",
    "date_parsing": "Enter a date like 2015-03-01.",
    "date_type": "Enter a date like 2015-03-01.",
    "enum": "Choose one of the options.",
    "literal_error": "Choose one of the options.",
    "unknown_category": "Choose the categories from the list.",
    "extra_forbidden": "This field is not accepted.",
}


def problem_from_validation(exc: ValidationError) -> Problem:
    """The problem document the API answers for the same body (core/errors.py)."""
    return _validation_problem(None, RequestValidationError(exc.errors(include_input=False)))  # type: ignore[arg-type]


def message_for(error: dict[str, Any]) -> str:
    return BY_CODE.get(error.get("code", ""), "Enter a valid value.")


def field_errors(
    problem: Problem,
    gettext,
    message: Callable[[dict[str, Any]], str] = message_for,
    name: Callable[[str], str] = lambda field: field,
) -> dict[str, str]:
    """Input name → the first error about it, in the page's language."""
    out: dict[str, str] = {}
    for error in problem.errors or []:
        out.setdefault(name(error.get("field", "")), gettext(message(error)))
    return out
