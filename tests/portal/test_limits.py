"""The portal counts against the API's own rate limits (no limit of its own)."""

from __future__ import annotations

import re

import pytest

from tests.support import file_request, make_settings


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, tmp_path, rate_limit_sign_in_per_address="2/hour")


def test_sign_in_by_form_and_by_api_share_one_limit(client):
    created = file_request(client)
    body = {"reference": created["reference"], "email": "nobody@example.com"}
    assert client.post("/v1/requests/sign-in", json=body).status_code == 202
    page = client.get("/portal/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, **body}
    first = client.post("/portal/sign-in", data=form, follow_redirects=False)
    assert first.status_code == 303
    refused = client.post("/portal/sign-in", data=form, follow_redirects=False)
    assert refused.status_code == 429
    assert "시도 횟수가 너무 많습니다" in refused.text
