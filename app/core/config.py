"""Settings from the environment (prefix RIGHTSDESK_); docs/operations.md says how to set them."""

from __future__ import annotations

import base64
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, time
from enum import StrEnum
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    production = "production"


class DeliveryMode(StrEnum):
    """Who delivers the outbox (notices and webhooks)."""

    background = (
        "background"  # a thread in the API process (development: `make run` needs nothing else)
    )
    sync = "sync"  # right after each commit, before the response (tests)
    off = "off"  # only `rightsdesk worker` (production)


SMTP_REPLIES_PER_MESSAGE = 4
# Lanes of the argon2id password hasher (argon2-cffi's default, RFC 9106).
ARGON2_PARALLELISM = 4

# The rate-limit settings (Settings.rate_limit_*), each validated by parse_rate_limit.
RATE_LIMITS = tuple(
    "rate_limit_" + name
    for name in (
        "filing_per_address",
        "sign_in_per_address",
        "sign_in_per_reference",
        "resend_per_address",
        "resend_per_request",
        "code_check_per_address",
        "code_check_per_request",
        "login_per_address",
        "login_per_email",
        "client_token_per_address",
        "client_token_per_client",
        "integration_filing_per_client",
    )
)


def parse_window(value: str) -> tuple[time, time] | None:
    """ "HH:MM-HH:MM" (it may pass midnight) as two times; None for an empty value."""
    if not value.strip():
        return None
    match = re.fullmatch(r"\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*", value)
    if not match:
        raise ValueError('write the window as "HH:MM-HH:MM", e.g. "03:00-04:00"')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        raise ValueError('write the window as "HH:MM-HH:MM", e.g. "03:00-04:00"')
    return time(h1, m1), time(h2, m2)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RIGHTSDESK_", env_file=".env", extra="ignore", frozen=True
    )

    env: Environment = Environment.development
    database_url: str | None = None
    # PostgreSQL connections per process (each API worker and each `rightsdesk worker`): kept
    # open, allowed beyond that under load (closed when returned, so a small overflow: a
    # connection made per call costs the server a process), and how long a unit waits for one
    # before it is answered 503. Every process's size + overflow must fit max_connections.
    db_pool_size: int = Field(default=10, ge=1, le=100)
    db_pool_overflow: int = Field(default=5, ge=0, le=100)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    secret_key: str | None = None
    # Key ring for personal data at rest, newest first: "kid:base64key,kid:base64key".
    encryption_keys: str | None = None
    # Key for the keyed blind index (HMAC) of e-mail addresses; it never rotates with the ring.
    blind_index_key: str | None = None
    # While `rightsdesk keys reindex` moves the blind index to a new key: the key it leaves,
    # so look-ups still find the rows not yet moved.
    blind_index_previous_key: str | None = None
    var_dir: Path = Path("./var")
    # The company profile (data categories, retention, processors); default: the reference one.
    profile_path: str | None = None
    # Production refuses the bundled sample profile (every notice would sign as the reference
    # company) unless this says it is meant (a demo).
    allow_sample_profile: bool = False

    notify_backend: Literal["file", "smtp"] = "file"
    notify_dir: Path | None = None
    # The file sender keeps every notice in clear on this host: production refuses it unless
    # this says it is wanted (say, a hand-over folder another system empties).
    notify_allow_file: bool = False
    delivery: DeliveryMode | None = None
    outbox_poll_seconds: float = Field(2.0, gt=0)
    outbox_max_attempts: int = Field(10, ge=1)
    # A worker claims up to `batch_size` messages under a lease; it renews the lease while
    # it sends (a message is only started with at least half a lease left), and once the
    # lease has run out another worker may claim and send the messages it still held.
    outbox_lease_seconds: float = Field(120.0, gt=0)
    outbox_batch_size: int = Field(20, ge=1)
    smtp_host: str = "localhost"
    smtp_port: int | None = Field(None, ge=1, le=65535)  # 465 with smtp_tls, else 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    # How the connection to the relay is protected: STARTTLS, or TLS from the first byte
    # (implicit TLS, "SMTPS", port 465). Either way the certificate and the host name are
    # verified, against the system's CAs or those of smtp_ca_file.
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_ca_file: Path | None = None
    # Production refuses plain SMTP unless the relay is on this host or a trusted network.
    smtp_local_relay: bool = False
    smtp_from: str = "privacy@example.com"
    smtp_timeout_seconds: float = Field(10.0, gt=0)

    # Public filings per filer e-mail address and hour: a portal that e-mails codes to any
    # address it is given must not become a way to flood someone's mailbox.
    intake_max_per_email_per_hour: int = Field(10, ge=1)
    # Verification by one-time code.
    code_ttl_seconds: int = Field(600, ge=60)
    code_max_attempts: int = Field(5, ge=1)
    code_resend_cooldown_seconds: int = Field(60, ge=0)
    code_max_per_hour: int = Field(5, ge=1)
    subject_token_ttl_seconds: int = Field(3600, ge=60)
    # A self-filed request whose code is never entered is closed (PIPA-38-identity) after this.
    unverified_expiry_days: int = Field(7, ge=1)

    # Staff log-in (PIPC safety measures: lock after repeated failures, log out when idle).
    staff_token_ttl_seconds: int = Field(900, ge=60)
    # A staff session slides while it is used (each refresh), ends after this many idle
    # minutes, and after this many hours whatever happens (PIPC: log out when idle).
    staff_idle_minutes: int = Field(30, ge=1)
    staff_session_hours: int = Field(12, ge=1)
    login_max_failures: int = Field(5, ge=1)
    login_lock_seconds: int = Field(900, ge=1)
    password_min_length: int = Field(12, ge=8)
    # argon2id cost (the argon2-cffi defaults, RFC 9106's second recommendation).
    argon2_time_cost: int = Field(3, ge=1)
    # argon2 needs at least 8 KiB per lane, and the hasher runs ARGON2_PARALLELISM lanes.
    argon2_memory_kib: int = Field(65536, ge=8 * ARGON2_PARALLELISM)
    # Workflow.
    objection_window_days: int = Field(30, ge=1)
    # Public bodies (공공기관) may cite the grounds reserved to them (Art. 35(4)(3), 37(2)(3)).
    public_body: bool = False

    # Proxy documents (위임장, proofs): size limit, count per request, and how long they are
    # kept after the request closes before the worker destroys them.
    max_document_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_documents_per_request: int = Field(10, ge=1)
    document_retention_days: int = Field(90, ge=0)
    # How long a completed access request's result (열람 결과) can be downloaded; then the
    # worker destroys it and the route answers 410.
    result_ttl_days: int = Field(30, ge=1)
    # A closed request's personal data (subject, requester, documents, results, notice
    # payloads, free text) is destroyed this long after closing: three years, for disputes.
    request_retention_days: int = Field(1095, ge=1)
    # The access record (접속기록) is kept at least two years (PIPC safety-measures standard,
    # Art. 8); older entries are removed by the purge. Below 730 days is refused.
    audit_retention_days: int = Field(730, ge=730)
    # `rightsdesk scrub` by the worker (PostgreSQL): the hours, Asia/Seoul, in which it may
    # rewrite (VACUUM FULL, which locks each table) the tables destructions touched, e.g.
    # "03:00-04:00". Empty: never (the default); the operator runs `rightsdesk scrub`.
    scrub_window: str = ""

    max_body_bytes: int = Field(256 * 1024, ge=1024)
    # The portal's base URL: notices link to {portal_url}/requests/{reference}.
    portal_url: str = "http://127.0.0.1:8000"
    public_base_url: str = "http://127.0.0.1:8000"
    # The portal's base URL: notices link to {portal_url}/requests/{reference}. Unset: our
    # own portal at {public_base_url}/portal (`serve` sets that to the address it serves).
    portal_url: str | None = None
    # Rights Desk's own portal pages at /portal (on|off); off: /portal is 404 and notices
    # link to portal_url (a company's own portal).
    portal: bool = True
    # Rights Desk's staff console at /console (on|off).
    console: bool = True
    # The portal's look, until the company profile carries it: a logo (PNG, JPEG or SVG file)
    # and one primary colour (#rrggbb; one too light for AA contrast on white is refused).
    portal_logo_path: Path | None = None
    portal_primary_color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")

    # Observability: log lines as JSON (collectors) or text (people), json by default in
    # production; the client's IP in the request log line only when asked (it is personal
    # data); a bearer token that /metrics then requires.
    log_format: Literal["json", "text"] | None = None
    log_client_ip: bool = False
    metrics_token: str | None = None

    # The portal's origins that browsers may call the API from (CORS), comma-separated
    # (`https://privacy.example.com`); none by default: same-origin only.
    cors_origins: str = ""

    # Integrations: client-credentials tokens, and Idempotency-Key records kept per client.
    integration_token_ttl_seconds: int = Field(900, ge=60)
    idempotency_ttl_hours: int = Field(24, ge=1)
    # How long a call holds its Idempotency-Key while it runs; a call that died mid-way
    # frees its key after this, so a retry can do the work.
    idempotency_lease_seconds: float = Field(60.0, gt=0)
    # Webhooks: allow receivers on loopback, private or link-local addresses and plain http
    # (tests, on-premises receivers); refused otherwise, at registration and at delivery.
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    # After a secret's rotation the previous secret signs beside the new one this long.
    webhook_secret_overlap_hours: int = Field(24, ge=0)
    webhook_batch_size: int = Field(20, ge=1)

    # Rate limits against guessers and floods, on top of the per-request and
    # per-account rules above, counted in the database so they hold across API processes.
    # Behind a reverse proxy or a server-side portal, list it in trusted_proxies
    # (comma-separated IPs or CIDRs): X-Forwarded-For is then read from the right, skipping
    # trusted hops; otherwise every caller would share the proxy's address.
    trusted_proxies: str = ""
    # Each limit is "N/unit" (unit: second, minute, hour or day; "N/k unit" for k units, e.g.
    # "20/15 minutes"), or "off". Fixed windows; a refused call counts too. Per client
    # address (an IPv6 address counts by its /64) and per identifier across all addresses.
    # The defaults are far above what a person does (see README) and far below what guessing
    # a 6-digit code or a password needs.
    rate_limit_filing_per_address: str = "100/hour"
    rate_limit_sign_in_per_address: str = "60/hour"
    rate_limit_sign_in_per_reference: str = "20/hour"
    rate_limit_resend_per_address: str = "60/hour"
    rate_limit_resend_per_request: str = "20/day"
    rate_limit_code_check_per_address: str = "100/hour"
    rate_limit_code_check_per_request: str = "60/day"
    rate_limit_login_per_address: str = "100/hour"
    rate_limit_login_per_email: str = "30/hour"
    rate_limit_client_token_per_address: str = "600/hour"
    rate_limit_client_token_per_client: str = "600/hour"
    rate_limit_integration_filing_per_client: str = "1000/hour"

    # Temporary public holidays (임시공휴일) declared after the `holidays` package was released:
    # "YYYY-MM-DD,…". They join the deadline calendar; open deadlines are recomputed at start.
    extra_holidays: str = ""
    # Deadline reminders to staff: Korea-time calendar days before the due date ("3,1"), each
    # sent once per deadline, plus one when a request becomes overdue.
    reminder_days_before: str = "3,1"
    # The monthly review of the access record: a staff account with more reads of personal
    # data (view, search, download entries) than this in one Korea-time day is flagged.
    audit_flag_reads_per_day: int = Field(200, ge=1)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql")):
            raise ValueError(
                "only SQLite (sqlite:///path.db) and PostgreSQL "
                "(postgresql+psycopg://user@host/db) are supported"
            )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _valid_origins(cls, value: str) -> str:
        origins = [o.strip() for o in value.split(",") if o.strip()]
        for origin in origins:
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
                raise ValueError(
                    f"RIGHTSDESK_CORS_ORIGINS: {origin!r} is not an origin "
                    "(scheme://host[:port], no path, no wildcard)"
                )
        return ",".join(origins)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o for o in self.cors_origins.split(",") if o]

    @field_validator("scrub_window")
    @classmethod
    def _valid_scrub_window(cls, value: str) -> str:
        parse_window(value)
        return value.strip()

    @field_validator("extra_holidays")
    @classmethod
    def _valid_extra_holidays(cls, value: str) -> str:
        return ",".join(d.isoformat() for d in parse_extra_holidays(value))

    @field_validator("reminder_days_before")
    @classmethod
    def _valid_reminder_days(cls, value: str) -> str:
        return ",".join(str(n) for n in parse_reminder_days(value))

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_trusted_proxies(cls, value: str) -> str:
        return ",".join(str(n) for n in parse_trusted_proxies(value))

    @field_validator(*RATE_LIMITS)
    @classmethod
    def _valid_rate_limit(cls, value: str, info) -> str:
        parse_rate_limit(value, "RIGHTSDESK_" + info.field_name.upper())
        return value.strip().lower()

    def rate_limit(self, name: str) -> RateLimit | None:
        """The limit `rate_limit_<name>` (e.g. "code_check_per_request"); None when off."""
        return parse_rate_limit(getattr(self, "rate_limit_" + name))

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return parse_trusted_proxies(self.trusted_proxies)

    @property
    def extra_holiday_dates(self) -> tuple[date, ...]:
        return parse_extra_holidays(self.extra_holidays)

    @property
    def reminder_days(self) -> tuple[int, ...]:
        """Days before the due date, largest first (e.g. (3, 1))."""
        return parse_reminder_days(self.reminder_days_before)

    @model_validator(mode="after")
    def _production_needs_real_keys(self) -> Settings:
        if self.env is Environment.production:
            missing = [
                name
                for name in ("secret_key", "encryption_keys", "blind_index_key")
                if not getattr(self, name)
            ]
            if missing:
                names = ", ".join("RIGHTSDESK_" + m.upper() for m in missing)
                raise ValueError(f"production refuses to start without {names}")
            if len(self.secret_key or "") < 32:
                raise ValueError("RIGHTSDESK_SECRET_KEY must be at least 32 characters")
            # The blind index is an HMAC over e-mail addresses, a small and guessable space:
            # a short key would let anyone holding the table test addresses offline.
            if len(self.blind_index_key or "") < 32:
                raise ValueError("RIGHTSDESK_BLIND_INDEX_KEY must be at least 32 characters")
        return self

    @model_validator(mode="after")
    def _webhook_fits_the_lease(self) -> Settings:
        # One delivery may take connect + write + read, each up to the timeout, and a message
        # is only started with half a lease left: so the lease must hold two such sends.
        if self.outbox_lease_seconds < 6 * self.webhook_timeout_seconds:
            raise ValueError(
                "RIGHTSDESK_OUTBOX_LEASE_SECONDS must be at least 6 x "
                "RIGHTSDESK_WEBHOOK_TIMEOUT_SECONDS, so that a webhook in flight never outlives "
                "its worker's claim"
            )
        return self

    @model_validator(mode="after")
    def _production_sends_mail(self) -> Settings:
        if (
            self.env is Environment.production
            and self.notify_backend == "file"
            and not self.notify_allow_file
        ):
            raise ValueError(
                "production refuses RIGHTSDESK_NOTIFY_BACKEND=file (the default: notices "
                "written in clear to files on this host): set RIGHTSDESK_NOTIFY_BACKEND=smtp, "
                "or RIGHTSDESK_NOTIFY_ALLOW_FILE=true if files are really wanted"
            )
        return self

    @model_validator(mode="after")
    def _smtp_is_safe(self) -> Settings:
        if self.smtp_starttls and self.smtp_tls:
            raise ValueError("set RIGHTSDESK_SMTP_STARTTLS or RIGHTSDESK_SMTP_TLS, not both")
        if self.notify_backend != "smtp":
            return self
        if (
            self.env is Environment.production
            and not (self.smtp_starttls or self.smtp_tls)
            and not self.smtp_local_relay
        ):
            raise ValueError(
                "production refuses plain SMTP: set RIGHTSDESK_SMTP_STARTTLS or "
                "RIGHTSDESK_SMTP_TLS, or RIGHTSDESK_SMTP_LOCAL_RELAY if the relay is local"
            )
        if self.outbox_lease_seconds < 2 * self.smtp_send_budget_seconds:
            raise ValueError(
                "RIGHTSDESK_OUTBOX_LEASE_SECONDS must be at least "
                f"{SMTP_REPLIES_PER_MESSAGE * 2} x RIGHTSDESK_SMTP_TIMEOUT_SECONDS, so that "
                "a message's send fits in half a lease"
            )
        return self

    # Derived values -----------------------------------------------------------------
    @property
    def resolved_smtp_port(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        return 465 if self.smtp_tls else 25

    @property
    def smtp_send_budget_seconds(self) -> float:
        """The longest one message may take on an open connection: each of the server's
        replies (MAIL, RCPT, DATA, end of data) may take up to the timeout."""
        return SMTP_REPLIES_PER_MESSAGE * self.smtp_timeout_seconds

    @property
    def resolved_portal_url(self) -> str:
        """Where notices send the filer: {this}/requests/{reference}."""
        if self.portal_url:
            return self.portal_url.rstrip("/")
        base = self.public_base_url.rstrip("/")
        return f"{base}/portal" if self.portal else base

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'rightsdesk.db'}"

    @property
    def resolved_notify_dir(self) -> Path:
        return self.notify_dir or self.var_dir / "outbox"

    @property
    def resolved_delivery(self) -> DeliveryMode:
        if self.delivery is not None:
            return self.delivery
        return DeliveryMode.background if self.env is Environment.development else DeliveryMode.off

    @property
    def resolved_log_format(self) -> str:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.env is Environment.production else "text"

    def resolved_secret_key(self) -> str:
        return self.secret_key or _dev_secret(self.var_dir, "secret_key", _token)

    def resolved_encryption_keys(self) -> str:
        return self.encryption_keys or _dev_secret(self.var_dir, "encryption_keys", _key_ring)

    def resolved_blind_index_key(self) -> str:
        return self.blind_index_key or _dev_secret(self.var_dir, "blind_index_key", _token)


