"""The file sender holds notices in clear on this host (issue 21.2): production refuses it
unless it is explicitly allowed, and the purge removes a request's notice files (PIPA Art.
21(3)), whichever sender is configured now."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.retention import purge as service
from tests.support import TEST_KEY, act, file_request, read_outbox

PRODUCTION = dict(
    env="production",
    secret_key="s" * 40,
    encryption_keys=f"a:{TEST_KEY}",
    blind_index_key="b" * 32,
    _env_file=None,
)


def test_production_refuses_the_file_sender_unless_allowed():
    with pytest.raises(ValidationError, match="RIGHTSDESK_NOTIFY_BACKEND=file"):
        Settings(**PRODUCTION)
    with pytest.raises(ValidationError, match="RIGHTSDESK_NOTIFY_BACKEND=file"):
        Settings(**PRODUCTION, notify_backend="file")
    assert Settings(**PRODUCTION, notify_backend="file", notify_allow_file=True)
    assert Settings(**PRODUCTION, notify_backend="smtp", smtp_starttls=True)
    # Development keeps the file sender as its default.
    assert Settings(_env_file=None).notify_backend == "file"


def test_the_purge_removes_the_requests_notice_files(client, staff, outbox_dir, clock):
    cpo = staff["cpo"]["headers"]
    purged = file_request(client)["id"]
    act(client, cpo, purged, "verify", {"outcome": "rejected", "method": "email_code"})
    clock.advance(days=1095 + 1)
    # Filed now: far from its purge, its notices stay.
    kept = file_request(client, subject={"name": "김철수", "email": "kim@example.com"})["id"]
    senders = [m["request_id"] for m in read_outbox(outbox_dir)]
    assert purged in senders and kept in senders

    ctx = client.app.state.ctx
    assert service.purge(ctx.db, ctx).requests == 1

    left = [m["request_id"] for m in read_outbox(outbox_dir)]
    assert purged not in left
    assert kept in left
    assert sorted(p.suffix for p in outbox_dir.iterdir()) == [".json"] * len(left)


def test_the_purge_finds_files_written_to_an_earlier_notify_dir(
    client, staff, outbox_dir, clock, tmp_path
):
    """RIGHTSDESK_NOTIFY_DIR moved between the notices and the purge: the copies in the old
    folder are destroyed all the same (each sent message records its folder)."""
    cpo = staff["cpo"]["headers"]
    purged = file_request(client)["id"]
    act(client, cpo, purged, "verify", {"outcome": "rejected", "method": "email_code"})
    assert purged in [m["request_id"] for m in read_outbox(outbox_dir)]
    clock.advance(days=1095 + 1)

    ctx = client.app.state.ctx
    moved = tmp_path / "moved-outbox"
    later = replace(ctx, settings=ctx.settings.model_copy(update={"notify_dir": moved}))
    assert later.settings.resolved_notify_dir == moved
    assert service.purge(later.db, later).requests == 1

    assert purged not in [m["request_id"] for m in read_outbox(outbox_dir)]
    assert not list(outbox_dir.glob("*.tmp"))
