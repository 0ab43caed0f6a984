"""Group commit for the hottest write path (filing a request).

One thread runs the queued units of work back to back, as many as are waiting (up to a
batch size), in one transaction, and commits once; each caller is answered only after that
commit, so a 201 still means "durable". When a batch fails, its units are rerun one by one,
each in its own transaction, so one bad unit never takes its neighbours down with it.

Why: with many concurrent filings, a transaction each means a commit each and a crowd of
threads queueing on SQLite's single writer (or on the access record's head row on
PostgreSQL). One writer that batches does the same work with a fraction of the overhead.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sqlmodel import Session

from app.core.db import Database, commit

log = logging.getLogger("rightsdesk.group_writer")

Work = Callable[[Session], Any]
_STOP = object()


class GroupWriter:
    def __init__(self, db: Database, max_batch: int = 64) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, work: Work) -> Future:
        """Queue a unit of work; the future resolves after its transaction committed."""
        self._ensure_started()
        future: Future = Future()
        self._queue.put((work, future))
        return future

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="group-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._run_batch(batch)
                    return
                batch.append(nxt)
            self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[Work, Future]]) -> None:
        if len(batch) > 1:
            try:
                with self._db.session(write=True) as session:
                    results = [work(session) for work, _ in batch]
                    commit(session)
            except Exception:
                log.info("a batch of %d failed; rerunning its units one by one", len(batch))
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    future.set_result(result)
                return
        for work, future in batch:
            try:
                with self._db.session(write=True) as session:
                    result = work(session)
                    commit(session)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
