"""Every staff route: anonymous → 401, a data subject's token → 403, the grounds registry."""

from __future__ import annotations

import pytest

from tests.support import verified

STAFF_ROUTES = [
    ("GET", "/v1/staff/requests"),
    ("POST", "/v1/staff/requests"),
    ("GET", "/v1/staff/requests/{id}"),
    ("POST", "/v1/staff/requests/{id}/assign"),
    ("POST", "/v1/staff/requests/{id}/verify"),
    ("POST", "/v1/staff/requests/{id}/extend"),
    ("POST", "/v1/staff/requests/{id}/decision"),
    ("POST", "/v1/staff/requests/{id}/complete"),
    ("POST", "/v1/staff/requests/bulk"),
    ("GET", "/v1/staff/requests/{id}/plan"),
    ("POST", "/v1/staff/requests/{id}/holds"),
    ("DELETE", "/v1/staff/requests/{id}/holds/{hold_id}"),
    ("POST", "/v1/staff/requests/{id}/merge"),
    ("DELETE", "/v1/staff/requests/{id}/duplicate-of"),
    ("GET", "/v1/staff/requests/{id}/evidence"),
    ("GET", "/v1/staff/profile"),
    ("GET", "/v1/staff/requests/{id}/documents/doc_x"),
    ("GET", "/v1/staff/tasks"),
    ("POST", "/v1/staff/tasks/tsk_x/complete"),
    ("POST", "/v1/staff/tasks/tsk_x/waive"),
    ("GET", "/v1/staff/grounds"),
    ("GET", "/v1/staff/metrics"),
    ("GET", "/v1/staff/audit"),
    ("GET", "/v1/staff/audit/verify"),
    ("GET", "/v1/staff/audit/export"),
    ("GET", "/v1/staff/audit/reviews"),
    ("POST", "/v1/staff/audit/reviews"),
    ("GET", "/v1/staff/users"),
    ("POST", "/v1/staff/users"),
    ("PATCH", "/v1/staff/users/usr_x"),
    ("GET", "/v1/staff/clients"),
    ("POST", "/v1/staff/clients"),
    ("POST", "/v1/staff/clients/cli_x/rotate"),
    ("DELETE", "/v1/staff/clients/cli_x"),
    ("GET", "/v1/staff/webhooks"),
    ("POST", "/v1/staff/webhooks"),
    ("DELETE", "/v1/staff/webhooks/whk_x"),
    ("POST", "/v1/staff/webhooks/whk_x/rotate-secret"),
    ("GET", "/v1/staff/webhooks/whk_x/deliveries"),
    ("POST", "/v1/staff/webhooks/deliveries/msg_x/retry"),
]


def test_the_list_covers_every_staff_route(app):
    from app.cli import openapi_spec

    documented = {
        (
            method.upper(),
            path.replace("{request_id}", "{id}")
            .replace("{task_id}", "tsk_x")
            .replace("{document_id}", "doc_x")
            .replace("{user_id}", "usr_x")
            .replace("{client_id}", "cli_x")
            .replace("{webhook_id}", "whk_x")
            .replace("{delivery_id}", "msg_x"),
        )
        for path, ops in openapi_spec()["paths"].items()
        if path.startswith("/v1/staff")
        for method in ops
    }
    assert documented == set(STAFF_ROUTES)


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES)
def test_anonymous_401_and_subject_403(client, outbox_dir, method, path):
    created, subject = verified(client, outbox_dir)
    url = path.replace("{id}", created["id"])
    anonymous = client.request(method, url)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    as_subject = client.request(method, url, headers={**subject, "If-Match": "1"})
    assert as_subject.status_code == 403


def test_grounds_registry_matches_pipa_md(client, staff):
    items = client.get("/v1/staff/grounds", headers=staff["handler"]["headers"]).json()["items"]
    table = {g["code"]: (g["applies_to"], g["public_bodies_only"]) for g in items}
    suspension = ["consent_withdrawal", "suspension"]  # Art. 37(2) answers both
    assert table == {
        "PIPA-35-4-1": (["access"], False),
        "PIPA-35-4-2": (["access"], False),
        "PIPA-35-4-3": (["access"], True),
        "PIPA-36-1-proviso": (["deletion"], False),
        "PIPA-36-2-accurate": (["correction"], False),
        "PIPA-37-2-1": (suspension, False),
        "PIPA-37-2-2": (suspension, False),
        "PIPA-37-2-3": (suspension, True),
        "PIPA-37-2-4": (suspension, False),
        "PIPA-37of2-1-consent": (["automated_decision"], False),
        "PIPA-37of2-1-law": (["automated_decision"], False),
        "PIPA-37of2-1-contract": (["automated_decision"], False),
        "PIPA-37of2-1-minor": (["automated_decision"], False),
        "PIPA-37of2-3-justified": (["automated_decision"], False),
        "PIPA-38-identity": (
            [
                "access",
                "automated_decision",
                "consent_withdrawal",
                "correction",
                "deletion",
                "suspension",
                "transmission",
            ],
            False,
        ),
    }
    for g in items:
        assert g["article_ko"].startswith("개인정보 보호법 제") and g["text_ko"] and g["text_en"]
