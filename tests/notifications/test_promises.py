"""No notice may promise a route the API refuses (issue 8, point 7).

Every template is rendered in every state the lifecycle can send it in; each action a notice
promises (object, withdraw, download the result) is checked against `lifecycle.TRANSITIONS`
(and, for an extension, which is an event rather than a status, against
`lifecycle.EXTENSION_OBJECTABLE`). Then the same promises are checked through HTTP: when a
notice promising an objection has gone out, the filer's view offers `object` and the route
accepts it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.notifications.render import SEPARATOR, render
from app.requests.lifecycle import EXTENSION_OBJECTABLE, TRANSITIONS, Action, Status
from tests.notifications.test_templates import (
    REFERENCE,
    TYPES,
    base_context,
    completed_context,
    decision_context,
    extended_context,
    objection_received_context,
    rejected_context,
)
from tests.support import act, file_request, read_outbox, verified

S = Status
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "app" / "notifications" / "templates"
PORTAL = f"https://portal.example.com/requests/{REFERENCE}"

# What a notice promises, recognised in both languages (both must promise it, or neither).
PROMISES: dict[str, tuple[re.Pattern, re.Pattern]] = {
    "object": (re.compile(r"이의를 제기하실 수 있습니다"), re.compile(r"you may object")),
    "withdraw": (re.compile(r"철회하실 수 있습니다"), re.compile(r"you may withdraw", re.I)),
    "download_result": (re.compile(r"내려받으실 수 있습니다"), re.compile(r"download it")),
}


def _receipt(type: str) -> dict:
    return {**base_context(type), "needs_code": True}


def _code(type: str) -> dict:
    return {**base_context(type), "code": "123456", "ttl_minutes": 10, "max_attempts": 5}


def _withdrawn(type: str) -> dict:
    return {**base_context(type), "at_ko": "2026년 12월 2일(수) 10:00", "at_en": "Wed 2 Dec"}


def _merged(type: str) -> dict:
    return {
        **base_context(type),
        "into_reference": "RD-2026-000041",
        "into_portal_url": "https://portal.example.com/requests/RD-2026-000041",
        "into_due_ko": "2026년 12월 14일(월)",
        "into_due_en": "Monday 14 December 2026",
        "at_ko": "2026년 12월 2일(수) 10:00",
        "at_en": "Wed 2 Dec",
    }


def _objection_received(kind: str):
    return lambda type: {**objection_received_context(type), "objection_kind": kind}


ACTIVE = (S.pending_verification, S.open, S.in_progress, S.fulfilling)

# (template, variant) → (context builder by type, the statuses the request can be in when the
# lifecycle sends it). Each entry follows the service that sends the notice.
SCENARIOS = {
    ("receipt", ""): (_receipt, (S.pending_verification, S.open)),
    # A duplicate's receipt (requests/duplicates.py): the earlier request stands.
    ("receipt", "duplicate"): (
        lambda t: {**_receipt(t), "earlier_reference": "RD-2026-000041"},
        (S.pending_verification,),
    ),
    ("verification_code", ""): (_code, tuple(Status)),  # sign-in works in every status
    ("extended", ""): (extended_context, ACTIVE),  # workflow.service.extend
    ("decision", "granted"): (lambda t: decision_context(t, "granted"), (S.fulfilling,)),
    ("decision", "partially_granted"): (
        lambda t: decision_context(t, "partially_granted"),
        (S.fulfilling,),
    ),
    ("decision", "refused"): (lambda t: decision_context(t, "refused"), (S.refused,)),
    ("completed", ""): (completed_context, (S.completed,)),
    ("rejected", ""): (rejected_context, (S.rejected,)),
    ("withdrawn", ""): (_withdrawn, (S.withdrawn,)),
    ("merged", ""): (_merged, (S.merged,)),  # workflow.duplicates.merge
    ("objection_received", "decision"): (_objection_received("decision"), (S.in_progress,)),
    ("objection_received", "rejection"): (
        _objection_received("rejection"),
        (S.pending_verification,),
    ),
    ("objection_received", "extension"): (_objection_received("extension"), ACTIVE),
}


def _promises(template: str, ctx: dict) -> set[str]:
    rendered = render(template, "ko", {**ctx, "portal_url": PORTAL})
    ko, en = rendered.text.split(SEPARATOR)
    found = set()
    for action, (ko_re, en_re) in PROMISES.items():
        in_ko, in_en = bool(ko_re.search(ko)), bool(en_re.search(en))
        assert in_ko == in_en, f"{template}: {action} promised in one language only"
        if in_ko:
            found.add(action)
    return found


def _api_accepts(template: str, action: str, status: Status, type: str) -> bool:
    if action == "object":
        if template == "extended":
            return status in EXTENSION_OBJECTABLE  # an event: a review, no status change
        return (status, Action.object) in TRANSITIONS
    if action == "withdraw":
        return (status, Action.withdraw) in TRANSITIONS
    if action == "download_result":
        # GET …/result exists once an access request is completed (and until it expires).
        return type == "access" and status is S.completed
    raise AssertionError(action)


# Notices to staff, not to the filer: they promise the filer nothing.
STAFF_TEMPLATES = {"deadline_reminder"}


def test_every_template_is_covered():
    on_disk = {p.name.split(".")[0] for p in TEMPLATES_DIR.glob("*.j2")}
    assert on_disk - STAFF_TEMPLATES == {template for template, _ in SCENARIOS}


@pytest.mark.parametrize("type", TYPES)
@pytest.mark.parametrize(("template", "variant"), list(SCENARIOS))
def test_each_promise_is_a_route_the_api_takes(template, variant, type):
    build, statuses = SCENARIOS[(template, variant)]
    ctx = build(type)
    promised = _promises(template, ctx)
    for status in statuses:
        for action in promised:
            assert _api_accepts(template, action, status, type), (
                f"{template}/{variant} promises {action} to a {type} request in {status.value}"
            )


@pytest.mark.parametrize(("template", "variant"), list(SCENARIOS))
def test_every_notice_links_to_the_requests_portal_page(template, variant):
    build, _ = SCENARIOS[(template, variant)]
    rendered = render(template, "ko", {**build("access"), "portal_url": PORTAL})
    ko, en = rendered.text.split(SEPARATOR)
    assert PORTAL in ko and PORTAL in en


def test_the_promises_that_must_be_there():
    """The law's promises (Art. 38(5); Decree 42②): every refusal, restriction, postponement
    and rejection names the objection route; a full grant does not."""
    assert "object" in _promises("decision", decision_context("access", "refused"))
    assert "object" in _promises("decision", decision_context("deletion", "partially_granted"))
    assert "object" not in _promises("decision", decision_context("access", "granted"))
    assert "object" in _promises("extended", extended_context("access"))
    assert "object" in _promises("rejected", rejected_context("access"))
    assert "download_result" in _promises("completed", completed_context("access"))
    assert "download_result" not in _promises("completed", completed_context("deletion"))


# --- the same promises through HTTP --------------------------------------------------------


def _promised_objection(outbox_dir, request_id: str, template: str) -> bool:
    [message] = [
        m
        for m in read_outbox(outbox_dir)
        if m["request_id"] == request_id and m["template"] == template
    ]
    return bool(PROMISES["object"][0].search(message["text"]))


def _offered(client, key, headers) -> list[str]:
    response = client.get(f"/v1/requests/{key}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["actions"]


def test_sent_notices_promise_what_the_view_offers_and_the_route_takes(client, outbox_dir, staff):
    handler, cpo = staff["handler"]["headers"], staff["cpo"]["headers"]
    # An extension, then a refusal.
    created, subject = verified(client, outbox_dir)
    rid = created["id"]
    act(client, cpo, rid, "assign", {"assignee": "handler@example.com"})
    act(
        client, handler, rid, "extend", {"reason": "확인 중", "due_at": "2026-12-24T12:00:00+09:00"}
    )
    assert _promised_objection(outbox_dir, rid, "extended")
    assert "object" in _offered(client, rid, subject)
    act(
        client,
        handler,
        rid,
        "decision",
        {"outcome": "refused", "grounds": ["PIPA-35-4-1"], "explanation": "법률상 제한"},
    )
    assert _promised_objection(outbox_dir, rid, "decision")
    assert "object" in _offered(client, rid, subject)
    response = client.post(
        f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "재검토"}
    )
    assert response.status_code == 201
    # A full grant promises nothing to object to, and the view offers nothing.
    granted, g_subject = verified(
        client, outbox_dir, subject={"name": "을", "email": "b@example.com"}
    )
    act(client, cpo, granted["id"], "assign", {"assignee": "handler@example.com"})
    act(client, handler, granted["id"], "decision", {"outcome": "granted", "explanation": "제공"})
    assert not _promised_objection(outbox_dir, granted["id"], "decision")
    assert "object" not in _offered(client, granted["id"], g_subject)
    # A rejection.
    rejected = file_request(client, subject={"name": "병", "email": "c@example.com"})
    act(client, cpo, rejected["id"], "verify", {"outcome": "rejected", "method": "email_code"})
    assert _promised_objection(outbox_dir, rejected["id"], "rejected")
