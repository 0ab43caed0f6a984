"""End to end on the real `rightsdesk serve` (and `rightsdesk worker`) processes: a decision
carried out, as the README tells a portal developer and a CPO to do it.

- a deletion of `payment` and `newsletter`: the plan deletes the newsletter at stibee and
  keeps payments under the E-Commerce Act, and the decision notice names the law;
- a correction of `job_title`, which reaches only channel_corp and azure;
- an access request whose collect task returns data, downloaded as JSON, CSV and ZIP, then
  410 once the worker has destroyed it after its download period;
- a subject who comes back by reference (sign-in) and objects to a refusal;
- deadline reminders sent once each with two workers running at the same moment.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from jose import jwt
from sqlalchemy import create_engine, text

from app.core.config import Settings, parse_reminder_days
from app.law.deadlines import SEOUL, days_left, statutory_due_at
from app.law.rights import RIGHTS, RequestType
from app.workflow.reminders import OVERDUE, kind_for
from tests.e2e.test_serve import Server, _code
from tests.support import CODE_RE, RIGHTSDESK, read_outbox, rightsdesk, wait_for

FAST = {
    "RIGHTSDESK_CODE_RESEND_COOLDOWN_SECONDS": "0",
    "RIGHTSDESK_OUTBOX_POLL_SECONDS": "0.2",
}


@pytest.fixture
def e2e_dir(tmp_path, app):  # `app` cleans the database afterwards
    return tmp_path


@pytest.fixture
def server(database_url, e2e_dir):
    srv = Server(database_url, e2e_dir, **FAST).start()
    srv.create_cpo()
    yield srv
    srv.kill(signal.SIGTERM)


def _latest_code(outbox, request_id: str, after: int = 0) -> str | None:
    codes = [
        CODE_RE.search(m["text"]).group(1)
        for m in read_outbox(outbox)
        if m["template"] == "verification_code" and m["request_id"] == request_id
    ]
    return codes[-1] if len(codes) > after else None


def _file_and_verify(http: httpx.Client, outbox, body: dict) -> tuple[dict, dict]:
    created = http.post("/v1/requests", json=body)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    code = wait_for(lambda: _code(outbox, rid))
    assert code, "no code was delivered"
    token = http.post(f"/v1/requests/{rid}/verification", json={"code": code})
    assert token.status_code == 200, token.text
    return created.json(), {"Authorization": f"Bearer {token.json()['access_token']}"}


def _act(http, cpo, rid, action, body=None, expect=200) -> dict:
    version = http.get(f"/v1/staff/requests/{rid}", headers=cpo).json()["version"]
    response = http.post(
        f"/v1/staff/requests/{rid}/{action}", headers={**cpo, "If-Match": str(version)}, json=body
    )
    assert response.status_code == expect, response.text
    return response.json()


def _notice(outbox, rid, template) -> dict:
    found = wait_for(
        lambda: [
            m for m in read_outbox(outbox) if m["request_id"] == rid and m["template"] == template
        ]
    )
    assert found, f"no {template} notice for {rid}"
    return found[-1]


def test_deletion_keeps_what_the_law_keeps(server, e2e_dir):
    outbox = e2e_dir / "outbox"
    with httpx.Client(base_url=server.base, timeout=15) as http:
        created, _ = _file_and_verify(
            http,
            outbox,
            {
                "type": "deletion",
                "subject": {"name": "김민지", "email": "kim.minji@example.com"},
                "scope": {"categories": ["payment", "newsletter"]},
            },
        )
        rid, cpo = created["id"], server.cpo_headers(http)
        _act(http, cpo, rid, "assign", {"assignee": "cpo@example.com"})
        plan = http.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
        lines = {(i["category"], i["system"], i["action"]) for i in plan["items"]}
        assert ("newsletter", "stibee", "delete") in lines
        assert {a for c, _, a in lines if c == "payment"} == {"retain"}
        assert any(
            i.get("law_ko") == "전자상거래 등에서의 소비자 보호에 관한 법률" for i in plan["items"]
        )
        # Granting the kept category is refused, naming it and the law.
        refused = http.post(
            f"/v1/staff/requests/{rid}/decision",
            headers={
                **cpo,
                "If-Match": str(
                    http.get(f"/v1/staff/requests/{rid}", headers=cpo).json()["version"]
                ),
            },
            json={"outcome": "granted", "explanation": "전부 삭제합니다."},
        )
        assert refused.status_code == 422 and "payment" in refused.text
        view = _act(http, cpo, rid, "decision", plan["decision"])
        fulfil = [t for t in view["tasks"] if t["kind"] == "fulfil"]
        assert [(t["category"], t["system"]) for t in fulfil] == [("newsletter", "stibee")]
        text_ = _notice(outbox, rid, "decision")["text"]
        assert (
            "「전자상거래 등에서의 소비자 보호에 관한 법률; 전자금융거래법」에 따라 보존" in text_
        )
        done = http.post(
            f"/v1/staff/tasks/{fulfil[0]['id']}/complete", headers=cpo, json={"outcome": "done"}
        )
        assert done.status_code == 200, done.text
        assert _act(http, cpo, rid, "complete")["status"] == "completed"
        assert _notice(outbox, rid, "completed")


def test_correction_reaches_only_the_systems_holding_the_item(server, e2e_dir):
    outbox = e2e_dir / "outbox"
    with httpx.Client(base_url=server.base, timeout=15) as http:
        created, _ = _file_and_verify(
            http,
            outbox,
            {
                "type": "correction",
                "subject": {"name": "이도윤", "email": "lee.doyun@example.com"},
                "scope": {"corrections": [{"item": "job_title", "requested": "CTO"}]},
            },
        )
        rid, cpo = created["id"], server.cpo_headers(http)
        _act(http, cpo, rid, "assign", {"assignee": "cpo@example.com"})
        plan = http.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
        assert sorted((i["system"], i["action"]) for i in plan["items"]) == [
            ("azure", "correct"),
            ("channel_corp", "correct"),
        ]
        view = _act(
            http, cpo, rid, "decision", {"outcome": "granted", "explanation": "정정합니다."}
        )
        assert sorted(t["system"] for t in view["tasks"] if t["kind"] == "fulfil") == [
            "azure",
            "channel_corp",
        ]


def test_access_result_downloads_then_410(server, e2e_dir, database_url):
    outbox = e2e_dir / "outbox"
    with httpx.Client(base_url=server.base, timeout=15) as http:
        created, subject = _file_and_verify(
            http,
            outbox,
            {
                "type": "access",
                "subject": {"name": "박서준", "email": "park.seojun@example.com"},
                "scope": {"categories": ["newsletter"]},
            },
        )
        rid, cpo = created["id"], server.cpo_headers(http)
        _act(http, cpo, rid, "assign", {"assignee": "cpo@example.com"})
        view = _act(
            http, cpo, rid, "decision", {"outcome": "granted", "explanation": "열람을 허용합니다."}
        )
        collect = [t for t in view["tasks"] if t["kind"] == "collect"]
        assert [t["system"] for t in collect] == ["stibee"]
        assert (
            http.post(
                f"/v1/staff/requests/{rid}/complete",
                headers={**cpo, "If-Match": str(view["version"])},
            ).status_code
            == 409
        )
        done = http.post(
            f"/v1/staff/tasks/{collect[0]['id']}/complete",
            headers=cpo,
            json={
                "outcome": "done",
                "data": {"name": "박서준", "email": "park.seojun@example.com"},
            },
        )
        assert done.status_code == 200, done.text
        assert _act(http, cpo, rid, "complete")["status"] == "completed"
        assert (
            "download_result" in http.get(f"/v1/requests/{rid}", headers=subject).json()["actions"]
        )

        as_json = http.get(f"/v1/requests/{rid}/result", headers=subject)
        assert as_json.status_code == 200, as_json.text
        items = as_json.json()["categories"][0]["items"]
        assert {(i["item"], i["value"]) for i in items} == {
            ("name", "박서준"),
            ("email", "park.seojun@example.com"),
        }
        as_csv = http.get(f"/v1/requests/{rid}/result", headers=subject, params={"format": "csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.content.startswith(b"\xef\xbb\xbf") and "박서준" in as_csv.content.decode(
            "utf-8-sig"
        )
        as_zip = http.get(f"/v1/requests/{rid}/result", headers=subject, params={"format": "zip"})
        names = zipfile.ZipFile(io.BytesIO(as_zip.content)).namelist()
        assert {"result.json", "result.csv"} <= set(names) and len(names) == 3

    # The download period ends (the row is aged, as 30 days would), and the worker destroys it.
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE access_result SET expires_at = :past WHERE request_id = :rid"),
                {"past": datetime.now(UTC) - timedelta(minutes=1), "rid": rid},
            )
    finally:
        engine.dispose()
    worker = rightsdesk(server.env, "worker", "--once")
    assert worker.returncode == 0, worker.stderr
    with httpx.Client(base_url=server.base, timeout=15) as http:
        gone = http.get(f"/v1/requests/{rid}/result", headers=subject)
        assert gone.status_code == 410 and gone.json()["type"] == "/problems/result-destroyed"


def _expired_copy(token_header: dict, secret: str) -> dict:
    """The same subject token as if issued two minutes ago with a one-minute life (what the
    subject holds when they come back later), signed with the server's key: the server's own
    clock must refuse it, without the test waiting a minute for a real token to age."""
    claims = jwt.get_unverified_claims(token_header["Authorization"].removeprefix("Bearer "))
    now = int(datetime.now(UTC).timestamp())
    aged = {**claims, "iat": now - 120, "exp": now - 60}
    return {"Authorization": "Bearer " + jwt.encode(aged, secret, algorithm="HS256")}


def test_coming_back_by_reference_to_object(server, e2e_dir):
    outbox = e2e_dir / "outbox"
    with httpx.Client(base_url=server.base, timeout=15) as http:
        created, old_token = _file_and_verify(
            http,
            outbox,
            {
                "type": "suspension",
                "subject": {"name": "최하은", "email": "choi.haeun@example.com"},
            },
        )
        rid, ref, cpo = created["id"], created["reference"], server.cpo_headers(http)
        _act(http, cpo, rid, "assign", {"assignee": "cpo@example.com"})
        _act(
            http,
            cpo,
            rid,
            "decision",
            {
                "outcome": "refused",
                "grounds": ["PIPA-37-2-1"],
                "explanation": "법률에 따라 처리가 필요합니다.",
            },
        )
        # Later: the token has expired …
        assert http.get(f"/v1/requests/{rid}", headers=old_token).status_code == 200
        expired = _expired_copy(old_token, server.env["RIGHTSDESK_SECRET_KEY"])
        assert http.get(f"/v1/requests/{rid}", headers=expired).status_code == 401
        # … and the reference and the e-mail bring a fresh code.
        codes_before = sum(
            1
            for m in read_outbox(outbox)
            if m["template"] == "verification_code" and m["request_id"] == rid
        )
        wrong = http.post(
            "/v1/requests/sign-in", json={"reference": ref, "email": "someone@example.com"}
        )
        right = http.post(
            "/v1/requests/sign-in", json={"reference": ref, "email": "choi.haeun@example.com"}
        )
        assert wrong.status_code == right.status_code == 202 and wrong.json() == right.json()
        code = wait_for(lambda: _latest_code(outbox, rid, after=codes_before))
        assert code
        token = http.post(f"/v1/requests/{ref}/verification", json={"code": code})
        assert token.status_code == 200, token.text
        subject = {"Authorization": f"Bearer {token.json()['access_token']}"}
        view = http.get(f"/v1/requests/{ref}", headers=subject).json()
        assert view["decision"]["outcome"] == "refused" and view["objection"]["allowed"]
        assert view["days_left"] is None and "object" in view["actions"]
        objected = http.post(
            f"/v1/requests/{ref}/objections",
            headers=subject,
            json={"reason": "처리정지를 다시 요청합니다."},
        )
        assert objected.status_code == 201, objected.text
        assert objected.json()["status"] == "in_progress"


# The servers and workers below run with the default reminder days.
DEFAULT_REMINDER_DAYS = parse_reminder_days(Settings.model_fields["reminder_days_before"].default)


def _reminder_kind(due: datetime, at: datetime) -> str | None:
    """The reminder a request due at `due` gets at `at` (the default "3,1" days before)."""
    if due < at:
        return OVERDUE
    return kind_for(days_left(due, at), DEFAULT_REMINDER_DAYS)


def reminder_due_receipt(now: datetime) -> datetime:
    """A receipt time (n days and an hour before `now`) for which one deadline reminder is due
    at `now` and is still the same one 15 minutes later (so the Seoul day may turn, and the
    "3 days" become the "1 day" reminder, without a second one going out during the test): the
    latest receipt whose deadline is at most 3 days away, or, inside a holiday run longer than
    that, where no deadline can fall so soon, one already past ("overdue")."""
    later = now + timedelta(minutes=15)
    for back in range(1, 60):
        received = now - timedelta(days=back, hours=1)
        due = statutory_due_at(received, RIGHTS[RequestType.access].days)
        kind = _reminder_kind(due, now)
        if kind and kind == _reminder_kind(due, later):
            return received
    raise AssertionError(f"no receipt makes a reminder due at {now}")


def test_a_reminder_is_due_for_the_chosen_receipt_on_any_day():
    """Every day of 2026–2028, at 00:30, 08:59 and 23:59 in Seoul: the receipt chosen for the
    two-worker test below has a reminder due, the same for the next 15 minutes."""
    for day in range(3 * 365 + 1):
        for hour, minute in ((0, 30), (8, 59), (23, 59)):
            now = (
                datetime(2026, 1, 1, hour, minute, tzinfo=SEOUL) + timedelta(days=day)
            ).astimezone(UTC)
            due = statutory_due_at(reminder_due_receipt(now))
            assert _reminder_kind(due, now) is not None
            assert _reminder_kind(due, now) == _reminder_kind(due, now + timedelta(minutes=15))


def test_reminders_go_out_once_with_two_workers(server, e2e_dir):
    outbox = e2e_dir / "outbox"
    # The processes read the real clock, so the receipt is chosen from today: the latest
    # receipt whose deadline is 1–3 Seoul days away, which a "3 days before" reminder fits
    # whatever the weekday (a fixed "8 days ago" fell past the weekend every Thursday).
    received = reminder_due_receipt(datetime.now(UTC)).isoformat()
    with httpx.Client(base_url=server.base, timeout=15) as http:
        cpo = server.cpo_headers(http)
        ids = []
        for i in range(4):
            made = http.post(
                "/v1/staff/requests",
                headers=cpo,
                json={
                    "type": "access",
                    "subject": {"name": f"정지우{i}", "email": None},
                    "channel": "letter",
                    "received_at": received,
                    "identity_verified": True,
                    "verification_method": "id_card_in_person",
                },
            )
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
    env = {**server.env, "RIGHTSDESK_DELIVERY": "off"}
    workers = [
        subprocess.Popen(
            [RIGHTSDESK, "worker", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for w in workers:
        assert w.wait(timeout=120) == 0, w.stderr.read().decode()
    reminders = wait_for(
        lambda: (
            [m for m in read_outbox(outbox) if m["template"] == "deadline_reminder"]
            if len([m for m in read_outbox(outbox) if m["template"] == "deadline_reminder"]) >= 4
            else None
        )
    )
    assert reminders, "no reminders were delivered"
    per_request = {}
    for m in read_outbox(outbox):
        if m["template"] == "deadline_reminder":
            per_request[m["request_id"]] = per_request.get(m["request_id"], 0) + 1
    assert per_request == {rid: 1 for rid in ids}, per_request
    assert all(m["to"] == Server.CPO_EMAIL for m in reminders)
    assert json.dumps(reminders, ensure_ascii=False).count("정지우") == 0  # no subject's name
