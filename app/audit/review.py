"""The monthly review of the access record (접속기록 점검).

The PIPC safety-measures standard (「개인정보의 안전성 확보조치 기준」) asks that the access
record be reviewed at least once a month and that the reason for a download of personal data
be checked. So:

- a month (a Korea-time calendar month, `YYYY-MM`) is exported for review with a reason; the
  export is itself an access-record entry (`download`, with the reason, month, format and the
  number of rows);
- a reviewer records that a month was reviewed (one review per month: the unique constraint
  on `audit_review.month` decides, across processes);
- months that have ended without a review are counted (the metrics gauge) and listed;
- a staff account that read unusually much in one Korea-time day is flagged: more than
  `RIGHTSDESK_AUDIT_FLAG_READS_PER_DAY` entries of READ_ACTIONS in that day. A deliberately
  simple fixed threshold, not a statistical model: it points the reviewer at a day to look at.

No FastAPI here, and nothing commits: the route's unit of work does.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.audit import service as audit
from app.core.actors import Actor
from app.core.context import AppContext
from app.core.db import Database
from app.core.errors import Conflict, Problem, ValidationProblem
from app.core.ids import new_id
from app.core.paging import page
from app.law.deadlines import SEOUL
from app.models import AuditEntry, AuditReview

_entry = AuditEntry.__table__
_review = AuditReview.__table__

# A month as the API takes it: YYYY-MM, within the years the service reckons with (1970-2999).
MONTH_PATTERN = r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"
MONTH_WORDS = "a month as YYYY-MM (1970-01 to 2999-12), e.g. 2026-11"

# What counts as a read of personal data by a staff account, for the flag: opening a request
# (`view`, also a read of the access record itself), a search by personal data (`search`), a
# download (`download`: documents, and exports of the access record).
READ_ACTIONS = ("view", "search", "download")
STAFF_ACTORS = "staff:%"

# Rows per keyset page of an export: memory stays flat however large the month.
PAGE_SIZE = 500

CSV_COLUMNS = ("seq", "at", "actor", "action", "request_id", "ip", "detail", "prev_hash", "hash")

# The reason given for an export: one line, at most this long (the API's and the console's).
REASON_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_reason(value: str) -> str:
    """An export's reason, stripped; ValueError when empty, too long or not one clean line."""
    value = value.strip()
    if not value:
        raise ValueError("give the reason for the download")
    if len(value) > REASON_MAX:
        raise ValueError(f"at most {REASON_MAX} characters")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


# Months ---------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Month:
    """A Korea-time calendar month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2026-11` → Month(2026, 11); ValueError for anything else."""
        if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
            raise ValueError("not YYYY-MM")
        year, month = int(text[:4]), int(text[5:])
        if not 1970 <= year <= 2999 or not 1 <= month <= 12:
            raise ValueError("out of range")
        return cls(year, month)

    @classmethod
    def of(cls, at: datetime) -> Month:
        """The Korea-time month an aware instant falls in."""
        local = at.astimezone(SEOUL)
        return cls(local.year, local.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __str__(self) -> str:
        return self.label

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def start(self) -> datetime:
        """00:00 Korea time on the first, in UTC (as stored)."""
        return _day_start(self.first_day)

    @property
    def end(self) -> datetime:
        """The start of the next month: the month is [start, end)."""
        return self.next().start

    def days(self) -> Iterator[date]:
        day, stop = self.first_day, self.next().first_day
        while day < stop:
            yield day
            day += timedelta(days=1)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SEOUL).astimezone(UTC)


def _month_problem(detail: str, code: str) -> Problem:
    return ValidationProblem("month", code, detail, detail=detail)


def exportable_month(text: str, now: datetime) -> Month:
    """A month that has begun (the current one is exported as far as it goes); 422 otherwise."""
    month = _parse(text)
    if month > Month.of(now):
        raise _month_problem(f"{month} has not begun yet (Korea time).", "future_month")
    return month


def reviewable_month(text: str, now: datetime) -> Month:
    """A month that has ended in Korea time; 422 for the current month or a later one."""
    month = _parse(text)
    if month >= Month.of(now):
        raise _month_problem(
            f"{month} has not ended yet (Korea time): a month is reviewed once it is over.",
            "month_not_ended",
        )
    return month


def _parse(text: str) -> Month:
    try:
        return Month.parse(text)
    except ValueError:
        raise _month_problem(f"month must be {MONTH_WORDS}.", "invalid_month") from None


# Unreviewed months (the metrics gauge) --------------------------------------------------
_FIRST_AT = select(func.min(_entry.c.at))
_REVIEWED = select(_review.c.month).where(
    _review.c.month >= bindparam("lo"), _review.c.month <= bindparam("hi")
)


