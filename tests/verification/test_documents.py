"""Proxy documents: real file types only, sealed at rest, staff-only download with a reason,
destroyed on schedule."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.main import create_app
from app.verification.documents import destroy_expired, safe_filename, sniff
from tests.support import latest_code, login, make_settings, make_staff, request_body, staff_read

LIMIT = 4096
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"MARKER-PNG-CONTENT" * 10
PDF = b"%PDF-1.7\n" + b"MARKER-PDF-CONTENT " * 20 + b"\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + b"MARKER-JPEG" * 10

DELEGATE = {"kind": "delegate", "name": "이대리", "email": "proxy@example.com"}
POA = {
    "grantor": {
        "name": "홍길동",
        "birth_date": "1980-03-01",
        "contact": "010-1234-5678",
        "address": "서울",
    },
    "grantee": {
        "name": "이대리",
        "birth_date": "1985-07-15",
        "contact": "proxy@example.com",
        "address": "서울",
        "relationship": "대리인",
    },
    "rights": ["access"],
    "signed_on": "2026-11-28",
}


@pytest.fixture
def env(app, database_url, tmp_path, clock):
    """An app with a small document limit, a CPO, two handlers, an auditor, and a proxied request."""
    small = create_app(make_settings(database_url, tmp_path, max_document_bytes=LIMIT), clock)
    with TestClient(small, raise_server_exceptions=False) as c:
        people = {}
        for email, role in (
            ("cpo@example.com", "cpo"),
            ("h1@example.com", "handler"),
            ("h2@example.com", "handler"),
            ("aud@example.com", "auditor"),
        ):
            make_staff(small, email, role)
            people[email.split("@")[0]] = login(c, email)
        created = c.post(
            "/v1/requests", json=request_body(requester=DELEGATE, power_of_attorney=POA)
        )
        rid = created.json()["id"]
        code = latest_code(tmp_path / "outbox", rid)
        token = c.post(f"/v1/requests/{rid}/verification", json={"code": code}).json()[
            "access_token"
        ]
        yield c, rid, {"Authorization": f"Bearer {token}"}, people


def _upload(
    c,
    rid,
    headers,
    data,
    *,
    kind="power_of_attorney",
    name="위임장.pdf",
    content_type="application/pdf",
):
    return c.post(
        f"/v1/requests/{rid}/documents",
        headers=headers,
        data={"kind": kind},
        files={"file": (name, data, content_type)},
    )


def _download(c, rid, doc_id, headers, reason="위임장 진위 확인"):
    return c.get(
        f"/v1/staff/requests/{rid}/documents/{doc_id}",
        headers=headers,
        params={"reason": reason} if reason is not None else {},
    )


class TestUpload:
    @pytest.mark.parametrize(
        ("data", "expected"), [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg")]
    )
    def test_accepted_types(self, env, data, expected):
        c, rid, token, _ = env
        response = _upload(c, rid, token, data)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["content_type"] == expected and body["size"] == len(data)
        assert body["kind"] == "power_of_attorney"

    def test_png_named_pdf_is_stored_as_png(self, env):
        c, rid, token, _ = env
        response = _upload(c, rid, token, PNG, name="scan.pdf", content_type="application/pdf")
        assert response.status_code == 201 and response.json()["content_type"] == "image/png"

    @pytest.mark.parametrize(
        ("data", "status", "slug"),
        [
            (b"This is only text pretending to be a PDF", 415, "unsupported-media-type"),
            (b"", 422, "validation-error"),
            (b"GIF89a" + b"x" * 50, 415, "unsupported-media-type"),
            (b"%PDF-" + b"x" * (LIMIT - 5 + 1), 413, "payload-too-large"),  # one byte over
        ],
    )
    def test_refused_and_nothing_stored(self, env, database_url, data, status, slug):
        c, rid, token, _ = env
        response = _upload(c, rid, token, data)
        assert response.status_code == status, response.text
        assert response.json()["type"] == f"/problems/{slug}"
        engine = create_engine(database_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM document")).scalar_one() == 0
        engine.dispose()

    def test_exactly_at_the_limit(self, env):
        c, rid, token, _ = env
        assert _upload(c, rid, token, b"%PDF-" + b"x" * (LIMIT - 5)).status_code == 201

    def test_far_too_large_body_is_cut_off(self, env):
        c, rid, token, _ = env
        assert _upload(c, rid, token, b"%PDF-" + b"x" * (LIMIT + 200_000)).status_code == 413

    @pytest.mark.parametrize(
        "form",
        [
            {"data": {"kind": "passport"}, "files": {"file": ("a.pdf", PDF, "application/pdf")}},
            {"data": {"kind": "identity_proof"}},
            {"data": {}, "files": {"file": ("a.pdf", PDF, "application/pdf")}},
        ],
    )
    def test_malformed_forms(self, env, form):
        c, rid, token, _ = env
        response = c.post(f"/v1/requests/{rid}/documents", headers=token, **form)
        assert response.status_code == 422

    def test_json_instead_of_multipart(self, env):
        c, rid, token, _ = env
        response = c.post(
            f"/v1/requests/{rid}/documents", headers=token, json={"kind": "identity_proof"}
        )
        assert response.status_code == 422

    def test_needs_the_requests_own_token(self, env):
        c, rid, token, _ = env
        assert _upload(c, rid, {}, PDF).status_code == 401
        assert _upload(c, "req_other", token, PDF).status_code == 404

    def test_bytes_are_not_readable_at_rest(self, env, database_url):
        c, rid, token, _ = env
        assert _upload(c, rid, token, PDF, name="홍길동_위임장.pdf").status_code == 201
        engine = create_engine(database_url)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT content_enc, filename_enc, key_enc FROM document")
            ).one()
        engine.dispose()
        blob = bytes(row.content_enc)
        assert b"MARKER-PDF-CONTENT" not in blob and b"%PDF" not in blob
        assert "홍길동" not in (row.filename_enc or "") and row.key_enc.startswith("v1.")

    def test_the_public_never_gets_a_document_back(self, env):
        c, rid, token, _ = env
        doc = _upload(c, rid, token, PDF).json()
        gone = c.get(f"/v1/requests/{rid}/documents/{doc['id']}", headers=token)
        assert gone.status_code == 404  # no such public route
        listed = c.get(f"/v1/requests/{rid}", headers=token).json()["documents"]
        assert [d["id"] for d in listed] == [doc["id"]]
        assert "MARKER" not in str(listed)

    def test_closed_request_takes_no_documents(self, env):
        c, rid, token, _ = env
        c.post(f"/v1/requests/{rid}/withdraw", headers=token)
        assert _upload(c, rid, token, PDF).status_code == 409


class TestDownload:
    def test_staff_download_is_recorded_with_its_reason(self, env, database_url):
        c, rid, token, people = env
        doc = _upload(c, rid, token, PNG, name="../../etc/passwd 위임장.png").json()
        response = _download(c, rid, doc["id"], people["cpo"])
        assert response.status_code == 200
        assert response.content == PNG
        assert response.headers["content-type"] == "image/png"
        disposition = response.headers["content-disposition"]
        assert (
            disposition.startswith("attachment;") and "/" not in disposition.split("filename=")[1]
        )
        engine = create_engine(database_url)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT actor, action, detail FROM audit_entry WHERE action = 'download'")
            ).one()
        engine.dispose()
        assert row.action == "download"
        detail = (
            row.detail if isinstance(row.detail, dict) else __import__("json").loads(row.detail)
        )
        assert detail["reason"] == "위임장 진위 확인" and detail["document"] == doc["id"]

    def test_who_may_download(self, env):
        c, rid, token, people = env
        doc = _upload(c, rid, token, PDF).json()
        assert _download(c, rid, doc["id"], {}).status_code == 401
        assert _download(c, rid, doc["id"], token).status_code == 403
        assert _download(c, rid, doc["id"], people["aud"]).status_code == 403
        assert (
            _download(c, rid, doc["id"], people["h1"]).status_code == 200
        )  # unassigned: any handler
        from tests.support import act

        act(c, people["cpo"], rid, "verify", {"outcome": "verified", "method": "power_of_attorney"})
        act(c, people["cpo"], rid, "assign", {"assignee": "h2@example.com"})
        assert _download(c, rid, doc["id"], people["h1"]).status_code == 403
        assert _download(c, rid, doc["id"], people["h2"]).status_code == 200

    def test_reason_is_required(self, env):
        c, rid, token, people = env
        doc = _upload(c, rid, token, PDF).json()
        assert _download(c, rid, doc["id"], people["cpo"], reason=None).status_code == 422
        assert _download(c, rid, doc["id"], people["cpo"], reason="  ").status_code == 422

    def test_unknown_document(self, env):
        c, rid, _, people = env
        assert _download(c, rid, "doc_nope", people["cpo"]).status_code == 404


class TestRetention:
    def test_destroyed_ninety_days_after_closing(self, env, database_url, clock):
        c, rid, token, _people = env
        doc = _upload(c, rid, token, PDF).json()
        c.post(f"/v1/requests/{rid}/withdraw", headers=token)
        ctx = c.app.state.ctx
        clock.advance(days=89)
        assert destroy_expired(ctx.db, ctx) == 0
        clock.advance(days=1, seconds=1)
        assert destroy_expired(ctx.db, ctx) == 1
        assert destroy_expired(ctx.db, ctx) == 0
        engine = create_engine(database_url)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT content_enc, key_enc, filename_enc, destroyed_at FROM document")
            ).one()
            audit = (
                conn.execute(text("SELECT actor FROM audit_entry WHERE action = 'destroy'"))
                .scalars()
                .all()
            )
        engine.dispose()
        assert (row.content_enc, row.key_enc, row.filename_enc) == (None, None, None)
        assert row.destroyed_at is not None and audit == ["system"]
        cpo = login(c, "cpo@example.com")
        gone = _download(c, rid, doc["id"], cpo)
        assert gone.status_code == 410 and gone.json()["type"] == "/problems/document-destroyed"
        view = staff_read(c, cpo, rid)
        assert view["documents"][0]["destroyed_at"] is not None

    def test_the_410_names_the_seoul_day_of_destruction(self, env, clock):
        """Destroyed at 00:30 on 2 March 2027 in Seoul (1 March in UTC): the answer says
        the Seoul day, as every date the service shows (issue 23.2)."""
        c, rid, token, _ = env
        doc = _upload(c, rid, token, PDF).json()
        c.post(f"/v1/requests/{rid}/withdraw", headers=token)
        ctx = c.app.state.ctx
        clock.advance(days=90, hours=14, minutes=30)  # from 1 December 2026, 10:00 in Seoul
        assert clock.now().date().isoformat() == "2027-03-01"  # UTC's date
        assert destroy_expired(ctx.db, ctx) == 1
        gone = _download(c, rid, doc["id"], login(c, "cpo@example.com"))
        assert gone.status_code == 410, gone.text
        assert gone.json()["detail"] == "The document was destroyed on 2027-03-02."

    def test_open_requests_keep_their_documents(self, env, clock):
        c, rid, token, _ = env
        _upload(c, rid, token, PDF)
        clock.advance(days=400)
        ctx = c.app.state.ctx
        assert destroy_expired(ctx.db, ctx) == 0


def test_sniff_and_safe_filename():
    assert sniff(PDF) == ("application/pdf", "pdf")
    assert sniff(b"\xff\xd8") is None
    assert safe_filename("../../etc/passwd", "x.pdf") == "passwd.pdf"
    assert safe_filename('a"b;c.exe', "x.png") == "a_b_c.png"
    assert safe_filename("홍길동.pdf", "doc.pdf") == "doc.pdf"
    assert safe_filename(None, "doc.pdf") == "doc.pdf"
