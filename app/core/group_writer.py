"""Group commit for the hottest write path (filing a request).

One thread runs the queued units of work back to back, as many as are waiting (up to a
batch size), in one transaction, and commits once; each caller is answered only after that
commit, so a 201 still means "durable". When a batch fails, its units are rerun one by one,
each in its own transaction, so one bad unit never takes its neighbours down with it.
Work after a commit (the units' after-commit callbacks) runs strictly after it, outside the
batch's fate: a callback that fails is logged and never reruns or fails a committed unit.

Why: with many concurrent filings, a transaction each means a commit each and a crowd of
threads queueing on SQLite's single writer (or on the access record's head row on
PostgreSQL). One writer that batches does the same work with a fraction of the overhead.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from sqlmodel import Session

from app.core.db import Database, run_after_commit
from app.core.errors import Problem

log = logging.getLogger("rightsdesk.group_writer")

Work = Callable[[Session], Any]
_STOP = object()


def _stopped() -> Problem:
    return Problem(503, "service-unavailable", "Filing is unavailable: the writer has stopped.")


def _settle(future: Future, *, result: Any = None, error: BaseException | None = None) -> None:
    """Answer a caller. One who went away meanwhile (a cancelled future) is no error of ours:
    letting InvalidStateError out would end the writer thread and strand every later caller."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


class GroupWriter:
    def __init__(self, db: Database, max_batch: int = 64) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._dead = False

    @property
    def alive(self) -> bool:
        """False once the writer thread has died: filings would get no answer (see /readyz)."""
        thread = self._thread
        return not self._dead and (thread is None or thread.is_alive())

    def submit(self, work: Work) -> Future:
        """Queue a unit of work; the future resolves after its transaction committed (or
        fails with a 503 problem when the writer has died)."""
        future: Future = Future()
        if self._dead:
            _settle(future, error=_stopped())
            return future
        self._ensure_started()
        self._queue.put((work, future))
        if self._dead:  # it died between the check and the put: nobody else will answer
            self._fail_queued()
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
        batch: list[tuple[Work, Future]] = []
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                batch, stop = [item], False
                while len(batch) < self._max_batch:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop = True
                        break
                    batch.append(nxt)
                try:
                    self._run_batch(batch)
                except Exception as exc:  # our own bug, not a unit's: keep serving the rest
                    log.error("the group writer failed a batch: %s", type(exc).__name__)
                    for _, future in batch:
                        _settle(future, error=_stopped())
                batch = []
                if stop:
                    return
        except BaseException as exc:
            # Only an exit signal (SystemExit, KeyboardInterrupt) gets here. Answer everyone
            # still waiting, and let /readyz report the writer dead. Type only: never a message.
            self._dead = True
            log.error("the group writer stopped: %s", type(exc).__name__)
            for _, future in batch:
                _settle(future, error=_stopped())
            self._fail_queued()

    def _fail_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                _settle(item[1], error=_stopped())

    def _run_batch(self, batch: list[tuple[Work, Future]]) -> None:
        # A caller that went away before its unit began is skipped; once begun, a unit's
        # future can no longer be cancelled, so it is answered whatever its caller did.
        batch = [(work, future) for work, future in batch if future.set_running_or_notify_cancel()]
        if len(batch) > 1:
            try:
                with self._db.session(write=True) as session:
                    results = [work(session) for work, _ in batch]
                    session.commit()
            except Exception as exc:
                log.info(
                    "a batch of %d failed (%s); rerunning its units one by one",
                    len(batch),
                    type(exc).__name__,
                )
            else:
                run_after_commit(session)
                for (_, future), result in zip(batch, results, strict=True):
                    _settle(future, result=result)
                return
        for work, future in batch:
            try:
                with self._db.session(write=True) as session:
                    result = work(session)
                    session.commit()
            except Exception as exc:
                _settle(future, error=exc)
            else:
                run_after_commit(session)
                _settle(future, result=result)
