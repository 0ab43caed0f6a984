"""A notice's link opens its request's page (issue 19, "Done when"): the link in the e-mails a
subject receives leads, in a browser that has never been signed in, to the sign-in page and
from there back to that request's page."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.portal.flows import code_for, request_id_for
from tests.support import act, file_request, read_outbox
from tests.web.browser import check_page

pytestmark = pytest.mark.slow

LINK = re.compile(r"https?://[^\s()]+/portal/requests/RD-\d{4}-\d{6}")


def test_the_link_in_each_notice_opens_the_request_page(page, outbox_dir, client, staff, clock):
    created = file_request(client, subject={"name": "홍길동", "email": "hong@example.com"})
    reference = created["reference"]
    rid = created["id"]
    page.goto("/portal/")  # a browser with no session
    # The e-mailed code is typed on the API here; the notices that follow carry the link.
    code = code_for(outbox_dir, "hong@example.com")
    assert client.post(f"/v1/requests/{rid}/verification", json={"code": code}).status_code == 200
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "me"})
    refuse = {"outcome": "refused", "grounds": ["PIPA-35-4-1"], "explanation": "법률에 따른 제한"}
    act(client, staff["cpo"]["headers"], rid, "decision", refuse)
    sent = [
        m
        for m in read_outbox(outbox_dir)
        if m["request_id"] == request_id_for(outbox_dir, "hong@example.com")
    ]
    links = {m["template"]: LINK.findall(m["text"]) for m in sent}
    for template in ("verification_code", "receipt", "decision"):
        assert links.get(template), f"no link in the {template} notice"
    paths = {urlsplit(link).path for found in links.values() for link in found}
    assert paths == {f"/portal/requests/{reference}"}

    clock.advance(minutes=2)  # past the pause between codes
    page.goto(paths.pop())
    page.wait_for_url(re.compile(r"/portal/sign-in\?reference="))
    page.fill("input[name=email]", "hong@example.com")
    page.get_by_role("button", name="인증번호 받기").click()
    page.wait_for_url(re.compile(r"/code\?sent=signin"))
    page.fill("input[name=code]", code_for(outbox_dir, "hong@example.com"))
    page.get_by_role("button", name=re.compile("^확인$")).click()
    page.wait_for_url(f"**/portal/requests/{reference}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"요구 {reference}")
    expect(page.locator(".status")).to_have_text("거절")
    check_page(page, "request-from-notice-ko")
