"""The pack as files: `evidence.json` and `report.html` (printable, Korean with the English
beside it, self-contained: its style is inline in the file, no external asset), in one ZIP."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.evidence.schemas import EvidencePack
from app.law.deadlines import SEOUL
from app.law.rights import RIGHTS, RequestType

OUTCOMES = {
    "granted": "인용 / granted",
    "partially_granted": "일부 인용 / partially granted",
    "refused": "거절 / refused",
}


STATUSES = {
    "pending_verification": "본인 확인 대기 / awaiting verification",
    "open": "접수 / open",
    "in_progress": "처리 중 / in progress",
    "fulfilling": "이행 중 / fulfilling",
    "completed": "완료 / completed",
    "refused": "거절 / refused",
    "rejected": "반려 / rejected",
    "withdrawn": "철회 / withdrawn",
    "merged": "중복 병합 / merged into an earlier request",
}


def _type(value: str) -> str:
    try:
        right = RIGHTS[RequestType(value)]
    except ValueError:
        return value
    return f"{right.name_ko} / {right.name_en} ({right.article})"


def _status(value: str | None) -> str:
    return STATUSES.get(value or "", value or "")


def _seoul(value: str | datetime | None) -> str:
    """A time as Korea time, `2026-12-07 14:05 KST`."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M KST")


@lru_cache
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=select_autoescape(["html", "j2"]),
        auto_reload=False,
    )
    env.filters["seoul"] = _seoul
    env.filters["request_type"] = _type
    env.filters["status"] = _status
    env.globals["OUTCOMES"] = OUTCOMES
    return env


def report_html(pack: dict) -> str:
    """The report from the pack's JSON (the same data the file holds)."""
    return _env().get_template("report.html.j2").render(pack=pack)


def evidence_zip(pack: EvidencePack) -> bytes:
    data = pack.model_dump(mode="json")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "evidence.json", json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
        )
        archive.writestr("report.html", report_html(data))
    return buffer.getvalue()
