"""What the profile says about the company's pages (issue 19.1 and 19.6: the privacy policy
link and the theming come from the profile; issue 18.1: `profile check` names every problem,
an unknown key of `company` included)."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient

from app.main import create_app
from app.profile.loader import DEFAULT_PROFILE, ProfileError, parse_profile
from tests.support import make_settings

LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="4" height="4"/></svg>'
)
POLICY = "https://www.example.com/privacy"


def _text(**company) -> str:
    data = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))
    data["company"].update(company)
    return yaml.safe_dump(data, allow_unicode=True)


@pytest.mark.parametrize(
    ("company", "expected"),
    [
        ({"privacy_policy": POLICY}, "company.privacy_policy: Extra inputs are not permitted"),
        ({"privacy_policy_url": "www.example.com"}, "company.privacy_policy_url"),
        ({"primary_color": "blue"}, "company.primary_color"),
        ({"logo_path": "logo.gif"}, "company.logo_path"),
    ],
)
def test_company_problems_are_named(company, expected):
    with pytest.raises(ProfileError) as caught:
        parse_profile(_text(**company), "own.yaml")
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_the_pages_follow_the_profile(database_url, tmp_path, clock):
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.svg").write_text(LOGO, encoding="utf-8")
    profile = tmp_path / "own.yaml"
    # The logo's path is relative to the profile file, wherever the service starts.
    profile.write_text(
        _text(privacy_policy_url=POLICY, primary_color="#6b1d4f", logo_path="brand/logo.svg"),
        encoding="utf-8",
    )
    app = create_app(make_settings(database_url, tmp_path, profile_path=str(profile)), clock)
    with TestClient(app) as client:
        public = client.get("/v1/profile/public").json()
        assert public["privacy_policy_url"] == POLICY
        start = client.get("/portal/").text
        assert f'href="{POLICY}"' in start
        assert 'href="/portal/theme.css"' in start and 'src="/portal/logo"' in start
        assert "--primary: #6b1d4f" in client.get("/portal/theme.css").text
        assert client.get("/portal/logo").text == LOGO


def test_a_profile_colour_too_light_for_aa_refuses_the_start(database_url, tmp_path, clock):
    profile = tmp_path / "own.yaml"
    profile.write_text(_text(primary_color="#7fb2e5"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"4\.5:1"):
        create_app(make_settings(database_url, tmp_path, profile_path=str(profile)), clock)


def test_the_reference_profile_publishes_no_policy_address(client):
    assert client.get("/v1/profile/public").json()["privacy_policy_url"] is None
