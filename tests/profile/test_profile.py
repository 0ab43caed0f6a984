"""The company profile: the reference mapping, validation with clear errors, and
`rightsdesk profile check`."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.profile.loader import DEFAULT_PROFILE, ProfileError, load_profile, parse_profile
from tests.support import make_settings

REFERENCE = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))


def _with(change) -> str:
    data = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))
    change(data)
    return yaml.safe_dump(data, allow_unicode=True)


def test_reference_mapping_of_policy_article_3():
    profile = load_profile()
    bound = {key: c.retention for key, c in profile.categories.items()}
    assert bound == {
        "account": ["contracts"],
        "payment": ["payments", "e_finance"],
        "events": ["ads"],
        "inquiries": ["complaints"],
        "newsletter": [],
        "usage": ["visits"],
    }
    assert profile.categories["newsletter"].systems == ["stibee"]
    assert profile.retention["payments"].period == "P5Y"
    assert profile.retention["e_finance"].law_ko == "전자금융거래법"
    assert profile.retention["visits"].period == "P3M"
    assert profile.retention["investigation"].period == "until_resolved"
    # The processor whose task has a comma in it is read whole (it once split the mapping).
    assert profile.processors["azure"].task_en == "servers, databases and network"
    # Entries still read like the mappings they were.
    assert profile.retention["ads"]["law_ko"] == profile.retention["ads"].law_ko
    assert profile.system_name("stibee") == "Stibee"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["categories"]["payment"].update(retention=["paymentz"]),
            "categories.payment.retention: unknown rule 'paymentz'",
        ),
        (
            lambda d: d["categories"]["newsletter"].update(systems=["stibe"]),
            "categories.newsletter.systems: unknown system or processor 'stibe'",
        ),
        (
            lambda d: d["processors"].pop("stibee"),
            "categories.newsletter.systems: unknown system or processor 'stibee'",
        ),
        (
            lambda d: d["retention"]["visits"].update(period="3 months"),
            "retention.visits.period: '3 months' is not an ISO 8601 duration",
        ),
        (
            lambda d: d["retention"].pop("debt"),
            "retention.debt: missing or not until_resolved",
        ),
        (
            lambda d: d["categories"]["account"].update(retention=["investigation"]),
            "categories.account.retention: 'investigation' lasts until resolved",
        ),
        (
            lambda d: d["retention"]["ads"].pop("law_ko"),
            "retention.ads: a fixed period names its law",
        ),
        (
            lambda d: d["categories"]["payment"].update(retention=["payments", "payments"]),
            "categories.payment.retention: listed twice",
        ),
        (
            lambda d: d["categories"]["usage"].update(items=[]),
            "categories.usage.items",
        ),
        (
            lambda d: d["processors"]["stibee"].update(url="https://stibee.com"),
            "processors.stibee.url: Extra inputs are not permitted",
        ),
        (
            lambda d: d["categories"].update({"Bad Key": d["categories"]["usage"]}),
            "categories.Bad Key: keys are lower_snake_case",
        ),
    ],
)
def test_problems_are_named(change, expected):
    with pytest.raises(ProfileError) as caught:
        parse_profile(_with(change), "test.yaml")
    assert any(expected in p for p in caught.value.problems), caught.value.problems
    assert "test.yaml" in str(caught.value)


def test_every_problem_is_reported_at_once():
    def change(d):
        d["categories"]["payment"]["retention"] = ["nope"]
        d["categories"]["newsletter"]["systems"] = ["nowhere"]

    with pytest.raises(ProfileError) as caught:
        parse_profile(_with(change))
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize("text", ["", "- a list", "company: [", "\x00"])
def test_not_a_profile(text):
    with pytest.raises(ProfileError):
        parse_profile(text)


def test_in_house_systems_may_hold_data():
    def change(d):
        d["systems"] = {"crm": {"name": "사내 CRM"}}
        d["categories"]["account"]["systems"] = ["azure", "crm"]

    profile = parse_profile(_with(change))
    assert profile.system_name("crm") == "사내 CRM"


def test_the_app_refuses_to_start_with_a_bad_profile(tmp_path, database_url):
    bad = tmp_path / "bad.yaml"
    bad.write_text(_with(lambda d: d["categories"]["payment"].update(retention=["x"])), "utf-8")
    settings = make_settings(database_url, tmp_path, profile_path=str(bad))
    with pytest.raises(ProfileError, match="unknown rule 'x'"):
        create_app(settings)


class TestCheckCommand:
    def test_default_profile_is_ok(self):
        result = CliRunner().invoke(cli, ["profile", "check"])
        assert result.exit_code == 0, result.output
        assert "ok" in result.output and "6 categories" in result.output

    def test_a_bad_file_exits_1_with_every_problem(self, tmp_path: Path):
        def change(d):
            d["categories"]["payment"]["retention"] = ["paymentz"]
            d["categories"]["newsletter"]["systems"] = ["stibe"]

        bad = tmp_path / "profile.yaml"
        bad.write_text(_with(change), encoding="utf-8")
        result = CliRunner().invoke(cli, ["profile", "check", str(bad)])
        assert result.exit_code == 1
        assert "unknown rule 'paymentz'" in result.output
        assert "unknown system or processor 'stibe'" in result.output

    def test_a_missing_file_exits_1(self, tmp_path: Path):
        result = CliRunner().invoke(cli, ["profile", "check", str(tmp_path / "none.yaml")])
        assert result.exit_code == 1 and "cannot read" in result.output

    def test_a_good_copy_is_ok(self, tmp_path: Path):
        good = tmp_path / "profile.yaml"
        good.write_text(yaml.safe_dump(REFERENCE, allow_unicode=True), encoding="utf-8")
        result = CliRunner().invoke(cli, ["profile", "check", str(good)])
        assert result.exit_code == 0, result.output


# --- consents, automated decisions, transmission (issue 18) ---------------------------------

DECISION = {
    "description_ko": "결제 이상거래 자동 차단",
    "description_en": "automatic blocking of suspicious payments",
    "significant": True,
    "criteria_ko": "결제 금액·빈도·국가",
    "criteria_en": "amount, frequency and country of payments",
    "procedure_ko": "점수가 기준을 넘으면 결제를 보류",
    "procedure_en": "a payment scoring over the threshold is held",
    "categories": ["payment"],
    "system": "iamport",
}


def test_reference_consents_decisions_and_transmission():
    profile = load_profile()
    consent = profile.consents["marketing_email"]
    assert consent.categories == ["newsletter"] and consent.systems == ["stibee"]
    assert consent.self_service is True
    assert profile.automated_decisions == {}
    assert profile.transmission.covered is False


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["consents"]["marketing_email"].update(categories=["newsleter"]),
            "consents.marketing_email.categories: unknown category 'newsleter'",
        ),
        (
            lambda d: d["consents"]["marketing_email"].update(systems=["stibee", "azure"]),
            "consents.marketing_email.self_service: a self-service withdrawal is a flag in one",
        ),
        (
            lambda d: d["consents"]["marketing_email"].pop("label_en"),
            "consents.marketing_email.label_en: Field required",
        ),
        (
            lambda d: d["automated_decisions"].update(fraud={**DECISION, "system": "nowhere"}),
            "automated_decisions.fraud.system: unknown system or processor 'nowhere'",
        ),
        (
            lambda d: d["automated_decisions"].update(fraud={**DECISION, "basis": "whim"}),
            "automated_decisions.fraud.basis: 'whim' is not one of consent, law, contract",
        ),
        (
            lambda d: d["automated_decisions"].update(
                fraud={k: v for k, v in DECISION.items() if k != "criteria_ko"}
            ),
            "automated_decisions.fraud.criteria_ko: Field required",
        ),
        (
            lambda d: d["transmission"].update(covered=True, categories=[]),
            "transmission.categories: a covered controller names what it transmits",
        ),
        (
            lambda d: d["transmission"].update(formats=["xml"]),
            "transmission.formats: 'xml' is not one of json, csv",
        ),
        (
            lambda d: d["transmission"].update(categories=["acount"]),
            "transmission.categories: unknown category 'acount'",
        ),
    ],
)
def test_new_sections_name_their_problems(change, expected):
    with pytest.raises(ProfileError) as caught:
        parse_profile(_with(change), "test.yaml")
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_check_names_every_problem_of_the_new_sections(tmp_path: Path):
    def change(d):
        d["consents"]["marketing_email"]["systems"] = ["stibe"]
        d["automated_decisions"]["fraud"] = {**DECISION, "categories": ["cards"]}
        d["transmission"]["formats"] = ["pdf"]

    bad = tmp_path / "profile.yaml"
    bad.write_text(_with(change), encoding="utf-8")
    result = CliRunner().invoke(cli, ["profile", "check", str(bad)])
    assert result.exit_code == 1
    for text in ("'stibe'", "unknown category 'cards'", "'pdf'"):
        assert text in result.output


def test_check_reports_the_new_sections_and_the_sample():
    result = CliRunner().invoke(cli, ["profile", "check"])
    assert result.exit_code == 0, result.output
    assert "1 consents, 0 automated decisions, transmission not covered" in result.output
    assert "sample profile" in result.output


class TestSampleProfileInProduction:
    KEYS: ClassVar[dict] = {
        "env": "production",
        "blind_index_key": "b" * 40,
        "notify_allow_file": True,
    }

    def test_refused(self, tmp_path, database_url):
        settings = make_settings(database_url, tmp_path, **self.KEYS)
        with pytest.raises(ProfileError, match="RIGHTSDESK_ALLOW_SAMPLE_PROFILE"):
            create_app(settings)
        # Naming the bundled file by its path is the same sample.
        named = make_settings(
            database_url, tmp_path, profile_path=str(DEFAULT_PROFILE), **self.KEYS
        )
        with pytest.raises(ProfileError, match="sample profile"):
            create_app(named)

    def test_allowed_when_asked_or_replaced(self, tmp_path, database_url):
        create_app(make_settings(database_url, tmp_path, allow_sample_profile=True, **self.KEYS))
        own = tmp_path / "own.yaml"
        own.write_text(_with(lambda d: d["company"].update(name_ko="우리 회사")), "utf-8")
        create_app(make_settings(database_url, tmp_path, profile_path=str(own), **self.KEYS))


class TestPublicProfile:
    def test_serves_portals_without_auth(self, client):
        response = client.get("/v1/profile/public")
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "public, max-age=300"
        body = response.json()
        assert body["company_ko"] == "레퍼런스 주식회사"
        assert body["privacy_officer"]["email"] == "privacy@example.com"
        types = [r["type"] for r in body["rights"]]
        assert types[:4] == ["access", "correction", "deletion", "suspension"]
        assert "consent_withdrawal" in types and "automated_decision" in types
        assert "transmission" not in types  # the reference company is not covered
        assert {"key": "newsletter", "name_ko": "뉴스레터", "name_en": "Newsletter"} in body[
            "categories"
        ]
        assert body["consents"][0]["id"] == "marketing_email"
        assert body["consents"][0]["categories"] == ["newsletter"]
        assert body["automated_decisions"] == []
        assert body["transmission"] == {"covered": False, "categories": [], "formats": []}
        again = client.get(
            "/v1/profile/public", headers={"If-None-Match": response.headers["etag"]}
        )
        assert again.status_code == 304

    def test_publishes_decision_criteria(self, tmp_path, database_url, clock):
        def change(d):
            d["automated_decisions"]["fraud"] = {**DECISION, "basis": "contract"}
            d["transmission"].update(covered=True, categories=["account", "usage"])

        own = tmp_path / "own.yaml"
        own.write_text(_with(change), "utf-8")
        from fastapi.testclient import TestClient

        app = create_app(make_settings(database_url, tmp_path, profile_path=str(own)), clock)
        with TestClient(app) as c:
            body = c.get("/v1/profile/public").json()
        fraud = body["automated_decisions"][0]
        assert fraud["id"] == "fraud" and fraud["criteria_ko"] == "결제 금액·빈도·국가"
        assert fraud["refusable"] is False  # Art. 37-2(1) proviso: a contract's decision
        assert body["transmission"]["categories"] == ["account", "usage"]
        assert next(r for r in body["rights"] if r["type"] == "transmission")["days"] == 10
