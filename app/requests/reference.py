"""Human references RD-YYYY-NNNNNN, numbered per year (Korea time) without gaps from races."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.law.deadlines import seoul_date
from app.models import ReferenceCounter

_counter = ReferenceCounter.__table__


_BUMP = (
    update(_counter)
    .where(_counter.c.year == bindparam("y"))
    .values(last=_counter.c.last + 1)
    .returning(_counter.c.last)
)


def next_reference(session: Session, received_at: datetime) -> str:
    year = seoul_date(received_at).year
    conn = session.connection()
    number = conn.execute(_BUMP, {"y": year}).scalar()
    if number is None:
        # First request of the year: create the counter; a concurrent creator wins quietly
        # and our bump then waits for its row lock, so numbers never repeat.
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(insert(_counter).values(year=year, last=0).on_conflict_do_nothing())
        number = conn.execute(_BUMP, {"y": year}).scalar_one()
    return f"RD-{year}-{number:06d}"
