"""Per-year counters behind the human reference RD-YYYY-NNNNNN."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class ReferenceCounter(SQLModel, table=True):
    __tablename__ = "reference_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0
