"""Which events are written, to whom, and when (issue 9.5): every lifecycle step announces
itself in its own transaction; a processor's endpoint hears only of its system's work; an
endpoint hears only the events it subscribed to; work that is refused announces nothing."""

from __future__ import annotations

from app.workflow.reminders import send_reminders
from tests.integrations.receiver import Receiver, register
from tests.support import act, finish_tasks, staff_read, verified


def _types(receiver: Receiver) -> list[str]:
    return [r.event["type"] for r in receiver.received]


def _granted_deletion(client, outbox_dir, staff, **kw) -> str:
    created, _ = verified(
        client, outbox_dir, type="deletion", scope={"categories": ["newsletter"]}, **kw
    )
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "me"})
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    act(client, cpo, rid, "decision", plan["decision"])
    return rid


def test_the_whole_life_in_order_with_thin_bodies(client, staff, outbox_dir, receiver):
    register(client, staff["cpo"]["headers"], receiver)
    rid = _granted_deletion(client, outbox_dir, staff)
    finish_tasks(client, staff["cpo"]["headers"], rid)
    act(client, staff["cpo"]["headers"], rid, "complete", {})
    assert _types(receiver) == [
        "request.created",
        "request.verified",
        "task.created",  # decide, on assignment
        "request.decided",
        "task.created",  # fulfil: the newsletter at stibee
        "request.completed",
    ]
    decided = receiver.received[3].event
    assert decided["data"]["status"] == "fulfilling"
    fulfil = receiver.received[4].event["data"]
    assert fulfil["system"] == "stibee" and fulfil["category"] == "newsletter"
    assert fulfil["task_kind"] == "fulfil" and fulfil["task_id"].startswith("tsk_")
    assert set(receiver.received[0].event) == {"type", "timestamp", "data"}
    assert set(receiver.received[0].event["data"]) == {
        "request_id",
        "reference",
        "request_type",
        "status",
    }


def test_a_processor_hears_only_of_its_own_work(client, staff, outbox_dir):
    cpo = staff["cpo"]["headers"]
    with Receiver() as stibee, Receiver() as azure:
        register(client, cpo, stibee, system="stibee")
        register(client, cpo, azure, system="azure")
        rid = _granted_deletion(client, outbox_dir, staff)
        finish_tasks(client, cpo, rid)
        act(client, cpo, rid, "complete", {})
        # No request event before its system had a task; the decision came before the task.
        assert _types(stibee) == ["task.created", "request.completed"]
        assert stibee.received[0].event["data"]["system"] == "stibee"
        assert _types(azure) == []  # the newsletter is not kept at azure


def test_only_the_subscribed_events(client, staff, outbox_dir):
    with Receiver() as only_completed:
        register(client, staff["cpo"]["headers"], only_completed, events=["request.withdrawn"])
        created, subject = verified(client, outbox_dir)
        assert _types(only_completed) == []
        client.post(f"/v1/requests/{created['id']}/withdraw", headers=subject)
        assert _types(only_completed) == ["request.withdrawn"]
        assert only_completed.received[0].event["data"]["status"] == "withdrawn"


def test_a_rejection_is_a_decision(client, staff, outbox_dir, receiver):
    from tests.support import file_request

    cpo = staff["cpo"]["headers"]
    register(client, cpo, receiver)
    created = file_request(
        client,
        requester={
            "kind": "legal_representative",
            "name": "홍아빠",
            "email": "dad@example.com",
            "relationship": "부",
        },
    )
    act(
        client,
        cpo,
        created["id"],
        "verify",
        {"outcome": "rejected", "method": "documents", "note": "가족관계증명서 없음"},
    )
    assert _types(receiver)[-1] == "request.decided"
    assert receiver.received[-1].event["data"]["status"] == "rejected"


def test_refused_work_announces_nothing(client, staff, outbox_dir, receiver):
    cpo = staff["cpo"]["headers"]
    register(client, cpo, receiver)
    created, _ = verified(client, outbox_dir)
    act(client, cpo, created["id"], "assign", {"assignee": "me"})
    before = _types(receiver)
    # A refusal without grounds is a 422: nothing was decided, so nothing is announced.
    act(
        client,
        cpo,
        created["id"],
        "decision",
        {"outcome": "refused", "grounds": [], "explanation": "x"},
        expect=422,
    )
    assert _types(receiver) == before


def test_the_deadline_approaching_once_per_reminder(
    app, client, staff, outbox_dir, receiver, clock
):
    register(client, staff["cpo"]["headers"], receiver, events=["request.deadline_approaching"])
    created, _ = verified(client, outbox_dir)
    view = staff_read(client, staff["cpo"]["headers"], created["id"])
    from datetime import datetime, timedelta

    clock.at = datetime.fromisoformat(view["due_at"]) - timedelta(days=2)
    ctx = app.state.ctx
    assert send_reminders(ctx.db, ctx) == 1
    assert send_reminders(ctx.db, ctx) == 0  # once per reminder
    assert _types(receiver) == ["request.deadline_approaching"]
    assert receiver.received[0].event["data"]["request_id"] == created["id"]
