"""The pages' shared static files, served by the service itself (no CDN)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from app.core.errors import NotFound

router = APIRouter(prefix="/web/static", include_in_schema=False)

_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _files() -> dict[str, bytes]:
    folder = resources.files("app.web") / "static"
    return {
        f.name: f.read_bytes()
        for f in folder.iterdir()
        if f.is_file() and any(f.name.endswith(ext) for ext in _TYPES)
    }


STATIC = _files()


@router.get("/{name}")
async def static_file(name: str) -> Response:
    body = STATIC.get(name)
    if body is None:
        raise NotFound("No such file.")
    return Response(
        body,
        media_type=_TYPES["." + name.rsplit(".", 1)[-1]],
        headers={"Cache-Control": "public, max-age=3600"},
    )
