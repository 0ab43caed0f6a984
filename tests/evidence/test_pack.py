"""GET /v1/staff/requests/{id}/evidence and `rightsdesk audit verify PACK.zip` (issue 20,
point 8): who may download, what the pack holds, the download recorded, and the offline check
that fails on a tampered pack."""

from __future__ import annotations

import io
import json
import zipfile
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.support import act, fresh_subject_token, in_progress, relogin, staff_read

EMAIL = "hong.gildong@example.com"
SCOPE = {"type": "suspension", "scope": {"categories": ["newsletter", "payment"]}}
HOLD = {"category": "newsletter", "kind": "investigation", "note": "경찰 수사 협조 요청"}
EXTEND = {"reason": "자료 취합에 시간이 필요합니다", "due_at": "2026-12-24T12:00:00+09:00"}
REFUSE = {
    "outcome": "refused",
    "grounds": ["PIPA-37-2-1"],
    "explanation": "법령에 따라 거절합니다.",
}


def _url(key: str, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/v1/staff/requests/{key}/evidence" + (f"?{query}" if query else "")


def _pack(response) -> tuple[dict, str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["evidence.json", "report.html"]
        return json.loads(archive.read("evidence.json")), archive.read("report.html").decode()


def _references(html: str) -> list[str]:
    """Every attribute of the report that could fetch something (src, href, url(...))."""
    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(f"{tag}.{k}" for k, _ in attrs if k in ("src", "href", "srcset"))

    Parser().feed(html)
    return found + (["url("] if "url(" in html else [])


def _zip(pack: dict, report: str = "<html></html>") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evidence.json", json.dumps(pack, ensure_ascii=False))
        archive.writestr("report.html", report)
    return buffer.getvalue()


def _verify(tmp_path, data: bytes) -> tuple[int, dict]:
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    result = CliRunner().invoke(cli, ["audit", "verify", str(path)])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def handled(client, outbox_dir, staff, clock):
    """A suspension request taken through a hold, an extension, a refusal and an objection."""
    filed = in_progress(client, outbox_dir, staff, **SCOPE)
    rid, cpo = filed.id, staff["cpo"]["headers"]
    version = staff_read(client, cpo, rid)["version"]
    response = client.post(
        f"/v1/staff/requests/{rid}/holds", json=HOLD, headers={**cpo, "If-Match": str(version)}
    )
    assert response.status_code == 201, response.text
    act(client, cpo, rid, "extend", EXTEND)
    act(client, staff["handler"]["headers"], rid, "decision", REFUSE)
    clock.advance(days=2)
    relogin(client, staff)
    subject = fresh_subject_token(client, outbox_dir, rid)
    response = client.post(
        f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "부당한 거절입니다"}
    )
    assert response.status_code == 201, response.text
    return filed._replace(subject=subject)  # the filing's token has expired by now


class TestWhoMay:
    def test_anonymous_handler_subject_and_missing(self, client, staff, handled):
        url = _url(handled.id)
        assert client.get(url).status_code == 401
        assert client.get(url, headers=staff["handler"]["headers"]).status_code == 403
        assert client.get(url, headers=handled.subject).status_code == 403  # not a staff token
        missing = client.get(_url("RD-2026-999999"), headers=staff["cpo"]["headers"])
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")

    def test_auditor_without_identifiers_and_never_with(self, client, staff, handled):
        h = staff["auditor"]["headers"]
        pack, report = _pack(client.get(_url(handled.created["reference"]), headers=h))
        assert pack["identifiers_included"] is False
        assert pack["content"]["facts"]["identifiers"] is None
        text = json.dumps(pack, ensure_ascii=False) + report
        assert EMAIL not in text and "홍길동" not in text and "010-1234-5678" not in text
        refused = client.get(_url(handled.id, identifiers="true", reason="court"), headers=h)
        assert refused.status_code == 403

    def test_cpo_identifiers_only_with_a_reason(self, client, staff, handled):
        h = staff["cpo"]["headers"]
        missing = client.get(_url(handled.id, identifiers="true"), headers=h)
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == "reason"
        blank = client.get(_url(handled.id, identifiers="true", reason="%20"), headers=h)
        assert blank.status_code == 422
        control = client.get(_url(handled.id, identifiers="true", reason="a%0Ab"), headers=h)
        assert control.status_code == 422
        assert client.get(_url(handled.id, identifiers="maybe"), headers=h).status_code == 422
        pack, report = _pack(
            client.get(_url(handled.id, identifiers="true", reason="서울행정법원 제출"), headers=h)
        )
        ids = pack["content"]["facts"]["identifiers"]
        assert ids["subject_email"] == EMAIL and ids["subject_name"] == "홍길동"
        assert ids["subject_phone"] == "010-1234-5678"
        assert EMAIL in report
        download = pack["access_record"]["entries"][-1]
        assert download["detail"]["reason"] == "서울행정법원 제출"
        assert download["detail"]["identifiers"] is True
        # Without the flag a CPO's pack has none either.
        plain, _ = _pack(client.get(_url(handled.id), headers=h))
        assert plain["content"]["facts"]["identifiers"] is None


class TestContent:
    def test_the_pack_holds_the_whole_record(self, client, staff, handled):
        h = staff["cpo"]["headers"]
        pack, report = _pack(client.get(_url(handled.created["reference"]), headers=h))
        content = pack["content"]
        facts = content["facts"]
        assert facts["id"] == handled.id and facts["reference"] == handled.created["reference"]
        assert facts["type"] == "suspension" and facts["status"] == "in_progress"
        kinds = [e["kind"] for e in content["timeline"]]
        assert kinds[0] == "received" and len(kinds) >= 5
        templates = [n["template"] for n in content["notices"]]
        assert "verification_code" in templates and "decision" in templates
        assert "objection_received" in templates
        assert all(
            set(n) >= {"created_at", "sent_at", "state", "content_kept"} for n in content["notices"]
        )
        assert "erased" in content["notices_note"]
        [decision] = content["decisions"]
        assert decision["outcome"] == "refused"
        assert [g["code"] for g in decision["grounds"]] == ["PIPA-37-2-1"]
        assert decision["grounds"][0]["article_ko"].startswith("개인정보 보호법")
        assert decision["explanation"] == REFUSE["explanation"]
        [extension] = content["extensions"]
        assert extension["reason"] == EXTEND["reason"]
        [hold] = content["holds"]
        assert hold["category"] == "newsletter" and hold["kind"] == "investigation"
        [objection] = content["objections"]
        assert objection["reason"] == "부당한 거절입니다"
        assert any(t["kind"] == "review_objection" for t in content["tasks"])
        assert all("outcome" in t and "status" in t for t in content["tasks"])
        record = pack["access_record"]
        assert record["chain_check"]["ok"] is True and record["chain_check"]["checked"] > 0
        actions = [e["action"] for e in record["entries"]]
        assert actions[0] == "create" and actions[-1] == "download"
        assert all(e["request_id"] == handled.id for e in record["entries"])
        assert all(len(e["hash"]) == 64 and len(e["prev_hash"]) == 64 for e in record["entries"])
        assert record["download_seq"] == record["entries"][-1]["seq"]
        # The report: Korean with English, printable, no external asset, well formed enough.
        assert '<html lang="ko">' in report and "@media print" in report
        assert "요청 사실" in report and "Facts of the request" in report
        assert handled.created["reference"] in report and "PIPA-37-2-1" in report
        assert "개인정보 처리정지" in report and "처리 중 / in progress" in report
        assert "http://" not in report and "https://" not in report
        assert "<script" not in report and "<link" not in report and "<img" not in report
        assert _references(report) == []

    def test_every_download_is_recorded(self, client, staff, handled):
        h = staff["auditor"]["headers"]
        first, _ = _pack(client.get(_url(handled.id), headers=h))
        second, _ = _pack(client.get(_url(handled.id), headers=h))
        downloads = client.get(
            "/v1/staff/audit",
            headers=h,
            params={"request_id": handled.id, "action": "download"},
        ).json()["items"]
        assert [d["seq"] for d in downloads] == [
            first["access_record"]["download_seq"],
            second["access_record"]["download_seq"],
        ]
        assert downloads[0]["actor"] == f"staff:{staff['auditor']['id']}"
        assert downloads[0]["detail"]["what"] == "evidence_pack"
        assert downloads[0]["detail"]["identifiers"] is False
        # The second pack carries the first download among its entries.
        seqs = [e["seq"] for e in second["access_record"]["entries"]]
        assert first["access_record"]["download_seq"] in seqs
        assert client.get("/v1/staff/audit/verify", headers=h).json()["ok"] is True


class TestVerify:
    def test_an_untouched_pack_verifies(self, client, staff, handled, tmp_path):
        response = client.get(_url(handled.id), headers=staff["auditor"]["headers"])
        code, out = _verify(tmp_path, response.content)
        assert code == 0, out
        assert out["ok"] is True and out["entries"] > 3 and out["chain_check_ok"] is True

    @pytest.mark.parametrize(
        "tamper",
        [
            "edit_entry",
            "edit_entry_and_rehash",
            "remove_entry",
            "remove_download",
            "edit_fact",
            "edit_decision",
            "edit_chain_check",
        ],
    )
    def test_a_tampered_pack_fails(self, client, staff, handled, tmp_path, tamper):
        response = client.get(_url(handled.id), headers=staff["auditor"]["headers"])
        pack, report = _pack(response)
        entries = pack["access_record"]["entries"]
        if tamper == "edit_entry":
            entries[1]["ip"] = "10.9.9.9"
        elif tamper == "edit_entry_and_rehash":
            from app.evidence.integrity import recomputed

            entries[1]["actor"] = "staff:someone_else"
            entries[1]["hash"] = recomputed(entries[1])
        elif tamper == "remove_entry":
            del entries[1]
        elif tamper == "remove_download":
            del entries[-1]
            pack["access_record"]["download_seq"] = entries[-1]["seq"]
        elif tamper == "edit_fact":
            pack["content"]["facts"]["received_at"] = "2026-11-01T00:00:00Z"
        elif tamper == "edit_decision":
            pack["content"]["decisions"][0]["explanation"] = "다른 설명"
        elif tamper == "edit_chain_check":
            pack["access_record"]["chain_check"]["checked"] += 1
        code, out = _verify(tmp_path, _zip(pack, report))
        assert code == 1 and out["ok"] is False and out["problem"], out

    def test_not_a_pack(self, tmp_path):
        code, out = _verify(tmp_path, b"not a zip")
        assert code == 1 and out["ok"] is False
        assert (
            CliRunner().invoke(cli, ["audit", "verify", str(tmp_path / "none.zip")]).exit_code == 2
        )


def test_the_real_command_needs_no_database(client, staff, handled, tmp_path):
    """`rightsdesk audit verify PACK.zip` as a process with no settings at all: offline."""
    from tests.support import rightsdesk

    path = tmp_path / "pack.zip"
    path.write_bytes(client.get(_url(handled.id), headers=staff["cpo"]["headers"]).content)
    done = rightsdesk({}, "audit", "verify", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert not (tmp_path / "var").exists()  # no database, no keys made
    pack, report = _pack(client.get(_url(handled.id), headers=staff["cpo"]["headers"]))
    pack["access_record"]["entries"][0]["detail"]["forged"] = True
    path.write_bytes(_zip(pack, report))
    done = rightsdesk({}, "audit", "verify", str(path), cwd=tmp_path)
    assert done.returncode == 1 and json.loads(done.stdout)["problem"] == "entry changed"


def test_a_broken_chain_is_in_the_pack_and_fails_the_check(
    client, staff, handled, tmp_path, database_url
):
    """The pack says what the service's chain check found: a record changed in the database
    (here an entry of another request) is reported, and the pack does not verify."""
    from sqlalchemy import create_engine, text

    from tests.support import file_request

    file_request(client, subject={"name": "다른", "email": "other@example.com"})
    engine = create_engine(database_url)
    with engine.begin() as conn:
        seq = conn.execute(
            text("SELECT max(seq) FROM audit_entry WHERE request_id <> :rid"),
            {"rid": handled.id},
        ).scalar()
        conn.execute(text("UPDATE audit_entry SET ip = '10.0.0.1' WHERE seq = :seq"), {"seq": seq})
    engine.dispose()
    response = client.get(_url(handled.id), headers=staff["auditor"]["headers"])
    pack, _ = _pack(response)
    assert pack["access_record"]["chain_check"]["ok"] is False
    assert pack["access_record"]["chain_check"]["first_bad"] == seq
    code, out = _verify(tmp_path, response.content)
    assert code == 1 and out["chain_check_ok"] is False
    assert out["problem"] == "the service's chain check failed when the pack was made"


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("x" * 201, 422),
        ("a%00b", 422),
        ("'; DROP TABLE audit_entry; --", 200),
        ("행정심판 제출 (2026-행심-123)", 200),
    ],
)
def test_reason_edges(client, staff, handled, reason, status):
    response = client.get(
        _url(handled.id, identifiers="true", reason=reason), headers=staff["cpo"]["headers"]
    )
    assert response.status_code == status, response.text
    if status != 200:
        assert response.headers["content-type"].startswith("application/problem+json")
    else:
        pack, _ = _pack(response)
        assert pack["access_record"]["entries"][-1]["detail"]["reason"] == reason