def _first_month(conn: Connection | Session) -> Month | None:
    """The month (Korea time) of the access record's first entry still kept."""
    first_at = conn.execute(_FIRST_AT).scalar()
    if first_at is None:
        return None
    if first_at.tzinfo is None:  # a plain Core read on SQLite: stored as UTC without offset
        first_at = first_at.replace(tzinfo=UTC)
    return Month.of(first_at)


def unreviewed_month_list(conn: Connection | Session, now: datetime) -> list[Month]:
    """Months from the first access-record entry's month up to and including last month
    (Korea time) that have no review, oldest first. Nothing before the record began."""
    first_at = conn.execute(_FIRST_AT).scalar()
    if first_at is None:
        return []
    if first_at.tzinfo is None:  # a plain Core read on SQLite: stored as UTC without offset
        first_at = first_at.replace(tzinfo=UTC)
    month, last = Month.of(first_at), Month.of(now).previous()
    if month > last:
        return []
    reviewed = set(conn.execute(_REVIEWED, {"lo": month.label, "hi": last.label}).scalars())
    out = []
    while month <= last:
        if month.label not in reviewed:
            out.append(month)
        month = month.next()
    return out


def unreviewed_months(conn: Connection | Session, now: datetime) -> int:
    """How many ended months of the access record nobody has reviewed yet: for the gauge
    `rightsdesk_audit_months_unreviewed` (takes a Connection or a Session)."""
    return len(unreviewed_month_list(conn, now))


# Flags ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Flag:
    actor: str
    day: date
    reads: int

    def as_dict(self) -> dict[str, Any]:
        return {"actor": self.actor, "day": self.day.isoformat(), "reads": self.reads}


def _reads_over(start: datetime, end: datetime, threshold: int, actors: list[str] | None = None):
    query = (
        select(_entry.c.actor, func.count())
        .where(
            _entry.c.at >= start,
            _entry.c.at < end,
            _entry.c.action.in_(READ_ACTIONS),
            _entry.c.actor.like(STAFF_ACTORS),
        )
        .group_by(_entry.c.actor)
        .having(func.count() > threshold)
    )
    if actors is not None:
        query = query.where(_entry.c.actor.in_(actors))
    return query


def flags_for(conn: Connection | Session, month: Month, threshold: int) -> list[Flag]:
    """Each (staff account, Korea-time day) of the month with more than `threshold` reads.

    One query for the month first: an account that did not read more than the threshold in
    the whole month cannot have done so in one day, so usually that is all. Only accounts
    over it are counted day by day."""
    over = [a for a, _ in conn.execute(_reads_over(month.start, month.end, threshold)).all()]
    if not over:
        return []
    flags = []
    for day in month.days():
        start, end = _day_start(day), _day_start(day + timedelta(days=1))
        for actor, reads in conn.execute(_reads_over(start, end, threshold, over)).all():
            flags.append(Flag(actor, day, reads))
    return sorted(flags, key=lambda f: (f.day, f.actor))


# Export ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Export:
    month: Month
    format: str
    exported_at: datetime
    first_seq: int | None  # the month's entries are those with seq in [first, last] and
    last_seq: int | None  # `at` inside the month, as they stood when the export began
    rows: int
    flags: list[Flag]
    threshold: int


_BOUNDS = select(func.min(_entry.c.seq), func.max(_entry.c.seq), func.count()).where(
    _entry.c.at >= bindparam("start"), _entry.c.at < bindparam("end")
)
_MONTH_PAGE = (
    select(_entry)
    .where(
        _entry.c.seq > bindparam("after"),
        _entry.c.seq <= bindparam("upto"),
        _entry.c.at >= bindparam("start"),
        _entry.c.at < bindparam("end"),
    )
    .order_by(_entry.c.seq)
    .limit(bindparam("size"))
)


def begin_export(
    session: Session, ctx: AppContext, *, month: Month, fmt: str, reason: str, actor: Actor
) -> Export:
    """Fix what a month's export holds and record the download with its reason (PIPC
    standard: a download's reason is checked).

    The rows are bounded by the highest seq seen now: appends serialise on the chain head and
    commit in seq order, so every entry up to it is committed and can never change, and the
    stream (read after this unit commits) returns exactly `rows` entries, however the record
    grows meanwhile. The download entry itself comes after, so it is in the next export."""
    now = ctx.clock.now()
    first, last, rows = (
        session.connection().execute(_BOUNDS, {"start": month.start, "end": month.end}).one()
    )
    threshold = ctx.settings.audit_flag_reads_per_day
    flags = flags_for(session.connection(), month, threshold)
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="download",
        ip=actor.ip,
        detail={
            "what": "access_record",
            "month": month.label,
            "format": fmt,
            "rows": rows,
            "reason": reason,
            "flags": len(flags),
        },
    )
    return Export(month, fmt, now, first, last, rows, flags, threshold)


