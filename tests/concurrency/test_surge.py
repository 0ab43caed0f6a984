"""A surge on the production shape: `rightsdesk serve --workers 4` on PostgreSQL, 2,000 filings
from 16 threads, each address filed twice by two threads at about the same moment (the week
after a breach). Every filing's shared writes — its reference number and its access-record
entry — are taken last, briefly (docs/architecture.md, "Filing at scale"); this checks what
that must not cost: no 5xx, every acknowledged request stored, references unique and without
gaps, the per-address count exact, and a chain that verifies."""

from __future__ import annotations

import json
import signal
from collections import Counter

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.concurrency.test_multiprocess import ApiCluster
from tests.support import rightsdesk

pytestmark = pytest.mark.slow

THREADS = 16
# PostgreSQL is the production engine of a surge; SQLite (one writer at a time, the embedded
# default) runs the same shape with fewer filings, so its run stays short.
FILINGS = {"postgresql": 2000, "sqlite": 400}


def _body(n: int) -> dict:
    # Threads 2j and 2j+1 file for the same address at their k-th filing: every address twice,
    # in two API workers' batches at once.
    return {
        "type": "access",
        "subject": {"name": "급증", "email": f"surge-{n // 2}@example.com"},
        "locale": "ko",
    }


@pytest.fixture
def workdir(tmp_path, app):  # `app` cleans the database afterwards
    return tmp_path


def test_two_thousand_filings_from_sixteen_threads_against_four_workers(
    database_url, workdir, race
):
    filings = FILINGS["sqlite" if database_url.startswith("sqlite") else "postgresql"]
    api = ApiCluster(
        database_url,
        workdir,
        workers=4,
        RIGHTSDESK_DELIVERY="off",
        RIGHTSDESK_RATE_LIMIT_FILING_PER_ADDRESS="999999999/hour",
    )

    def filer(t: int) -> list[tuple[int, str | None, str | None]]:
        out = []
        with httpx.Client(base_url=api.base, timeout=60) as http:
            for k in range(filings // THREADS):
                response = http.post("/v1/requests", json=_body(k * THREADS + t))
                body = response.json()
                out.append((response.status_code, body.get("id"), body.get("reference")))
        return out

    try:
        api.start()
        filed = [r for batch in race(THREADS, filer, timeout=120) for r in batch]
        checked = rightsdesk(api.env, "audit", "verify")
    finally:
        api.kill(signal.SIGTERM)

    statuses = Counter(status for status, _, _ in filed)
    assert statuses == {201: filings}, (statuses, api.log.read_text()[-3000:])
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, reference, subject_email_bidx, duplicate_of FROM request")
            ).all()
    finally:
        engine.dispose()
    # Every acknowledged request is stored, once, under the reference it was answered with.
    stored = {r.id: r.reference for r in rows}
    assert len(rows) == filings
    assert {rid: ref for _, rid, ref in filed} == stored
    # Numbered one by one without gaps across the four workers' batches.
    numbers = sorted(int(ref.rsplit("-", 1)[1]) for ref in stored.values())
    assert numbers == list(range(1, filings + 1))
    # Each address filed twice, both counted: no filing lost to the per-address lock.
    assert set(Counter(r.subject_email_bidx for r in rows).values()) == {2}
    # The second filing of each address waited for the first's commit (the address's lock) and
    # was linked to it as a duplicate (requests/duplicates.py).
    linked = [r for r in rows if r.duplicate_of is not None]
    assert len(linked) == filings // 2
    # The access record: one chain, an entry per filing and one per link.
    assert checked.returncode == 0, checked.stderr
    result = json.loads(checked.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["checked"] == filings + len(linked), result
