"""Webhook tests: receivers are real HTTP servers on 127.0.0.1, so the test modules named
`test_webhook*` run with RIGHTSDESK_WEBHOOK_ALLOW_PRIVATE on, unless the module sets
`WEBHOOK_ALLOW_PRIVATE = False` (the SSRF guard's own tests)."""

from __future__ import annotations

import pytest

from tests.integrations.receiver import Receiver
from tests.support import make_settings


@pytest.fixture
def settings(request, database_url, tmp_path):
    mine = request.module.__name__.rpartition(".")[2].startswith("test_webhook")
    private = mine and getattr(request.module, "WEBHOOK_ALLOW_PRIVATE", True)
    return make_settings(database_url, tmp_path, webhook_allow_private=private)


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r
