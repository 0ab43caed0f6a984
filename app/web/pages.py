"""Rendering a page: the Jinja2 environment (the shell here, a feature's own templates first),
the language, the CSRF token, and the headers every page carries.

Pages get their own Content-Security-Policy: everything from this origin only, no inline
script or style (the theme's colour is a stylesheet of its own), no framing, forms posted only
here. `Cache-Control: no-store`: a page may show personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.web.i18n import LANG_COOKIE, LANGUAGES, Translator, language_of

PAGE_CSP = (
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CSRF_COOKIE = "rd_csrf"
CSRF_FIELD = "csrf_token"


class CsrfRefused(Exception):
    """A form came without its token, or with one from another browser."""


class Pages:
    """The page kit of one area (`/portal`): its templates over the shared shell, the cookie
    path its cookies are scoped to, and the key its CSRF tokens are signed with."""

    def __init__(self, package: str, *, cookie_path: str, secret: str, secure: bool) -> None:
        self.cookie_path = cookie_path
        self.secure = secure
        self._key = hashlib.sha256(b"rightsdesk-csrf:" + secret.encode()).digest()
        loader = ChoiceLoader([PackageLoader(package, "templates"), PackageLoader("app.web")])
        self._envs: dict[str, Environment] = {}
        for lang in LANGUAGES:
            env = Environment(
                loader=loader,
                autoescape=select_autoescape(default=True),
                undefined=StrictUndefined,
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            t = Translator(lang)
            env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)
            self._envs[lang] = env

    # -- CSRF: a synchronizer token bound to this browser's session cookie -------------------
    def _token_for(self, session_value: str) -> str:
        return hmac.new(self._key, session_value.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, request: Request, token: str | None) -> None:
        session_value = request.cookies.get(CSRF_COOKIE)
        if not session_value or not token:
            raise CsrfRefused
        if not hmac.compare_digest(self._token_for(session_value), token):
            raise CsrfRefused

    # -- responses ---------------------------------------------------------------------------
    def language(self, request: Request) -> str:
        return language_of(request.cookies)

    def translator(self, request: Request) -> Translator:
        return Translator(self.language(request))

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
    ) -> HTMLResponse:
        lang = self.language(request)
        session_value = request.cookies.get(CSRF_COOKIE)
        fresh = session_value is None
        if fresh:
            session_value = secrets.token_urlsafe(32)
        values = {
            "lang": lang,
            "other_lang": "en" if lang == "ko" else "ko",
            "csrf_field": CSRF_FIELD,
            "csrf_token": self._token_for(session_value),
            "here": request.url.path,
            **(context or {}),
        }
        html = self._envs[lang].get_template(template).render(values)
        response = HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
        if fresh:
            self.set_cookie(response, CSRF_COOKIE, session_value)
        return response

    def redirect(self, url: str) -> RedirectResponse:
        """POST → redirect → GET: 303, so the browser asks for the next page with a GET."""
        return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)

    def set_cookie(
        self, response: Response, name: str, value: str, max_age: int | None = None
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=self.cookie_path,
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )

    def delete_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(
            name, path=self.cookie_path, httponly=True, samesite="strict", secure=self.secure
        )


def on_csrf_refused(app, prefix: str, refusal: Callable[[Request], Response]) -> None:
    """A form of the area under `prefix` (`/portal`, `/console`) without its CSRF token (or
    with another browser's) gets that area's refusal page, whichever handler's check raised
    it: one exception handler for every area, choosing by path."""
    areas = getattr(app.state, "csrf_refusals", None)
    if areas is None:
        areas = app.state.csrf_refusals = {}

        def refuse(http: Request, _exc: CsrfRefused) -> Response:
            for area, render in areas.items():
                if http.url.path.startswith(area):
                    return render(http)
            return Response("The form has expired.", status_code=403, headers=PAGE_HEADERS)

        app.add_exception_handler(CsrfRefused, refuse)
    areas[prefix] = refusal


def switch_language(pages: Pages, lang: str, next: str, home: str) -> RedirectResponse:
    """Korean by default; English by a switch, kept in a cookie for every area. `next` leads
    back into the area (`home` is its start page), never elsewhere: no open redirect."""
    if lang not in LANGUAGES:
        lang = "ko"
    if not next.startswith(home) or "//" in next or "\\" in next:
        next = home
    response = pages.redirect(next)
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=pages.secure,
    )
    return response
