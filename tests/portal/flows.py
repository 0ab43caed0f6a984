"""Steps the page tests share: filing through the forms, the code from the outbox."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import CODE_RE, read_outbox, wait_for


def code_for(outbox: Path, address: str) -> str:
    """The latest verification code e-mailed to `address` (polled: delivery follows the
    commit)."""

    def latest():
        sent = [
            m
            for m in read_outbox(outbox)
            if m["template"] == "verification_code" and m["to"] == address
        ]
        return CODE_RE.search(sent[-1]["text"]).group(1) if sent else None

    return wait_for(latest)


def file_for_myself(page, *, name="홍길동", email="hong@example.com", type_="access") -> str:
    """File through the form; returns the reference shown on the code page."""
    page.goto("/portal/file")
    page.locator(f"input[name=type][value={type_}]").check()
    page.fill("input[name='subject.name']", name)
    page.fill("input[name='subject.email']", email)
    page.locator("input[name=categories][value=account]").check()
    page.get_by_role("button", name=re.compile("요구 신청|Send the request")).click()
    page.wait_for_url(re.compile(r"/portal/requests/RD-\d{4}-\d{6}/code"))
    return re.search(r"RD-\d{4}-\d{6}", page.url).group(0)


def enter_code(page, outbox: Path, email: str) -> None:
    page.fill("input[name=code]", code_for(outbox, email))
    page.get_by_role("button", name=re.compile("^(확인|Confirm)$")).click()
    page.wait_for_url(re.compile(r"/portal/requests/RD-\d{4}-\d{6}$"))


def request_id_for(outbox: Path, address: str) -> str:
    """The id of the request whose code went to `address` (staff routes take the id)."""
    sent = [m for m in read_outbox(outbox) if m["to"] == address and m["request_id"]]
    return sent[-1]["request_id"]
