"""Evidence packs downloaded while staff read and change the same request: each pack holds
exactly the request's entries before its own download (the chain head is held from the read
of the entries to the append of the download), and each verifies offline."""

from __future__ import annotations

import io
import json
import zipfile

from app.evidence.integrity import check
from tests.support import in_progress


def test_packs_and_reads_race(client, outbox_dir, staff, race):
    rid = in_progress(client, outbox_dir, staff).id
    people = [staff["cpo"]["headers"], staff["auditor"]["headers"]]

    def work(i: int):
        headers = people[i % 2]
        if i % 3 == 0:
            response = client.get(f"/v1/staff/requests/{rid}/evidence", headers=headers)
            assert response.status_code == 200, response.text
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                return json.loads(archive.read("evidence.json"))
        for _ in range(3):
            response = client.get(f"/v1/staff/requests/{rid}", headers=headers)
            assert response.status_code == 200, response.text
        return None

    packs = [p for p in race(9, work) if p is not None]
    assert len(packs) == 3
    record, cursor = [], None
    while True:
        params = {"request_id": rid, "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/staff/audit", headers=people[1], params=params).json()
        record += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    for pack in packs:
        assert check(pack).ok, check(pack)
        download = pack["access_record"]["download_seq"]
        before = [e["seq"] for e in record if e["seq"] < download]
        assert [e["seq"] for e in pack["access_record"]["entries"][:-1]] == before
    assert client.get("/v1/staff/audit/verify", headers=people[0]).json()["ok"] is True
