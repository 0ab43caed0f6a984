"""Theming: the company's name, logo and one primary colour, with the CSP intact."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.main import create_app
from tests.support import make_settings
from tests.web.browser import check_page

LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40">'
    '<circle cx="20" cy="20" r="18" fill="#fff"/></svg>'
)


@pytest.fixture
def settings(database_url, tmp_path):
    logo = tmp_path / "logo.svg"
    logo.write_text(LOGO)
    return make_settings(
        database_url, tmp_path, portal_primary_color="#6b1d4f", portal_logo_path=logo
    )


def test_the_theme_is_a_stylesheet_and_the_logo_a_file(client):
    css = client.get("/portal/theme.css")
    assert css.status_code == 200 and "--primary: #6b1d4f" in css.text
    logo = client.get("/portal/logo")
    assert logo.headers["content-type"] == "image/svg+xml" and logo.text == LOGO
    page = client.get("/portal/").text
    assert 'href="/portal/theme.css"' in page and 'src="/portal/logo"' in page


def test_a_colour_too_light_for_aa_is_refused(database_url, tmp_path, clock):
    with pytest.raises(ValueError, match=r"4\.5:1"):
        create_app(make_settings(database_url, tmp_path, portal_primary_color="#7fb2e5"), clock)


@pytest.mark.slow  # a real browser
def test_the_themed_start_page_in_the_browser(page):
    page.goto("/portal/")
    header = page.locator(".masthead")
    expect(header).to_have_css("background-color", "rgb(107, 29, 79)")
    expect(page.locator("img.logo")).to_be_visible()
    check_page(page, "start-themed-ko")
