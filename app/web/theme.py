"""Theming from the company: one primary colour (as a stylesheet of its own, so the CSP needs
no inline style) and a logo file served by the service."""

from __future__ import annotations

from pathlib import Path

DEFAULT_PRIMARY = "#0b4f9c"
LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_on_white(hex_colour: str) -> float:
    """WCAG 2 contrast ratio of the colour against white (text on it is white, links of it
    are on white: both need 4.5:1 for AA)."""
    return 1.05 / (_luminance(hex_colour) + 0.05)


def check_primary(hex_colour: str | None) -> str:
    colour = hex_colour or DEFAULT_PRIMARY
    if contrast_on_white(colour) < 4.5:
        raise ValueError(
            f"the portal's primary colour {colour} has a contrast of "
            f"{contrast_on_white(colour):.2f}:1 on white; WCAG AA needs 4.5:1: choose a darker one"
        )
    return colour


def theme_css(primary: str) -> bytes:
    return f":root {{ --primary: {primary}; }}\n".encode()


def read_logo(path: Path | None) -> tuple[bytes, str] | None:
    """(content, media type) of the logo file, None when there is none."""
    if path is None:
        return None
    media = LOGO_TYPES.get(path.suffix.lower())
    if media is None:
        raise ValueError(f"the portal's logo must be a PNG, JPEG or SVG file, not {path.name}")
    return path.read_bytes(), media