def parse_extra_holidays(value: str) -> tuple[date, ...]:
    """ "2026-12-24, 2026-12-31" → sorted distinct dates; anything else is a start-up error
    that names the setting."""
    out: set[date] = set()
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if len(part) != 10:
                raise ValueError
            out.add(date.fromisoformat(part))
        except ValueError:
            raise ValueError(
                f"RIGHTSDESK_EXTRA_HOLIDAYS: {part[:40]!r} is not a date; "
                "expected YYYY-MM-DD dates separated by commas"
            ) from None
    return tuple(sorted(out))


def parse_reminder_days(value: str) -> tuple[int, ...]:
    """ "3,1" → (3, 1): distinct whole days from 1 to 99, largest first."""
    out: set[int] = set()
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 99:
            raise ValueError(
                f"RIGHTSDESK_REMINDER_DAYS_BEFORE: {part[:40]!r} is not a number of days "
                "from 1 to 99; expected e.g. 3,1"
            )
        out.add(int(part))
    return tuple(sorted(out, reverse=True))


_RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"([0-9]{1,9})\s*/\s*([0-9]{1,6})?\s*(second|minute|hour|day)s?")


@dataclass(frozen=True)
class RateLimit:
    """`count` calls per fixed window of `seconds`."""

    count: int
    seconds: int


