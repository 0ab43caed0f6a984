"""The access result as files: JSON, CSV (UTF-8 with a BOM, so Excel reads Korean right) and a
ZIP with both and a readable summary, Korean first and English beside it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import datetime
from typing import Any

from app.notifications.render import moment_en, moment_ko

CSV_COLUMNS = (
    "category",
    "category_name_ko",
    "category_name_en",
    "system",
    "record",
    "item",
    "value",
)
# A cell Excel would run as a formula (CSV injection): shown as text instead.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False).encode("utf-8")


def to_csv(doc: dict[str, Any]) -> bytes:
    """One row per category and item; a category where nothing was found has one row with no
    item, so it is still seen to have been searched."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for category in doc["categories"]:
        head = [category["category"], category["name_ko"], category["name_en"]]
        if not category["items"]:
            writer.writerow([*head, "", "", "", ""])
        for item in category["items"]:
            writer.writerow(
                [
                    *(_cell(h) for h in head),
                    _cell(item.get("system")),
                    _cell(item.get("record")),
                    _cell(item["item"]),
                    _cell(item["value"]),
                ]
            )
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\r\n", "\n").replace("\n", "\n        ")


def _both(entry: Any, lang: str) -> str:
    if isinstance(entry, dict):
        return str(entry.get(lang) or entry.get(f"text_{lang}") or entry.get("en") or entry)
    return str(entry)


def _period_ko(period: str | None) -> str:
    """`P5Y` → 5년, `P3M` → 3개월; anything else as written."""
    from app.law.retention import parse_period

    try:
        p = parse_period(period or "")
    except ValueError:
        return period or "-"
    parts = [(p.years, "년"), (p.months, "개월"), (p.days, "일")]
    return " ".join(f"{n}{u}" for n, u in parts if n)


def _period_en(period: str | None) -> str:
    from app.law.retention import parse_period

    try:
        p = parse_period(period or "")
    except ValueError:
        return period or "-"
    parts = [(p.years, "year"), (p.months, "month"), (p.days, "day")]
    return " ".join(f"{n} {u}{'s' if n > 1 else ''}" for n, u in parts if n)