def _pages(db: Database, export: Export) -> Iterator[list[Any]]:
    """The export's entries in seq order, a keyset page at a time, each page its own short
    read (no transaction held open while a slow client downloads)."""
    if export.first_seq is None:
        return
    after = export.first_seq - 1
    while True:
        with db.engine.connect() as conn:
            rows = conn.execute(
                _MONTH_PAGE,
                {
                    "after": after,
                    "upto": export.last_seq,
                    "start": export.month.start,
                    "end": export.month.end,
                    "size": PAGE_SIZE,
                },
            ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].seq


def _local(at: datetime) -> str:
    """RFC 3339 in Korea time (the month is a Korea-time month)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(SEOUL).isoformat()


def _entry_dict(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": _local(row.at),
        "actor": row.actor,
        "action": row.action,
        "request_id": row.request_id,
        "ip": row.ip,
        "detail": row.detail,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def _cell(value: Any) -> Any:
    # A cell that begins like a formula is quoted, so a spreadsheet shows it instead of
    # running it (CSV injection); no value the record writes today begins so.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def stream_csv(db: Database, export: Export) -> Iterator[bytes]:
    """UTF-8 with a BOM (Excel in Korea then reads Hangul right), a header row, one row per
    entry; `detail` as compact JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue().encode("utf-8")
    for rows in _pages(db, export):
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            d = _entry_dict(row)
            d["detail"] = json.dumps(d["detail"], ensure_ascii=False, separators=(",", ":"))
            writer.writerow([_cell(d[c]) if d[c] is not None else "" for c in CSV_COLUMNS])
        yield buffer.getvalue().encode("utf-8")


def stream_json(db: Database, export: Export) -> Iterator[bytes]:
    """`{month, exported_at, rows, reads_per_day_threshold, flags, entries}`, written as it
    is read."""
    head = {
        "month": export.month.label,
        "exported_at": export.exported_at.isoformat(),
        "rows": export.rows,
        "reads_per_day_threshold": export.threshold,
        "flags": [f.as_dict() for f in export.flags],
    }
    text = json.dumps(head, ensure_ascii=False)
    yield (text[:-1] + ', "entries": [').encode("utf-8")
    first = True
    for rows in _pages(db, export):
        chunk = ", ".join(json.dumps(_entry_dict(r), ensure_ascii=False) for r in rows)
        yield (chunk if first else ", " + chunk).encode("utf-8")
        first = False
    yield b"]}"


# Reviews --------------------------------------------------------------------------------
def _note_aad(review_id: str) -> str:
    return f"audit_review:{review_id}:note"


def record_review(
    session: Session, ctx: AppContext, *, month_text: str, note: str | None, actor: Actor
) -> AuditReview:
    """Record that `actor` reviewed a month that has ended. Exactly one review per month: the
    unique constraint decides (two reviewers at once in two processes: one wins, the other
    gets a 409), so there is no look-up first to be overtaken."""
    now = ctx.clock.now()
    month = reviewable_month(month_text, now)
    began = _first_month(session)
    if began is None or month < began:
        since = f"it began in {began}" if began is not None else "it has no entries yet"
        raise _month_problem(
            f"{month} is before the access record began ({since}): there is nothing to review.",
            "before_record",
        )
    review = AuditReview(
        id=new_id("arv"), month=month.label, reviewed_by=actor.label, reviewed_at=now
    )
    review.note_enc = ctx.keys.encrypt(note, _note_aad(review.id))
    session.add(review)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"{month} has already been reviewed.", month=month.label) from None
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="review",
        ip=actor.ip,
        detail={"what": "access_record", "month": month.label, "review": review.id},
    )
    return review


@dataclass
class ReviewListing:
    items: list[tuple[AuditReview, str | None]]  # each review and its note, decrypted
    next_cursor: str | None
    unreviewed: list[Month]
    flags: list[Flag]
    threshold: int


def list_reviews(
    session: Session, ctx: AppContext, *, limit: int, before: str | None, actor: Actor
) -> ReviewListing:
    """Reviews, newest month first (`before`: the last month seen), the ended months nobody
    has reviewed, and the flags of those months. Reading the notes is recorded."""
    now = ctx.clock.now()
    query = select(AuditReview).order_by(AuditReview.month.desc()).limit(limit + 1)
    if before:
        query = query.where(AuditReview.month < before)
    rows, more = page(list(session.execute(query).scalars()), limit)
    items = [(r, ctx.keys.decrypt(r.note_enc, _note_aad(r.id))) for r in rows]
    conn = session.connection()
    unreviewed = unreviewed_month_list(conn, now)
    threshold = ctx.settings.audit_flag_reads_per_day
    flags = [f for m in unreviewed for f in flags_for(conn, m, threshold)]
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="view",
        ip=actor.ip,
        detail={"what": "access_record_reviews", "returned": len(items)},
    )
    return ReviewListing(items, rows[-1].month if more else None, unreviewed, flags, threshold)
