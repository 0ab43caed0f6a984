"""What a new operator reads must be true (issue 21.10): one version, the package's, in the
OpenAPI document; every setting in the README's or operations' settings table, and no
setting that nothing reads."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

from app.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_the_openapi_version_is_the_packages(client):
    assert client.get("/openapi.json").json()["info"]["version"] == version("rightsdesk")
    committed = (ROOT / "openapi/openapi.json").read_text("utf-8")
    assert f'"version": "{version("rightsdesk")}"' in committed


def _documented() -> set[str]:
    """RIGHTSDESK_* names in the tables, with `_SUFFIX` shorthands expanded against the row's
    first full name (`RIGHTSDESK_SMTP_HOST`, `_PORT` is RIGHTSDESK_SMTP_PORT)."""
    names: set[str] = set()
    for doc in ("README.md", "docs/operations.md"):
        for line in (ROOT / doc).read_text("utf-8").splitlines():
            if not line.startswith("|"):
                continue
            cell = line.split("|")[1]
            full = re.findall(r"`RIGHTSDESK_([A-Z0-9_]+)`", cell)
            names.update(full)
            for short in re.findall(r"`_([A-Z0-9_]+)`", cell):
                for first in full:
                    parts = first.split("_")
                    # Every prefix of the first name: the shorthand replaces its tail.
                    names.update("_".join([*parts[:i], short]) for i in range(len(parts)))
    return names


def test_every_setting_is_in_a_settings_table():
    documented = _documented()
    missing = [n.upper() for n in Settings.model_fields if n.upper() not in documented]
    assert missing == [], missing


def test_every_setting_is_read_somewhere():
    code = "\n".join(p.read_text("utf-8") for p in (ROOT / "app").rglob("*.py"))
    # Beside its own definition; the rate limits are read by name (config.rate_limit()).
    unread = [
        n
        for n in Settings.model_fields
        if len(re.findall(rf"\b{n}\b", code)) < 2 and not n.startswith("rate_limit_")
    ]
    assert unread == [], unread
