"""Rotation beside a running service: threads file and change requests through the API (on
the new ring) while a rotation walks the same tables. Nothing is lost, nobody gets an error
or a spurious 412, and after a final pass nothing is left under the old key. On PostgreSQL
the writers truly overlap the rotation's batches; on SQLite they queue on the write lock."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from app.core.crypto import KeyRing
from app.core.db import Database
from app.main import create_app
from app.maintenance.keys import Rotation, remaining
from tests.maintenance.conftest import NEW_RING, ONLY_NEW, settings_with, values_with_prefix
from tests.support import act, file_request, relogin, request_body, staff_read, verified

WRITERS = 4
EACH = 4


def test_rotation_races_the_service(app, client, staff, outbox_dir, database_url, tmp_path, clock):
    # Requests under the old key, for the writers to change while they are re-sealed.
    old = [
        verified(
            client,
            outbox_dir,
            subject={"name": "홍길동", "email": f"old{n}@example.com", "phone": "010-1234-5678"},
        )[0]["id"]
        for n in range(WRITERS * EACH)
    ]

    # The service restarted with the new key first; the rotation starts beside it.
    service = create_app(settings_with(database_url, tmp_path, encryption_keys=NEW_RING), clock)
    errors: list[BaseException] = []
    filed: list[str] = []
    stop = threading.Event()
    rotated = {"batches": 0, "changed": 0}

    with TestClient(service, raise_server_exceptions=True) as c:
        relogin(c, staff)
        cpo = staff["cpo"]["headers"]
        barrier = threading.Barrier(WRITERS + 1)

        def writer(i: int) -> None:
            try:
                barrier.wait(30)
                for j in range(EACH):
                    rid = old[i * EACH + j]
                    # An If-Match from a read taken while the rotation runs: never a 412.
                    act(c, cpo, rid, "assign", {"assignee": "handler@example.com"})
                    body = request_body(
                        subject={"name": f"동시{i}-{j}", "email": f"race{i}.{j}@example.com"}
                    )
                    filed.append(file_request(c, **body)["id"])
            except BaseException as exc:
                errors.append(exc)

        def rotation() -> None:
            db = Database(database_url)
            try:
                job = Rotation(db, KeyRing(NEW_RING))
                job.start()
                barrier.wait(30)
                while not stop.is_set():
                    report = job.run(batch_size=2, max_batches=1)
                    rotated["batches"] += report.batches
                    rotated["changed"] += report.changed
                    if report.finished:
                        break
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.dispose()

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
        threads.append(threading.Thread(target=rotation))
        for t in threads:
            t.start()
        for t in threads[:-1]:
            t.join(120)
        stop.set()
        threads[-1].join(120)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert rotated["batches"] > 0 and rotated["changed"] > 0

    # A final pass (a finished job with values left starts one; a clean one does nothing).
    db = Database(database_url)
    try:
        final = Rotation(db, KeyRing(NEW_RING))
        final.start()
        assert final.run(batch_size=50).finished
        assert remaining(db, "t2") == 0
    finally:
        db.dispose()
    assert values_with_prefix(database_url, "v1.t1.") == {}

    # Nothing lost: every request reads, with the old key gone, and the changes stuck.
    fresh = create_app(settings_with(database_url, tmp_path, encryption_keys=ONLY_NEW), clock)
    with TestClient(fresh, raise_server_exceptions=False) as c:
        relogin(c, staff)
        cpo = staff["cpo"]["headers"]
        for rid in old:
            view = staff_read(c, cpo, rid)
            assert view["subject"]["name"] == "홍길동"
            assert view["assignee_id"] == staff["handler"]["id"]
        assert len(filed) == WRITERS * EACH
        names = {staff_read(c, cpo, rid)["subject"]["name"] for rid in filed}
        assert names == {f"동시{i}-{j}" for i in range(WRITERS) for j in range(EACH)}
