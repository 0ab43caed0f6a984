"""The dashboard's charts (issue 20, point 7), from the numbers `GET /v1/staff/metrics` gives.

`charts(metrics)` is pure: it takes the API's `Metrics` (app/workflow/metrics.py `compute`) and
returns, for each figure, a server-rendered SVG (templates/charts/chart.svg.j2), the table a
screen reader reads beside it, and the same table as CSV text — so the figures on the page are
the API's by construction. The SVG carries no `style` attribute and no script (a strict CSP
blocks neither): colours are `fill` presentation attributes, and every element has a class
(`chart-bar`, `chart-series-N`, `chart-axis`, `chart-label`, `chart-value`) a stylesheet may
use instead. Words are Korean first with the English beside them, as in the notices.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from app.law.rights import RIGHTS, RequestType
from app.requests.lifecycle import Status
from app.workflow.schemas import Metrics

# Dark enough for 3:1 against white (WCAG 1.4.11, graphical objects); the first is the
# stylesheet's --primary. Never the only cue: each bar has its label and the table its row.
PALETTE = ("#0b4f9c", "#b35806", "#1e6b34", "#7b3294", "#a50f15", "#c51b7d", "#2d6e8e")
INK, MUTED, LINE = "#1b1f24", "#4a5460", "#c9d1da"

STATUS_LABELS = {
    Status.pending_verification: "본인 확인 대기 / awaiting verification",
    Status.open: "접수 / open",
    Status.in_progress: "처리 중 / in progress",
    Status.fulfilling: "이행 중 / fulfilling",
    Status.completed: "완료 / completed",
    Status.refused: "거절 / refused",
    Status.rejected: "반려 / rejected",
    Status.withdrawn: "철회 / withdrawn",
    Status.merged: "중복 병합 / merged",
}
OBJECTION_LABELS = {
    "decision": "결정에 대한 이의 / against a decision",
    "rejection": "반려에 대한 이의 / against a rejection",
    "extension": "연장에 대한 이의 / against an extension",
}

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 40, 56  # the plot area's margins


TYPE_LABELS = {
    RequestType.access: "열람 / access",
    RequestType.correction: "정정 / correction",
    RequestType.deletion: "삭제 / deletion",
    RequestType.suspension: "처리정지 / suspension",
    RequestType.consent_withdrawal: "동의 철회 / consent withdrawal",
    RequestType.automated_decision: "자동화된 결정 / automated decision",
    RequestType.transmission: "전송 / transmission",
}


def type_label(type_: str) -> str:
    """Short enough for a legend; a type added later falls back to the rights registry."""
    try:
        request_type = RequestType(type_)
    except ValueError:
        return type_
    if request_type in TYPE_LABELS:
        return TYPE_LABELS[request_type]
    right = RIGHTS[request_type]
    return f"{right.name_ko} / {right.name_en}"


def status_label(status: str) -> str:
    try:
        return STATUS_LABELS[Status(status)]
    except ValueError:
        return status


@dataclass(frozen=True)
class Table:
    caption: str
    columns: list[str]
    rows: list[list[str | int | float | None]]

    def csv(self) -> str:
        """The table as CSV (a header row, then the rows; an empty cell for null)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        writer.writerows([["" if v is None else v for v in row] for row in self.rows])
        return out.getvalue()


@dataclass
class Shapes:
    """What the SVG template draws, computed here (the template only writes it out)."""

    bars: list[dict] = field(default_factory=list)
    texts: list[dict] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    legend: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    table: Table
    svg: Markup
    csv: str
    filename: str


