"""Proxies (PIPA Art. 38): legal representatives, delegates with a power of attorney, and
children under 14."""

from __future__ import annotations

import pytest

from tests.support import (
    act,
    latest_code,
    login,
    make_staff,
    read_outbox,
    request_body,
    staff_read,
)

PARENT = {
    "kind": "legal_representative",
    "name": "김엄마",
    "email": "mom@example.com",
    "relationship": "모",
}
CHILD = {"name": "김아이", "birth_date": "2014-06-01"}  # 12 on 1 Dec 2026

POA = {
    "grantor": {
        "name": "홍길동",
        "birth_date": "1980-03-01",
        "contact": "010-1234-5678",
        "address": "서울특별시 중구 세종대로 110",
    },
    "grantee": {
        "name": "이대리",
        "birth_date": "1985-07-15",
        "contact": "proxy@example.com",
        "address": "서울특별시 종로구 종로 1",
        "relationship": "법무대리인",
    },
    "rights": ["access", "deletion"],
    "scope": "회원 계정 정보의 열람 및 삭제 요구",
    "signed_on": "2026-11-28",
}
DELEGATE = {
    "kind": "delegate",
    "name": "이대리",
    "email": "proxy@example.com",
    "relationship": "대리인",
}


@pytest.fixture
def cpo(app, client):
    make_staff(app, "cpo@example.com", "cpo")
    return login(client, "cpo@example.com")


def _file(client, **overrides):
    return client.post("/v1/requests", json=request_body(**overrides))