@lru_cache(maxsize=256)
def parse_rate_limit(value: str, setting: str = "rate limit") -> RateLimit | None:
    """ "50/day" → RateLimit(50, 86400); "20/15 minutes" → RateLimit(20, 900); "off" → None.
    Anything else is a start-up error that names the setting."""
    text = (value or "").strip().lower()
    if text == "off":
        return None
    found = _RATE.fullmatch(text)
    count = int(found.group(1)) if found else 0
    units = int(found.group(2) or 1) if found else 0
    if not found or count < 1 or units < 1:
        raise ValueError(
            f"{setting}: {value[:40]!r} is not a rate limit; expected e.g. 100/hour, "
            "20/15 minutes, 50/day, or off"
        )
    return RateLimit(count, units * _RATE_UNITS[found.group(3)])


@lru_cache(maxsize=16)
def parse_trusted_proxies(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """ "10.0.0.2, 10.1.0.0/16" → the networks; anything else is a start-up error."""
    out: list[IPv4Network | IPv6Network] = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"RIGHTSDESK_TRUSTED_PROXIES: {part[:60]!r} is not an IP address or network; "
                "expected addresses or CIDRs separated by commas, e.g. 10.0.0.2,10.1.0.0/16"
            ) from None
    return tuple(dict.fromkeys(out))


def _token() -> str:
    return secrets.token_urlsafe(48)


def _key_ring() -> str:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return f"k{secrets.token_hex(3)}:{key}"


def _dev_secret(var_dir: Path, name: str, make) -> str:
    """Development only: generate a secret once and keep it under var/, so restarts keep data readable."""
    path = var_dir / "secrets" / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    # Write aside, then link into place: link fails if the file exists, so when several
    # workers start at once exactly one secret wins and nobody reads a half-written file.
    tmp = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(make())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
