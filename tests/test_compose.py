"""compose.yaml runs the production shape (issue 21.9): PostgreSQL, `rightsdesk migrate`, the
API with several workers and a `rightsdesk worker`, with the settings production demands.
Docker Compose is not available on the test machines, so the file is checked here: its
services and commands, and that the settings it gives each Rights Desk service are accepted
by production's own validation (Settings), with the required values filled in. The services'
commands, run as processes with their environment, are in tests/e2e/test_compose_shape.py."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from app.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]
FILLED = {
    "POSTGRES_PASSWORD": "pg-password",
    "RIGHTSDESK_SECRET_KEY": "s" * 48,
    "RIGHTSDESK_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
    "RIGHTSDESK_BLIND_INDEX_KEY": "b" * 48,
    "RIGHTSDESK_SMTP_HOST": "relay.example.com",
    "RIGHTSDESK_PORTAL_URL": "https://privacy.example.com",
}


def _interpolate(value: str, filled: dict[str, str] = FILLED) -> str:
    """Compose's `${VAR:?message}` (required) and `${VAR:-default}`, from `filled`."""

    def one(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if op == ":?":
            assert name in filled, f"{name} is required but the test does not fill it"
            return filled[name]
        return filled.get(name, rest)

    return re.sub(r"\$\{([A-Z0-9_]+)(:\?|:-)([^}]*)\}", one, value)


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))


def test_the_services_run_the_production_shape():
    services = _compose()["services"]
    assert set(services) == {"db", "migrate", "api", "worker"}
    assert services["db"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["rightsdesk", "migrate"]
    api = [_interpolate(str(part)) for part in services["api"]["command"]]
    assert api[:2] == ["rightsdesk", "serve"]
    assert int(api[api.index("--workers") + 1]) >= 2
    assert services["worker"]["command"] == ["rightsdesk", "worker"]
    for name in ("api", "worker"):
        after = services[name]["depends_on"]
        assert after["migrate"]["condition"] == "service_completed_successfully"
        assert after["db"]["condition"] == "service_healthy"
    for name in ("migrate", "api", "worker"):
        assert "rightsdesk-var:/srv/var" in services[name]["volumes"]


def test_production_accepts_each_services_settings():
    for name in ("migrate", "api", "worker"):
        env = {
            k: _interpolate(str(v)) for k, v in _compose()["services"][name]["environment"].items()
        }
        assert env["RIGHTSDESK_ENV"] == "production"
        assert env["RIGHTSDESK_NOTIFY_BACKEND"] == "smtp"  # production refuses files
        assert env["RIGHTSDESK_DELIVERY"] == "off"  # the worker delivers
        values = {k.removeprefix("RIGHTSDESK_").lower(): v for k, v in env.items()}
        settings = Settings(_env_file=None, **values)  # raises what production refuses
        assert settings.resolved_database_url.startswith("postgresql+psycopg://rightsdesk:")
        assert settings.smtp_starttls
        # The company's own profile, mounted: production refuses the bundled sample.
        assert env["RIGHTSDESK_PROFILE_PATH"] == "/srv/profile.yaml"
        assert not settings.allow_sample_profile


def test_the_image_keeps_its_var_folder():
    assert 'VOLUME ["/srv/var"]' in (ROOT / "Dockerfile").read_text("utf-8")