def test_a_purged_requests_pack(client, outbox_dir, staff, clock, tmp_path):
    """After the purge (Art. 21) a pack still proves what was done, and has no personal data
    left to include, even for a CPO who asks."""
    from app.retention import purge as retention
    from tests.support import finish_tasks, verified

    created, _ = verified(client, outbox_dir)
    rid, cpo = created["id"], staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "me"})
    act(client, cpo, rid, "decision", {"outcome": "granted", "explanation": "처리합니다."})
    finish_tasks(client, cpo, rid)
    act(client, cpo, rid, "complete")
    clock.advance(days=1096)
    relogin(client, staff)
    ctx = client.app.state.ctx
    assert retention.purge(ctx.db, ctx, batch_size=10).requests == 1
    response = client.get(
        _url(created["reference"], identifiers="true", reason="감독기관 요청"),
        headers=staff["cpo"]["headers"],
    )
    pack, report = _pack(response)
    facts = pack["content"]["facts"]
    assert facts["status"] == "completed" and facts["purged_at"]
    assert facts["identifiers"]["subject_email"] is None
    assert facts["identifiers"]["subject_name"] is None
    assert pack["content"]["decisions"][0]["explanation"] is None
    assert pack["content"]["timeline"][-1]["kind"] == "purged"
    assert EMAIL not in json.dumps(pack, ensure_ascii=False) + report
    code, out = _verify(tmp_path, response.content)
    assert code == 0, out
