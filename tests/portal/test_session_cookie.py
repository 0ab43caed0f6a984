"""The portal's session cookie (issue 19.9): the subject token in an HttpOnly, SameSite=Strict
cookie scoped to /portal, Secure in production, expiring with the token; sign-out deletes it.
Over HTTP (the browser tests follow the same flow on screen)."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support import file_request, latest_code, make_settings

PRODUCTION = {
    "env": "production",
    "blind_index_key": "b" * 40,
    "notify_allow_file": True,
    "allow_sample_profile": True,
    "subject_token_ttl_seconds": 1800,
}


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _cookie(response, name: str):
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        if name in jar:
            return jar[name]
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


@pytest.mark.parametrize("production", [True, False], ids=["production", "development"])
def test_the_session_cookie_from_code_to_sign_out(app, database_url, tmp_path, clock, production):
    overrides = PRODUCTION if production else {"subject_token_ttl_seconds": 1800}
    settings = make_settings(database_url, tmp_path, **overrides)
    base = "https://testserver" if production else "http://testserver"
    with TestClient(create_app(settings, clock), base_url=base) as client:
        created = file_request(client)
        reference = created["reference"]
        page = client.get(f"/portal/requests/{reference}/code")
        assert bool(_cookie(page, "rd_csrf")["secure"]) is production
        answer = client.post(
            f"/portal/requests/{reference}/code",
            data={
                "csrf_token": _token(page.text),
                "code": latest_code(tmp_path / "outbox", created["id"]),
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        session = _cookie(answer, "rd_portal")
        assert session["httponly"] and session["samesite"].lower() == "strict"
        assert session["path"] == "/portal"
        assert bool(session["secure"]) is production
        assert session["max-age"] == "1800"  # expires with the token
        shown = client.get(f"/portal/requests/{reference}")
        assert shown.status_code == 200 and reference in shown.text

        out = client.post(
            "/portal/sign-out", data={"csrf_token": _token(shown.text)}, follow_redirects=False
        )
        assert out.status_code == 303
        gone = _cookie(out, "rd_portal")
        assert gone.value in ("", '""') and gone["max-age"] == "0"
        assert gone["path"] == "/portal"
        again = client.get(f"/portal/requests/{reference}", follow_redirects=False)
        assert again.status_code == 303 and "/portal/sign-in" in again.headers["location"]
