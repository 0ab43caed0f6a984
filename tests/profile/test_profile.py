"""The company profile: the reference mapping, validation with clear errors, and
`rightsdesk profile check`."""

from __future__ import annotations

from pathlib import Path

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
