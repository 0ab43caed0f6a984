"""Verification bodies (re-exported from the requests schemas they belong beside)."""

from app.requests.schemas import CodeIn, ResendOut, Token

__all__ = ["CodeIn", "ResendOut", "Token"]