def _verify_code(client, outbox, rid):
    response = client.post(
        f"/v1/requests/{rid}/verification", json={"code": latest_code(outbox, rid)}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class TestParentForChild:
    def test_parent_files_for_a_twelve_year_old(self, client, outbox_dir, cpo):
        response = _file(client, subject=CHILD, requester=PARENT)
        assert response.status_code == 201, response.text
        rid = response.json()["id"]
        assert response.json()["verification"]["sent_to"] == "m**@example.com"
        # Code and receipt go to the parent, addressed to the parent.
        messages = read_outbox(outbox_dir)
        assert {m["to"] for m in messages} == {"mom@example.com"}
        assert all("김엄마 님께" in m["text"] for m in messages)
        token = _verify_code(client, outbox_dir, rid)
        mine = client.get(f"/v1/requests/{rid}", headers=token).json()
        assert mine["status"] == "pending_verification"  # the e-mail is proven, not the authority
        assert mine["requester_kind"] == "legal_representative"
        tasks = client.get("/v1/staff/tasks", headers=cpo, params={"kind": "verify"}).json()[
            "items"
        ]
        assert [t["request_id"] for t in tasks] == [rid]
        view = staff_read(client, cpo, rid)
        assert view["requester"] == {
            "kind": "legal_representative",
            "name": "김엄마",
            "email": "mom@example.com",
            "phone": None,
            "relationship": "모",
        }
        assert view["subject"]["birth_date"] == "2014-06-01"
        view = act(
            client,
            cpo,
            rid,
            "verify",
            {"outcome": "verified", "method": "family_relation_certificate"},
        )
        assert view["status"] == "open"
        assert [t["status"] for t in view["tasks"] if t["kind"] == "verify"] == ["done"]

    # Ages count Seoul days: at 00:30 and 08:59 in Seoul UTC's date is still 30 November.
    @pytest.mark.seoul_hours
    @pytest.mark.parametrize(
        ("birth", "kind", "ok"),
        [
            ("2012-12-02", "self", False),  # 14 tomorrow: still a child today
            ("2012-12-02", "delegate", False),
            ("2012-12-02", "legal_representative", True),
            ("2012-12-01", "self", True),  # 14 today
            ("2012-12-01", "legal_representative", True),
        ],
    )
    def test_under_fourteen_rule_around_the_birthday(self, client, birth, kind, ok):
        subject = {"name": "생일자", "email": "kid@example.com", "birth_date": birth}
        overrides = {"subject": subject}
        if kind == "legal_representative":
            overrides["requester"] = PARENT
        elif kind == "delegate":
            overrides["requester"] = {**DELEGATE}
            overrides["power_of_attorney"] = {
                **POA,
                "grantor": {**POA["grantor"], "name": "생일자"},
            }
            overrides["type"] = "access"
        response = _file(client, **overrides)
        assert (response.status_code == 201) is ok, response.text
        if not ok:
            fields = [e["field"] for e in response.json()["errors"]]
            assert fields == ["requester.kind"]

    def test_birth_date_in_the_future(self, client):
        response = _file(client, subject={**CHILD, "birth_date": "2027-01-01"}, requester=PARENT)
        assert response.status_code == 422


class TestDelegate:
    def test_delegate_with_power_of_attorney(self, client, outbox_dir, cpo):
        response = _file(client, requester=DELEGATE, power_of_attorney=POA)
        assert response.status_code == 201, response.text
        rid = response.json()["id"]
        view = staff_read(client, cpo, rid)
        assert view["power_of_attorney"]["grantee"]["name"] == "이대리"
        assert view["power_of_attorney"]["rights"] == ["access", "deletion"]
        assert view["requester"]["kind"] == "delegate"
        # A search by the delegate's e-mail finds it through the blind index.
        found = client.get(
            "/v1/staff/requests", headers=cpo, params={"q": "PROXY@example.com"}
        ).json()
        assert [i["id"] for i in found["items"]] == [rid]

    @pytest.mark.seoul_hours
    def test_a_power_of_attorney_signed_on_the_seoul_day_of_receipt(self, client):
        """Signed today in Seoul (1 December) is not 'signed after the request was received',
        also at 00:30 and 08:59 in Seoul when UTC's date is 30 November (issue 23.2)."""
        response = _file(
            client, requester=DELEGATE, power_of_attorney={**POA, "signed_on": "2026-12-01"}
        )
        assert response.status_code == 201, response.text

    @pytest.mark.parametrize(
        ("overrides", "why"),
        [
            ({"requester": DELEGATE}, "no power of attorney"),
            (
                {"requester": DELEGATE, "power_of_attorney": {**POA, "rights": ["deletion"]}},
                "access not delegated",
            ),
            (
                {"requester": DELEGATE, "power_of_attorney": {**POA, "signed_on": "2026-12-02"}},
                "signed later",
            ),
            (
                {
                    "requester": {**DELEGATE, "email": "hong.gildong@example.com"},
                    "power_of_attorney": POA,
                },
                "same as subject",
            ),
            (
                {"requester": PARENT, "power_of_attorney": POA},
                "representative with a power of attorney",
            ),
            ({"power_of_attorney": POA}, "the subject with a power of attorney"),
            ({"requester": {**DELEGATE, "kind": "self"}}, "self with another e-mail"),
            (
                {"requester": {**DELEGATE, "kind": "friend"}, "power_of_attorney": POA},
                "unknown kind",
            ),
            (
                {"requester": DELEGATE, "power_of_attorney": {**POA, "grantee": {"name": "x"}}},
                "incomplete form",
            ),
            ({"requester": DELEGATE, "power_of_attorney": {**POA, "extra": 1}}, "unknown field"),
            ({"subject": {"name": "홍길동"}}, "nobody to send the code to"),
        ],
    )
    def test_invalid(self, client, database_url, overrides, why):
        from tests.support import count_rows

        response = _file(client, **overrides)
        assert response.status_code == 422, why
        assert response.headers["content-type"] == "application/problem+json"
        assert count_rows(database_url, "request") == 0

    def test_subject_without_email_when_a_proxy_files(self, client):
        response = _file(
            client, subject={"name": "홍길동"}, requester=DELEGATE, power_of_attorney=POA
        )
        assert response.status_code == 201

    def test_rejected_authority_tells_the_requester_why(self, client, outbox_dir, cpo):
        rid = _file(client, requester=DELEGATE, power_of_attorney=POA).json()["id"]
        _verify_code(client, outbox_dir, rid)
        view = act(
            client,
            cpo,
            rid,
            "verify",
            {
                "outcome": "rejected",
                "method": "power_of_attorney_check",
                "note": "위임장 서명 불일치",
            },
        )
        assert view["status"] == "rejected"
        notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "rejected")
        assert notice["to"] == "proxy@example.com"
        assert "개인정보 보호법 제38조" in notice["text"] and "이의" in notice["text"]
        assert "서명 불일치" not in notice["text"]  # the internal note stays internal

    def test_offline_intake_by_a_delegate(self, client, cpo, outbox_dir):
        body = {
            **request_body(requester=DELEGATE, power_of_attorney=POA),
            "channel": "letter",
            "received_at": "2026-11-30T10:00:00+09:00",
        }
        response = client.post("/v1/staff/requests", headers=cpo, json=body)
        assert response.status_code == 201, response.text
        assert {m["to"] for m in read_outbox(outbox_dir)} == {"proxy@example.com"}