@lru_cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("app.web"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def _svg(chart_id: str, title: str, description: str, shapes: Shapes) -> Markup:
    text = (
        _env()
        .get_template("charts/chart.svg.j2")
        .render(
            id=chart_id,
            title=title,
            description=description,
            width=WIDTH,
            height=HEIGHT,
            shapes=shapes,
            INK=INK,
            MUTED=MUTED,
            LINE=LINE,
        )
    )
    return Markup(text)  # noqa: S704 (rendered by an autoescaping template)


def _chart(chart_id: str, title: str, description: str, table: Table, shapes: Shapes) -> Chart:
    return Chart(
        id=chart_id,
        title=title,
        description=description,
        table=table,
        svg=_svg(chart_id, title, description, shapes),
        csv=table.csv(),
        filename=f"{chart_id}.csv",
    )


def _nice_max(value: float) -> float:
    """A round top for the value axis (1, 2, 5 × 10^n) at or above `value`."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if factor * step >= value:
            return factor * step
    return 10 * step


def _value_axis(shapes: Shapes, top: float, suffix: str = "") -> None:
    """Grid lines at whole numbers (counts are whole): 4 or 5 steps, fewer for a small top."""
    plot_h = HEIGHT - TOP - BOTTOM
    steps = next(n for n in (4, 5, 2, 1) if (top / n).is_integer())
    for i in range(steps + 1):
        value = top * i / steps
        y = HEIGHT - BOTTOM - plot_h * i / steps
        shapes.lines.append(
            {"x1": LEFT, "y1": y, "x2": WIDTH - RIGHT, "y2": y, "cls": "chart-grid", "stroke": LINE}
        )
        label = f"{value:g}{suffix}"
        shapes.texts.append(
            {"x": LEFT - 6, "y": y + 4, "text": label, "anchor": "end", "cls": "chart-axis"}
        )


def _columns(
    shapes: Shapes,
    labels: list[str],
    stacks: list[list[tuple[float, int, str]]],
    top: float,
    value_texts: list[str] | None = None,
) -> None:
    """Vertical bars, one column per label, each a stack of (value, colour index, tooltip)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    width = max(min(slot * 0.7, 48), 2)
    every = max(1, round(len(labels) / 12))  # at most about 12 axis labels
    for i, (label, stack) in enumerate(zip(labels, stacks, strict=True)):
        x = LEFT + slot * i + (slot - width) / 2
        base = HEIGHT - BOTTOM
        for value, colour, tooltip in stack:
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            shapes.bars.append(
                {
                    "x": round(x, 2),
                    "y": round(base, 2),
                    "w": round(width, 2),
                    "h": round(h, 2),
                    "fill": PALETTE[colour % len(PALETTE)],
                    "cls": f"chart-bar chart-series-{colour}",
                    "title": tooltip,
                }
            )
        if value_texts is not None and value_texts[i]:
            shapes.texts.append(
                {
                    "x": round(x + width / 2, 2),
                    "y": round(base - 4, 2),
                    "text": value_texts[i],
                    "anchor": "middle",
                    "cls": "chart-value",
                }
            )
        if i % every == 0:
            shapes.texts.append(
                {
                    "x": round(x + width / 2, 2),
                    "y": HEIGHT - BOTTOM + 16,
                    "text": label,
                    "anchor": "middle",
                    "cls": "chart-label",
                }
            )
    shapes.lines.append(
        {
            "x1": LEFT,
            "y1": HEIGHT - BOTTOM,
            "x2": WIDTH - RIGHT,
            "y2": HEIGHT - BOTTOM,
            "cls": "chart-axis",
            "stroke": INK,
        }
    )


def _rows(shapes: Shapes, items: list[tuple[str, int, int]]) -> None:
    """Horizontal bars with their label above and value beside: (label, value, colour)."""
    top = max([v for _, v, _ in items] + [1])
    plot_w = WIDTH - LEFT - RIGHT - 40
    step = (HEIGHT - TOP - 16) / max(len(items), 1)
    height = min(step * 0.45, 22)
    for i, (label, value, colour) in enumerate(items):
        y = TOP + step * i + 16
        shapes.texts.append(
            {"x": LEFT, "y": y - 4, "text": label, "anchor": "start", "cls": "chart-label"}
        )
        w = plot_w * value / top
        shapes.bars.append(
            {
                "x": LEFT,
                "y": round(y, 2),
                "w": round(max(w, 0), 2),
                "h": round(height, 2),
                "fill": PALETTE[colour % len(PALETTE)],
                "cls": f"chart-bar chart-series-{colour}",
                "title": f"{label}: {value}",
            }
        )
        shapes.texts.append(
            {
                "x": round(LEFT + w + 6, 2),
                "y": round(y + height * 0.75, 2),
                "text": str(value),
                "anchor": "start",
                "cls": "chart-value",
            }
        )


def _figure(shapes: Shapes, value: str, caption: str) -> None:
    """One big number with its caption (a figure, not a series)."""
    shapes.texts.append(
        {
            "x": WIDTH / 2,
            "y": HEIGHT / 2 + 10,
            "text": value,
            "anchor": "middle",
            "cls": "chart-figure",
            "size": 64,
        }
    )
    shapes.texts.append(
        {
            "x": WIDTH / 2,
            "y": HEIGHT / 2 + 48,
            "text": caption,
            "anchor": "middle",
            "cls": "chart-label",
        }
    )


def _types_in_order(metrics: Metrics) -> list[str]:
    known = [t.value for t in RequestType]
    seen = {t for w in metrics.received_by_week for t in w.by_type} | set(metrics.by_type)
    return [t for t in known if t in seen] + sorted(seen - set(known))


def received_by_week(metrics: Metrics) -> Chart:
    types = _types_in_order(metrics)
    weeks = metrics.received_by_week
    title = "주별 접수 건수(유형별) / Requests received per week, by type"
    table = Table(
        caption=title,
        columns=[
            "주 시작일 / week from",
            "합계 / total",
            *(type_label(t) for t in types),
        ],
        rows=[
            [w.week_start.isoformat(), w.total, *(w.by_type.get(t, 0) for t in types)]
            for w in weeks
        ],
    )
    shapes = Shapes()
    top = _nice_max(max([w.total for w in weeks] + [0]))
    _value_axis(shapes, top)
    _columns(
        shapes,
        [w.week_start.strftime("%m-%d") for w in weeks],
        [
            [
                (
                    w.by_type.get(t, 0),
                    i,
                    f"{w.week_start.isoformat()} {type_label(t)}: {w.by_type.get(t, 0)}",
                )
                for i, t in enumerate(types)
            ]
            for w in weeks
        ],
        top,
    )
    shapes.legend = [
        {"text": type_label(t), "fill": PALETTE[i % len(PALETTE)], "cls": f"chart-series-{i}"}
        for i, t in enumerate(types)
    ]
    description = (
        f"{metrics.since.isoformat()} ~ {metrics.until.isoformat()}: "
        f"{metrics.received}건 접수 / {metrics.received} received"
    )
    return _chart("received-by-week", title, description, table, shapes)


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def on_time_by_month(metrics: Metrics) -> Chart:
    months = metrics.on_time_by_month
    title = "월별 기한 내 처리율 / Share closed on time, per month"
    table = Table(
        caption=title,
        columns=[
            "종결 월 / month closed",
            "종결 / closed",
            "기한 내 / on time",
            "기한 내 비율(%) / on time (%)",
        ],
        rows=[
            [m.month, m.closed, m.closed_on_time, _percent(m.share_closed_on_time)] for m in months
        ],
    )
    shapes = Shapes()
    _value_axis(shapes, 100, "%")
    _columns(
        shapes,
        [m.month for m in months],
        [
            [
                (
                    _percent(m.share_closed_on_time) or 0,
                    0,
                    f"{m.month}: {m.closed_on_time}/{m.closed}",
                )
            ]
            for m in months
        ],
        100,
        value_texts=[f"{_percent(m.share_closed_on_time):g}%" if m.closed else "—" for m in months],
    )
    share = _percent(metrics.share_closed_on_time)
    description = (
        f"전체 {metrics.closed_on_time}/{metrics.closed}"
        + (f" ({share:g}%)" if share is not None else "")
        + f" / overall {metrics.closed_on_time} of {metrics.closed} closed on time"
    )
    return _chart("on-time-by-month", title, description, table, shapes)


def open_by_status(metrics: Metrics) -> Chart:
    order = [s.value for s in Status]
    statuses = sorted(metrics.open_by_status, key=lambda s: order.index(s) if s in order else 99)
    title = "진행 중인 요구(상태별) / Open requests, by status"
    table = Table(
        caption=title,
        columns=["상태 / status", "건수 / requests"],
        rows=[[status_label(s), metrics.open_by_status[s]] for s in statuses],
    )
    shapes = Shapes()
    _rows(shapes, [(status_label(s), metrics.open_by_status[s], i) for i, s in enumerate(statuses)])
    total = sum(metrics.open_by_status.values())
    return _chart("open-by-status", title, f"{total}건 진행 중 / {total} open", table, shapes)


def median_days_to_close(metrics: Metrics) -> Chart:
    title = "종결까지 걸린 일수(중앙값) / Median days to close"
    median = metrics.median_days_to_close
    table = Table(
        caption=title,
        columns=["중앙값(일) / median (days)", "종결 / closed"],
        rows=[[median, metrics.closed]],
    )
    shapes = Shapes()
    shown = "—" if median is None else f"{median:g}"
    _figure(shapes, shown, f"{metrics.closed}건 종결 기준 / over {metrics.closed} closed")
    return _chart("median-days-to-close", title, f"{shown}일 / days", table, shapes)


def overdue_now(metrics: Metrics) -> Chart:
    title = "기한 경과(현재) / Overdue now"
    open_total = sum(metrics.open_by_status.values())
    table = Table(
        caption=title,
        columns=["기한 경과 / overdue", "진행 중 / open"],
        rows=[[metrics.open_overdue, open_total]],
    )
    shapes = Shapes()
    _figure(
        shapes,
        str(metrics.open_overdue),
        f"진행 중 {open_total}건 중 / of {open_total} open",
    )
    return _chart("overdue-now", title, f"{metrics.open_overdue}건 / overdue", table, shapes)


def objections(metrics: Metrics) -> Chart:
    counts = metrics.objections
    kinds = [k for k in OBJECTION_LABELS if k in counts.by_kind] + sorted(
        set(counts.by_kind) - set(OBJECTION_LABELS)
    )
    title = "이의제기 / Objections"
    rows: list[list[str | int | float | None]] = [
        ["제기 / filed", counts.filed],
        ["미처리 / open", counts.open],
        *([OBJECTION_LABELS.get(k, k), counts.by_kind[k]] for k in kinds),
    ]
    table = Table(caption=title, columns=["구분 / what", "건수 / objections"], rows=rows)
    shapes = Shapes()
    _rows(shapes, [(str(r[0]), int(r[1] or 0), i) for i, r in enumerate(rows)])
    description = (
        f"{counts.filed}건 제기, {counts.open}건 미처리 / {counts.filed} filed, {counts.open} open"
    )
    return _chart("objections", title, description, table, shapes)


def forecast(metrics: Metrics) -> Chart:
    """The coming 14 days: requests falling due each day, and how many of them would be
    overdue at the last 7 days' pace of answering (the API's `forecast`)."""
    ahead = metrics.forecast
    title = "향후 14일 기한 도래 예측 / Deadlines in the coming 14 days"
    table = Table(
        caption=title,
        columns=[
            "날짜 / day",
            "근무일 / working day",
            "기한 도래 / due",
            "현재 속도로 기한 경과 예상 / overdue at the current pace",
        ],
        rows=[
            [
                d.day.isoformat(),
                "예 / yes" if d.working_day else "아니요 / no",
                d.due,
                d.overdue_at_rate,
            ]
            for d in ahead.days
        ],
    )
    shapes = Shapes()
    top = _nice_max(max([d.due for d in ahead.days] + [0]))
    _value_axis(shapes, top)
    _columns(
        shapes,
        [d.day.strftime("%m-%d") for d in ahead.days],
        [
            [
                (
                    d.due - d.overdue_at_rate,
                    0,
                    f"{d.day.isoformat()} 기한 내 / in time: {d.due - d.overdue_at_rate}",
                ),
                (
                    d.overdue_at_rate,
                    4,
                    f"{d.day.isoformat()} 기한 경과 예상 / overdue: {d.overdue_at_rate}",
                ),
            ]
            for d in ahead.days
        ],
        top,
    )
    shapes.legend = [
        {
            "text": "기한 내 처리 예상 / answered in time",
            "fill": PALETTE[0],
            "cls": "chart-series-0",
        },
        {"text": "기한 경과 예상 / overdue", "fill": PALETTE[4], "cls": "chart-series-4"},
    ]
    due = sum(d.due for d in ahead.days)
    late = sum(d.overdue_at_rate for d in ahead.days)
    rate = f"{ahead.rate_per_working_day:g}"
    description = (
        f"14일 동안 {due}건 기한 도래, 최근 7일 처리 속도(근무일당 {rate}건)로는 {late}건 기한 경과"
        f" / {due} due in 14 days; at the last 7 days' pace ({rate} per working day), "
        f"{late} would be overdue"
    )
    return _chart("forecast", title, description, table, shapes)


def charts(metrics: Metrics) -> list[Chart]:
    """Every chart of the dashboard, in the order the issue names them."""
    return [
        received_by_week(metrics),
        on_time_by_month(metrics),
        open_by_status(metrics),
        median_days_to_close(metrics),
        overdue_now(metrics),
        objections(metrics),
        forecast(metrics),  # what is coming (issue 22.6), after what has been
    ]
