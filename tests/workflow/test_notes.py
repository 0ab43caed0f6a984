"""Staff notes (verification, completion, task) are kept encrypted and shown to staff only."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.support import act, read_outbox, staff_read, verified


def _raw_texts(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            notes = conn.execute(text("SELECT text_enc FROM staff_note")).scalars().all()
            tasks = conn.execute(text("SELECT note_enc FROM task")).scalars().all()
    finally:
        engine.dispose()
    return " ".join(str(v) for v in [*notes, *tasks])


def test_notes_are_kept_encrypted_and_shown_to_staff(
    client, outbox_dir, staff, database_url, clock
):
    cpo = staff["cpo"]["headers"]
    body = {
        "type": "deletion",
        "subject": {"name": "윤서연", "email": None},
        "channel": "letter",
        "received_at": "2026-11-30T09:00:00+09:00",
        "scope": {"categories": ["newsletter"]},
    }
    rid = client.post("/v1/staff/requests", json=body, headers=cpo).json()["id"]
    act(
        client,
        cpo,
        rid,
        "verify",
        {"outcome": "verified", "method": "id_card_in_person", "note": "신분증 끝자리 1234 확인"},
    )
    act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    view = act(client, cpo, rid, "decision", {"outcome": "granted", "explanation": "삭제합니다."})
    task = next(t for t in view["tasks"] if t["kind"] == "fulfil")
    done = client.post(
        f"/v1/staff/tasks/{task['id']}/complete", headers=cpo, json={"note": "스티비 목록 삭제"}
    )
    assert done.status_code == 200, done.text
    clock.advance(minutes=1)
    act(client, cpo, rid, "complete", {"note": "전화로 완료 안내 (010-1111-2222)"})

    notes = staff_read(client, cpo, rid)["notes"]
    assert [(n["kind"], n["text"]) for n in notes] == [
        ("verification", "신분증 끝자리 1234 확인"),
        ("task", "스티비 목록 삭제"),
        ("completion", "전화로 완료 안내 (010-1111-2222)"),
    ]
    assert notes[1]["task_id"] == task["id"]
    assert all(n["author"] == f"staff:{staff['cpo']['id']}" for n in notes)
    # At rest, only ciphertext; and nothing of it reaches the subject.
    raw = _raw_texts(database_url)
    for secret in ("1234", "스티비", "010-1111-2222"):
        assert secret not in raw
    assert all("010-1111-2222" not in m["text"] for m in read_outbox(outbox_dir))


def test_the_subject_never_sees_notes(client, outbox_dir, staff):
    created, subject = verified(client, outbox_dir)
    view = client.get(f"/v1/requests/{created['id']}", headers=subject).json()
    assert "notes" not in view
