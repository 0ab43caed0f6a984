"""Everything a service needs that is not the database session, built once per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.clock import Clock
from app.core.config import Settings
from app.core.crypto import BlindIndex, KeyRing
from app.core.db import Database, Pool
from app.core.group_writer import GroupWriter
from app.core.passwords import Passwords
from app.profile.loader import Profile, load_profile, refuse_sample


@dataclass
class AppContext:
    settings: Settings
    db: Database
    keys: KeyRing
    blind_index: BlindIndex
    secret_key: str
    profile: Profile
    clock: Clock
    passwords: Passwords
    # Called after a commit that wrote outbox rows (wakes whoever delivers them).
    outbox_kick: Callable[[], None] = field(default=lambda: None)
    intake_writer: GroupWriter = field(init=False)

    def __post_init__(self) -> None:
        self.intake_writer = GroupWriter(self.db)

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> AppContext:
        refuse_sample(
            settings.profile_path,
            production=settings.env == "production",
            allowed=settings.allow_sample_profile,
        )
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url, pool_of(settings)),
            keys=KeyRing(settings.resolved_encryption_keys()),
            blind_index=BlindIndex(
                settings.resolved_blind_index_key(), settings.blind_index_previous_key
            ),
            secret_key=settings.resolved_secret_key(),
            profile=load_profile(settings.profile_path),
            clock=clock or Clock(),
            passwords=Passwords(settings.argon2_time_cost, settings.argon2_memory_kib),
        )


def pool_of(settings: Settings) -> Pool:
    """The connection pool each process keeps, from RIGHTSDESK_DB_POOL_*."""
    return Pool(settings.db_pool_size, settings.db_pool_overflow, settings.db_pool_timeout_seconds)
