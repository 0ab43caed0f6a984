"""Settings per the operating contract; encryption with a rotating key ring; blind index."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.core.crypto import BlindIndex, CryptoError, KeyRing
from tests.support import rightsdesk_process


def _key(byte: bytes) -> str:
    return base64.urlsafe_b64encode(byte * 32).decode()


class TestSettings:
    def test_defaults(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        for name in list(os.environ):
            if name.startswith("RIGHTSDESK_"):
                monkeypatch.delenv(name)
        s = Settings(_env_file=None)
        assert s.env == "development"
        assert s.notify_backend == "file"
        assert s.resolved_database_url == "sqlite:///var/rightsdesk.db"
        assert s.resolved_notify_dir == Path("var/outbox")
        assert s.resolved_delivery == "background"

    def test_development_generates_secrets_once(self, tmp_path):
        s = Settings(var_dir=tmp_path / "var", _env_file=None)
        first = (
            s.resolved_secret_key(),
            s.resolved_encryption_keys(),
            s.resolved_blind_index_key(),
        )
        again = Settings(var_dir=tmp_path / "var", _env_file=None)
        assert (
            again.resolved_secret_key(),
            again.resolved_encryption_keys(),
            again.resolved_blind_index_key(),
        ) == first
        KeyRing(first[1])  # a usable ring
        mode = (tmp_path / "var" / "secrets" / "secret_key").stat().st_mode & 0o777
        assert mode == 0o600

    def test_production_refuses_without_keys(self):
        with pytest.raises(ValidationError, match="RIGHTSDESK_SECRET_KEY"):
            Settings(env="production", _env_file=None)

    def test_production_refuses_a_short_secret(self):
        with pytest.raises(ValidationError, match="at least 32"):
            Settings(
                env="production",
                secret_key="short",
                encryption_keys=f"a:{_key(b'a')}",
                blind_index_key="b" * 32,
                _env_file=None,
            )

    def test_production_refuses_a_short_blind_index_key(self):
        keys = dict(
            secret_key="s" * 40,
            encryption_keys=f"a:{_key(b'a')}",
            notify_allow_file=True,
            _env_file=None,
        )
        with pytest.raises(ValidationError, match="BLIND_INDEX_KEY must be at least 32"):
            Settings(env="production", blind_index_key="b" * 31, **keys)
        assert Settings(env="production", blind_index_key="b" * 32, **keys).blind_index_key

    def test_production_cli_refuses_to_start(self, tmp_path):
        result = rightsdesk_process({"RIGHTSDESK_ENV": "production"}, "migrate", cwd=tmp_path)
        assert result.returncode != 0
        assert "RIGHTSDESK_SECRET_KEY" in result.stderr


class TestKeyRing:
    def test_round_trip_and_binding(self):
        ring = KeyRing(f"a:{_key(b'a')}")
        sealed = ring.encrypt("홍길동", "request.subject_name:req_1")
        assert sealed.startswith("v1.a.") and "홍길동" not in sealed
        assert ring.decrypt(sealed, "request.subject_name:req_1") == "홍길동"
        with pytest.raises(CryptoError):
            ring.decrypt(sealed, "request.subject_name:req_2")  # moved to another row

    def test_rotation(self):
        old = KeyRing(f"a:{_key(b'a')}")
        sealed = old.encrypt("data", "x")
        rotated = KeyRing(f"b:{_key(b'b')},a:{_key(b'a')}")
        assert rotated.decrypt(sealed, "x") == "data"
        assert rotated.encrypt("data", "x").startswith("v1.b.")
        with pytest.raises(CryptoError, match="not in the ring"):
            KeyRing(f"b:{_key(b'b')}").decrypt(sealed, "x")

    @pytest.mark.parametrize("spec", ["", "nokey", "a:short", "a.b:" + _key(b"a"), "a:!!!"])
    def test_bad_rings(self, spec):
        with pytest.raises(CryptoError):
            KeyRing(spec)

    def test_tampered_value(self):
        ring = KeyRing(f"a:{_key(b'a')}")
        sealed = ring.encrypt("data", "x")
        with pytest.raises(CryptoError):
            ring.decrypt(sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BB"), "x")


def test_blind_index_normalises_and_is_keyed():
    one, other = BlindIndex("k1"), BlindIndex("k2")
    assert one.email(" Hong@Example.COM ") == one.email("hong@example.com")
    assert one.email("hong@example.com") != other.email("hong@example.com")
    assert "hong" not in one.email("hong@example.com")
