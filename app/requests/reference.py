"""Human references RD-YYYY-NNNNNN, numbered per year (Korea time) without gaps from races."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.core.db import BATCH, before_commit
from app.law.deadlines import seoul_date
from app.models import ReferenceCounter

_counter = ReferenceCounter.__table__


_BUMP = (
    update(_counter)
    .where(_counter.c.year == bindparam("y"))
    .values(last=_counter.c.last + 1)
    .returning(_counter.c.last)
)


_SET = update(_counter).where(_counter.c.year == bindparam("y")).values(last=bindparam("last"))


class _Numbers(dict):
    """A batch's numbering (core/db.py `BATCH`): the counter of each year it numbered in is
    bumped (and locked) once, at the batch's first filing of that year; the next numbers
    follow in memory, and the counter is set to the last one just before the commit."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def __eq__(self, other: object) -> bool:  # `before_commit` compares by identity
        return self is other

    __hash__ = object.__hash__

    def __call__(self) -> None:
        conn = self.session.connection()
        for year, (first, last) in self.items():
            if last != first:
                conn.execute(_SET, {"y": year, "last": last})
        self.clear()


def next_reference(session: Session, received_at: datetime) -> str:
    year = seoul_date(received_at).year
    numbers = None
    if session.info.get(BATCH):
        callbacks = session.info.get("before_commit") or ()
        numbers = next((c for c in callbacks if isinstance(c, _Numbers)), None)
        if numbers is not None and year in numbers:
            first, last = numbers[year]
            numbers[year] = (first, last + 1)
            return f"RD-{year}-{last + 1:06d}"
    number = _bump(session, year)
    if session.info.get(BATCH):
        if numbers is None:
            numbers = _Numbers(session)
            before_commit(session, numbers)
        numbers[year] = (number, number)
    return f"RD-{year}-{number:06d}"


def _bump(session: Session, year: int) -> int:
    conn = session.connection()
    number = conn.execute(_BUMP, {"y": year}).scalar()
    if number is None:
        # First request of the year: create the counter; a concurrent creator wins quietly
        # and our bump then waits for its row lock, so numbers never repeat.
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(insert(_counter).values(year=year, last=0).on_conflict_do_nothing())
        number = conn.execute(_BUMP, {"y": year}).scalar_one()
    return number