def summary(doc: dict[str, Any], company: Any) -> str:
    """A readable summary: Korean first, English after, as a careful privacy officer writes."""
    generated = datetime.fromisoformat(doc["generated_at"])
    expires = datetime.fromisoformat(doc["expires_at"])
    ko: list[str] = [
        "개인정보 열람 결과 요약",
        "",
        f"{company.name_ko}이(가) 개인정보 보호법 제35조에 따른 귀하의 열람 요구"
        f"(접수번호 {doc['reference']})에 대하여 보유하고 있는 개인정보를 아래와 같이 알려 드립니다.",
        "같은 법 시행령 제41조제1항에 따라 개인정보의 항목과 내용, 수집·이용 목적, 보유 및 이용 기간,",
        "제3자 제공 현황, 처리위탁 현황을 함께 적었습니다.",
        "",
        f"  - 작성 일시: {moment_ko(generated)} (한국 시간)",
        f"  - 내려받기 가능 기한: {moment_ko(expires)}까지. 이후 이 결과는 안전하게 파기됩니다.",
        "  - 함께 든 파일: result.json(기계가 읽을 수 있는 형식), result.csv(엑셀에서 열 수 있는 형식)",
        "",
    ]
    en: list[str] = [
        "Summary of your personal information (access result)",
        "",
        f"In answer to your request for access under PIPA Art. 35 (reference {doc['reference']}), "
        f"{company.name_en} sets out below the personal information it holds about you, with "
        "what Decree Art. 41(1) lists: the items and their content, the purposes, the retention "
        "period, provision to third parties and the processors we entrust.",
        "",
        f"  - Prepared: {moment_en(generated)} (Korea time)",
        f"  - Available until: {moment_en(expires)}; then this result is destroyed.",
        "  - Also in this archive: result.json (machine-readable), result.csv (opens in Excel)",
        "",
    ]
    for n, category in enumerate(doc["categories"], start=1):
        ko.append(f"{n}. {category['name_ko']} ({category['category']})")
        en.append(f"{n}. {category['name_en']} ({category['category']})")
        if category["items"]:
            ko.append("  개인정보 항목과 내용:")
            en.append("  Items and content:")
            for item in category["items"]:
                where = (
                    f" [{item.get('system')} #{item.get('record')}]" if item.get("system") else ""
                )
                line = f"    - {item['item']}: {_value(item['value'])}{where}"
                ko.append(line)
                en.append(line)
        else:
            ko.append("  개인정보 항목과 내용: 보유하고 있는 개인정보가 없습니다.")
            en.append("  Items and content: we hold no personal information in this category.")
        waived = [s for s in category.get("sources", []) if s.get("outcome") == "waived"]
        for source in waived:
            ko.append(
                f"  ※ {source.get('name') or source.get('system')}에서는 개인정보를 가져오지 "
                "못하였습니다. 궁금하신 점은 아래 개인정보 보호책임자에게 문의해 주시기 바랍니다."
            )
            en.append(
                f"  Note: we could not retrieve the information held in "
                f"{source.get('name') or source.get('system')}; please ask our privacy officer."
            )
        if category["purposes"]:
            ko.append(
                "  수집·이용 목적: " + ", ".join(_both(p, "ko") for p in category["purposes"])
            )
            en.append("  Purposes: " + ", ".join(_both(p, "en") for p in category["purposes"]))
        if category["retention"]:
            ko.append("  관계 법령에 따라 보존하는 기록과 기간:")
            en.append("  Records kept under a law, and for how long:")
        else:
            ko.append("  관계 법령에 따라 따로 보존하는 기록: 없음")
            en.append("  Records kept under a law: none")
        for rule in category["retention"]:
            law_ko = f" ({rule['law_ko']})" if rule.get("law_ko") else ""
            law_en = f" ({rule['law_en']})" if rule.get("law_en") else ""
            starts_ko = f", {rule['starts_ko']}부터" if rule.get("starts_ko") else ""
            starts_en = f", from {rule['starts_en']}" if rule.get("starts_en") else ""
            ko.append(f"    - {rule['record_ko']}: {_period_ko(rule['period'])}{starts_ko}{law_ko}")
            en.append(f"    - {rule['record_en']}: {_period_en(rule['period'])}{starts_en}{law_en}")
        if category["third_parties"]:
            ko.append(
                "  제3자 제공: " + ", ".join(_both(p, "ko") for p in category["third_parties"])
            )
            en.append(
                "  Provided to: " + ", ".join(_both(p, "en") for p in category["third_parties"])
            )
        if category["processors"]:
            ko.append("  처리위탁(수탁자와 위탁 업무):")
            en.append("  Processors (entrusted) and their tasks:")
            for p in category["processors"]:
                ko.append(f"    - {p['name']}: {p['task_ko']}")
                en.append(f"    - {p['name']}: {p['task_en']}")
        ko.append("")
        en.append("")
    officer = company.privacy_officer
    phone_ko = f", 전화 {officer.phone}" if officer.phone else ""
    phone_en = f" or {officer.phone}" if officer.phone else ""
    ko.append(
        f"이 결과에 잘못된 내용이 있으면 정정·삭제를 요구하실 수 있습니다(같은 법 제36조). "
        f"궁금하신 점은 {officer.title_ko}({officer.email}{phone_ko})에게 문의해 주시기 바랍니다."
    )
    en.append(
        "If anything here is wrong, you may ask us to correct or delete it (PIPA Art. 36). "
        f"For any question, contact our {officer.title_en} at {officer.email}{phone_en}."
    )
    return "\n".join(ko) + "\n\n" + "─" * 40 + "\n\n" + "\n".join(en) + "\n"


def to_zip(doc: dict[str, Any], company: Any) -> bytes:
    buffer = io.BytesIO()
    files = {
        "result.json": to_json(doc),
        "result.csv": to_csv(doc),
        "summary.txt": ("\ufeff" + summary(doc, company)).encode("utf-8"),
    }
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        if "manifest" in doc:
            # A transmission (Art. 35-2): what is in the package, for the receiving side.
            manifest = {
                **doc["manifest"],
                "files": [
                    {
                        "name": name,
                        "media_type": MEDIA_TYPES[name.rsplit(".", 1)[1]],
                        "size": len(content),
                        "sha256": hashlib.sha256(content).hexdigest(),
                    }
                    for name, content in files.items()
                ],
            }
            archive.writestr(
                "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode()
            )
    return buffer.getvalue()


MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "txt": "text/plain"}
