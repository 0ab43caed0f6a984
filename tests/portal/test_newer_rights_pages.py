"""The request page knows the Act's newer rights (issue 18.7: everything that knows the types
knows these; issue 19.4: every notice links here): a consent withdrawal, an automated-decision
request and a transmission are named in words in Korean and in English, never by their API
code, and a transmission's logged downloads read as such on the timeline."""

from __future__ import annotations

import pytest
import yaml

from app.profile.loader import DEFAULT_PROFILE
from tests.support import act, count_rows, finish_tasks, make_settings, verified

WORDS = {
    "consent_withdrawal": ("개인정보 처리에 대한 동의 철회", "Withdrawal of consent"),
    "automated_decision": (
        "자동화된 결정에 대한 거부·설명 요구",
        "Refusal or explanation of an automated decision",
    ),
    "transmission": ("개인정보 전송 요구", "Transmission of my personal information"),
}
SCOPES = {
    "consent_withdrawal": {"consents": ["marketing_email"]},
    "automated_decision": {"kind": "explain", "decision": "loan_scoring"},
    "transmission": {},
}


@pytest.fixture
def settings(database_url, tmp_path):
    """The reference profile, covered by the transmission duty (Art. 35-2)."""
    data = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))
    data["transmission"] = {"covered": True, "categories": ["account"], "formats": ["json"]}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return make_settings(database_url, tmp_path, profile_path=str(path))


def _page(client, token: str, reference: str, lang: str) -> str:
    client.cookies.set("rd_portal", token, domain="testserver.local", path="/portal")
    client.cookies.set("rd_lang", lang, domain="testserver.local", path="/portal")
    response = client.get(f"/portal/requests/{reference}")
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize("type_", sorted(WORDS))
def test_the_request_page_names_the_newer_rights(client, outbox_dir, type_):
    created, subject = verified(client, outbox_dir, type=type_, scope=SCOPES[type_])
    token = subject["Authorization"].removeprefix("Bearer ")
    ko, en = WORDS[type_]
    korean = _page(client, token, created["reference"], "ko")
    assert ko in korean and type_ not in korean
    english = _page(client, token, created["reference"], "en")
    assert en in english and type_ not in english


def test_a_transmission_download_is_on_the_timeline(client, outbox_dir, staff):
    created, subject = verified(client, outbox_dir, type="transmission", scope={})
    rid, cpo = created["id"], staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "me"})
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    act(client, cpo, rid, "decision", plan["decision"])
    finish_tasks(client, cpo, rid, data={"email": "hong.gildong@example.com"})
    act(client, cpo, rid, "complete", {})
    assert client.get(f"/v1/requests/{rid}/result", headers=subject).status_code == 200
    token = subject["Authorization"].removeprefix("Bearer ")
    assert "전송 요구에 따라 개인정보를 내려받음" in _page(
        client, token, created["reference"], "ko"
    )
    english = _page(client, token, created["reference"], "en")
    assert "Personal information downloaded (transmission)" in english


@pytest.mark.parametrize("fmt", ["json", "csv", "zip"])
def test_a_transmission_downloaded_on_the_portal_is_logged(
    client, outbox_dir, staff, database_url, fmt
):
    """Art. 35-2: every transmission is logged (kept 3 years) — through the portal as through
    the API (one rule, issue 19.7), under the transmission's own file name."""
    created, subject = verified(client, outbox_dir, type="transmission", scope={})
    rid, cpo = created["id"], staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "me"})
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    act(client, cpo, rid, "decision", plan["decision"])
    finish_tasks(client, cpo, rid, data={"email": "hong.gildong@example.com"})
    act(client, cpo, rid, "complete", {})
    token = subject["Authorization"].removeprefix("Bearer ")
    _page(client, token, created["reference"], "ko")  # the session cookie
    response = client.get(f"/portal/requests/{created['reference']}/result?format={fmt}")
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert f'filename="transmission-{created["reference"]}.{fmt}"' in disposition
    assert count_rows(database_url, "transmission_log") == 1
    timeline = client.get(f"/v1/staff/requests/{rid}", headers=cpo).json()["timeline"]
    assert [e["kind"] for e in timeline].count("transmitted") == 1


def test_a_delegate_withdraws_a_consent_by_form(client):
    """The power of attorney (PIPC form 11) can delegate the withdrawal the form offers."""
    import re

    page = client.get("/portal/file?for=delegate").text
    assert 'name="power_of_attorney.rights" value="consent_withdrawal"' in page
    person = {"birth_date": "1980-02-03", "contact": "010-1234-5678", "address": "서울특별시"}
    data = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
        "requester.kind": "delegate",
        "type": "consent_withdrawal",
        "scope.consents": "marketing_email",
        "requester.name": "이대리",
        "requester.email": "delegate@example.com",
        "requester.relationship": "배우자",
        "subject.name": "박본인",
        "subject.birth_date": "1980-02-03",
        "power_of_attorney.grantee.relationship": "배우자",
        "power_of_attorney.rights": "consent_withdrawal",
        "power_of_attorney.signed_on": "2026-11-30",
    }
    for who, name in (("grantor", "박본인"), ("grantee", "이대리")):
        data[f"power_of_attorney.{who}.name"] = name
        data.update({f"power_of_attorney.{who}.{k}": v for k, v in person.items()})
    response = client.post("/portal/file", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"].endswith("/code?sent=filed")


def _file_by_form(client, **fields):
    import re

    page = client.get("/portal/file").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {"csrf_token": token, "subject.name": "홍길동", "subject.email": "hong@example.com"}
    return page, client.post("/portal/file", data={**data, **fields}, follow_redirects=False)


def test_an_automated_decision_request_by_form(client, outbox_dir, staff):
    """Art. 37-2: refuse, explain or review; the reference company declares no decision, so
    the form asks only what the subject wants and staff answer from the profile."""
    page, missing = _file_by_form(client, type="automated_decision")
    for kind in ("refuse", "explain", "review"):
        assert f'name="scope.kind" value="{kind}"' in page
    assert missing.status_code == 200
    assert 'id="f-scope-kind-error"' in missing.text
    assert "결정에 대해 무엇을 요구하시는지 선택해 주십시오." in missing.text
    _, filed = _file_by_form(client, type="automated_decision", **{"scope.kind": "explain"})
    assert filed.status_code == 303, filed.text
    queue = client.get(
        "/v1/staff/requests", headers=staff["cpo"]["headers"], params={"type": "automated_decision"}
    ).json()["items"]
    assert len(queue) == 1
    view = client.get(
        f"/v1/staff/requests/{queue[0]['id']}", headers=staff["cpo"]["headers"]
    ).json()
    assert view["scope_detail"]["kind"] == "explain" and view["channel"] == "portal"


def test_a_transmission_by_form_where_the_company_is_covered(client):
    """Art. 35-2: offered on the form only where the profile says the company is covered (this
    module's profile; the reference company is not, and its form does not offer it)."""
    page, filed = _file_by_form(client, type="transmission")
    assert 'name="type" value="transmission"' in page
    assert filed.status_code == 303, filed.text


def test_no_transmission_on_the_reference_form(database_url, tmp_path, clock):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(make_settings(database_url, tmp_path), clock)) as c:
        assert 'value="transmission"' not in c.get("/portal/file").text


def test_a_category_not_transmittable_is_told_beside_the_categories(client):
    _, refused = _file_by_form(client, type="transmission", categories="payment")
    assert refused.status_code == 200
    assert 'id="f-categories-error"' in refused.text
    assert "전송 대상인 정보의 종류만 선택해 주십시오." in refused.text
