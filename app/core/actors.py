"""Who did something: every timeline event and access-record entry names its actor."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    kind: str  # subject | staff | integration | system
    id: str | None = None
    ip: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}" if self.id else self.kind


SYSTEM = Actor("system")
