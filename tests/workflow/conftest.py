"""Staff fixtures: one account per role, logged in."""

from __future__ import annotations

import pytest

from tests.support import login, make_staff


@pytest.fixture
def staff(app, client):
    """Tokens (headers) and ids for a CPO, two handlers and an auditor."""
    people = {
        "cpo": ("cpo@example.com", "cpo"),
        "handler": ("handler@example.com", "handler"),
        "handler2": ("handler2@example.com", "handler"),
        "auditor": ("auditor@example.com", "auditor"),
    }
    out = {}
    for key, (email, role) in people.items():
        user_id = make_staff(app, email, role)
        out[key] = {"id": user_id, "email": email, "headers": login(client, email)}
    return out
