"""Checking an evidence pack offline: pure functions over `evidence.json`, no database.

The pack's download is itself an access-record entry (the last of the pack's entries); its
`detail` carries `entries_digest` (SHA-256 over the request's earlier entries, `seq:hash`
one a line), `entries` (their number) and `content_sha256` (SHA-256 of the canonical JSON of
the pack's `content`). So each entry's hash is recomputed from its fields (app/audit/chain.py),
entries that follow one another in the chain must link, and the download entry pins both the
list of entries and the content: an edited entry fails its hash, a removed one changes the
digest, an edited fact changes the content hash. Hashes are not keyed: the download entry's
own hash, still in the service's chain, is what a reader confirms with the controller.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass
from typing import Any

from app.audit.chain import canonical, hash_fields

DOWNLOAD_WHAT = "evidence_pack"


def entries_digest(entries: list[dict[str, Any]]) -> str:
    text = "".join(f"{e['seq']}:{e['hash']}\n" for e in entries)
    return hashlib.sha256(text.encode()).hexdigest()


def content_digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(content).encode()).hexdigest()


def recomputed(entry: dict[str, Any]) -> str:
    return hash_fields(
        entry["prev_hash"],
        entry["seq"],
        entry["at"],
        entry["actor"],
        entry["action"],
        entry["request_id"],
        entry["ip"],
        canonical(entry["detail"]),
    )


@dataclass
class PackCheck:
    ok: bool
    entries: int
    problem: str | None = None
    first_bad: int | None = None
    download_seq: int | None = None
    download_hash: str | None = None
    chain_check_ok: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(pack: dict[str, Any]) -> PackCheck:
    """Recompute every entry of a loaded `evidence.json`; ok only if all of it holds."""
    try:
        entries = pack["access_record"]["entries"]
        download_seq = pack["access_record"]["download_seq"]
        content = pack["content"]
    except (KeyError, TypeError):
        return PackCheck(False, 0, "not an evidence pack")
    if not isinstance(entries, list) or not entries:
        return PackCheck(False, 0, "no access-record entries")
    result = PackCheck(False, len(entries))
    previous = None
    try:
        for entry in entries:
            if recomputed(entry) != entry["hash"]:
                result.problem, result.first_bad = "entry changed", entry.get("seq")
                return result
            if previous is not None:
                if entry["seq"] <= previous["seq"]:
                    result.problem, result.first_bad = "entries out of order", entry["seq"]
                    return result
                if entry["seq"] == previous["seq"] + 1 and entry["prev_hash"] != previous["hash"]:
                    result.problem, result.first_bad = "broken link", entry["seq"]
                    return result
            previous = entry
    except (KeyError, TypeError, ValueError, AttributeError):
        result.problem = "entry malformed"
        return result
    download = entries[-1]
    detail = download.get("detail") or {}
    result.download_seq, result.download_hash = download["seq"], download["hash"]
    if download["seq"] != download_seq or detail.get("what") != DOWNLOAD_WHAT:
        result.problem, result.first_bad = "the download's own entry is not last", download["seq"]
        return result
    earlier = entries[:-1]
    if detail.get("entries") != len(earlier) or detail.get("entries_digest") != entries_digest(
        earlier
    ):
        result.problem = "entries removed, added or replaced"
        return result
    if detail.get("content_sha256") != content_digest(content):
        result.problem = "content changed"
        return result
    chain = pack["access_record"].get("chain_check") or {}
    result.chain_check_ok = chain.get("ok")
    if detail.get("chain_ok") != chain.get("ok") or detail.get("chain_checked") != chain.get(
        "checked"
    ):
        result.problem = "chain check result changed"
        return result
    if not chain.get("ok"):
        result.problem = "the service's chain check failed when the pack was made"
        return result
    result.ok = True
    return result


def check_zip(data: bytes) -> PackCheck:
    """`check` on a pack as downloaded (the ZIP's `evidence.json`)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            pack = json.loads(archive.read("evidence.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return PackCheck(False, 0, "not a readable evidence pack (ZIP with evidence.json)")
    return check(pack)
