"""Group commit for the hottest write path (filing a request).

One thread runs the queued units of work back to back, as many as are waiting (up to a
batch size), in one transaction, and commits once; each caller is answered only after that
commit, so a 201 still means "durable". When a batch fails, its units are rerun one by one,
each in its own transaction, so one bad unit never takes its neighbours down with it.
Work after a commit (the units' after-commit callbacks) runs strictly after it, outside the
batch's fate: a callback that fails is logged and never reruns or fails a committed unit.

A unit may bring rate-limit hits (core/rate_limit.py `hits`): they are counted first, for the
whole batch, in the batch's transaction (no transaction of their own per call). A unit over
its limit is answered with its 429 and its work is not run; its count commits with the batch.
A unit whose work fails, alone, is rolled back and then its hits are committed by themselves:
a refused or failed call counts all the same, as with `rate_limit.guard`.

Units run on a `PreparedSession` (core/prepared.py): the same services, the same statements,
but the Core statements they repeat go straight to the driver. Callers on the event loop
`await writer.run(...)`: a batch's answers reach the loop in one wake-up.

**Two steps, and the global locks last.** A unit may return `Later(finish)`: the writer runs
the first step of every unit of the batch, then each `finish()` in the same order (its return
value is the unit's result), then commits. A filing's first step checks it and counts the
filer's hourly filings under a lock of that filer's own; its second step takes the locks every
filing shares (the reference counter), and the access record's entries of the whole batch are
written at commit (`BATCH`, core/db.py). So on PostgreSQL, where four API
workers each run a writer, a batch holds the shared locks only for its second steps and its
commit, not for its whole run, and the batches of the workers overlap (docs/architecture.md,
"Filing at scale"). On PostgreSQL the rate-limit hits are counted at the batch's end, just
before its commit: their buckets (one per client address) are rows every batch from that
address would otherwise hold through its whole run. When a unit is over its limit (or one
fails) nothing of that try is kept, and the hits are counted first, in a short transaction
of their own, and the batch run again without the refused units.

Why: with many concurrent filings, a transaction each means a commit each and a crowd of
threads queueing on SQLite's single writer (or on the access record's head row on
PostgreSQL). One writer that batches does the same work with a fraction of the overhead.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any, ClassVar

from sqlmodel import Session

from app.core.db import BATCH, Database, run_after_commit
from app.core.errors import Problem
from app.core.prepared import PreparedSession
from app.core.rate_limit import Hit, count_units

log = logging.getLogger("rightsdesk.group_writer")

Work = Callable[[Session], Any]
_STOP = object()
_DONE, _REFUSED, _FAILED = object(), object(), object()  # outcomes of _run_counting_last


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


class _Mailbox:
    """Answers for one event loop: the writer thread posts them, the loop takes them all at
    once (one `call_soon_threadsafe` for however many arrive before it runs)."""

    _boxes: ClassVar[weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()
    _boxes_lock = threading.Lock()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)  # a closed loop's box goes with it
        self._lock = threading.Lock()
        self._items: list[tuple[asyncio.Future, Future]] = []

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _Mailbox:
        box = cls._boxes.get(loop)
        if box is None:
            with cls._boxes_lock:
                box = cls._boxes.get(loop)
                if box is None:
                    box = cls._boxes[loop] = _Mailbox(loop)
        return box

    def post(self, answer: asyncio.Future, done: Future) -> None:
        with self._lock:
            self._items.append((answer, done))
            first = len(self._items) == 1
        loop = self._loop()
        if first and loop is not None:
            try:
                loop.call_soon_threadsafe(self._deliver)
            except RuntimeError:  # the loop has closed: nobody is waiting any more
                with self._lock:
                    self._items.clear()

    def _deliver(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        for answer, done in items:
            if answer.done():  # the caller went away (cancelled)
                continue
            if done.cancelled():
                answer.cancel()
            elif (error := done.exception()) is not None:
                answer.set_exception(error)
            else:
                answer.set_result(done.result())


class Later:
    """A unit's second step (see the module's docstring): `finish()` runs after the first step
    of every unit of the batch, in the same transaction; its return value is the unit's."""

    __slots__ = ("finish",)

    def __init__(self, finish: Callable[[], Any]) -> None:
        self.finish = finish


def _finish(result: Any) -> Any:
    return result.finish() if isinstance(result, Later) else result


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

    def submit(self, work: Work, hits: tuple[Hit, ...] = ()) -> Future:
        """Queue a unit of work, with the rate-limit hits to count first; the future resolves
        after its transaction committed (or fails with its 429, or with a 503 problem when
        the writer has died)."""
        future: Future = Future()
        if self._dead:
            _settle(future, error=_stopped())
            return future
        self._ensure_started()
        self._queue.put((work, future, hits))
        if self._dead:  # it died between the check and the put: nobody else will answer
            self._fail_queued()
        return future

    async def run(self, work: Work, hits: tuple[Hit, ...] = ()) -> Any:
        """`submit` for the event loop: await the unit's result (or its error). The answers
        of one batch reach the loop in one wake-up, not one per unit (a wake-up is a syscall
        and a turn of the loop: ~20 µs each, on the hottest route)."""
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        box = _Mailbox.of(loop)
        future = self.submit(work, hits)
        future.add_done_callback(lambda done: box.post(answer, done))
        try:
            return await answer
        except asyncio.CancelledError:
            future.cancel()  # not begun yet: the writer skips it (begun: it runs to its end)
            raise

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
        batch: list[tuple[Work, Future, tuple[Hit, ...]]] = []
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
                    for _, future, _ in batch:
                        _settle(future, error=_stopped())
                batch = []
                if stop:
                    return
        except BaseException as exc:
            # Only an exit signal (SystemExit, KeyboardInterrupt) gets here. Answer everyone
            # still waiting, and let /readyz report the writer dead. Type only: never a message.
            self._dead = True
            log.error("the group writer stopped: %s", type(exc).__name__)
            for _, future, _ in batch:
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

    def _session(self) -> Session:
        session = self._db.session(write=True, cls=PreparedSession)
        # What every filing shares is written at the batch's commit: the access record's
        # entries under one short hold of the chain's head, the reference counter once.
        session.info[BATCH] = True
        return session

    def _run_batch(self, batch: list[tuple[Work, Future, tuple[Hit, ...]]]) -> None:
        # A caller that went away before its unit began is skipped (its hits uncounted, like a
        # request that never reached its route); once begun, a unit's future can no longer be
        # cancelled, so it is answered whatever its caller did.
        batch = [unit for unit in batch if unit[1].set_running_or_notify_cancel()]
        counted = not self._db.is_sqlite and any(hits for _, _, hits in batch)
        one_by_one = False
        if counted:
            outcome = self._run_counting_last(batch)
            if outcome is _DONE:
                return
            one_by_one = outcome is _FAILED  # no second try as a batch: it would fail again
        refused: list[Problem | None] = [None] * len(batch)
        if counted:
            # PostgreSQL, when counting last was refused or failed: the hits commit first, on
            # their own (a refused or failed call counts all the same), then the rest runs.
            try:
                with self._db.session(write=True, cls=PreparedSession) as session:
                    refused = count_units(session, [hits for _, _, hits in batch])
                    session.commit()
            except Exception as exc:
                for _, future, _ in batch:
                    _settle(future, error=exc)
                return
            run_after_commit(session)
            for (_, future, _), problem in zip(batch, refused, strict=True):
                if problem is not None:
                    _settle(future, error=problem)
            batch = [unit for unit, problem in zip(batch, refused, strict=True) if problem is None]
            refused = [None] * len(batch)
        if len(batch) > 1 and not one_by_one:
            try:
                with self._session() as session:
                    if not counted:
                        refused = count_units(session, [hits for _, _, hits in batch])
                    results = [
                        work(session) if problem is None else None
                        for (work, _, _), problem in zip(batch, refused, strict=True)
                    ]
                    results = [_finish(result) for result in results]
                    session.commit()
            except Exception as exc:
                log.info(
                    "a batch of %d failed (%s); rerunning its units one by one",
                    len(batch),
                    type(exc).__name__,
                )
            else:
                run_after_commit(session)
                for (_, future, _), result, problem in zip(batch, results, refused, strict=True):
                    _settle(future, result=result, error=problem)
                return
        for work, future, hits in batch:
            self._run_alone(work, future, () if counted else hits)

    def _run_counting_last(self, batch: list[tuple[Work, Future, tuple[Hit, ...]]]) -> object:
        """PostgreSQL, the common case: run the batch and count its hits at its end, in its own
        transaction, so their buckets are locked only for the commit (after the reference
        counter, before the access record's head: the one order) and the batch costs one
        transaction, not two. `_DONE` when it committed and everyone is answered; `_REFUSED`
        (a unit is over its limit) or `_FAILED` (a unit raised) when nothing was kept: the
        caller then counts first, on its own, as before."""
        try:
            with self._session() as session:
                results = [_finish(result) for result in [work(session) for work, _, _ in batch]]
                refused = count_units(session, [hits for _, _, hits in batch])
                if any(problem is not None for problem in refused):
                    session.rollback()  # a refused unit's work is never kept
                    return _REFUSED
                session.commit()
        except Exception as exc:
            log.info(
                "a batch of %d failed (%s); counting first, then its units one by one",
                len(batch),
                type(exc).__name__,
            )
            return _FAILED
        run_after_commit(session)
        for (_, future, _), result in zip(batch, results, strict=True):
            _settle(future, result=result)
        return _DONE

    def _run_alone(self, work: Work, future: Future, hits: tuple[Hit, ...]) -> None:
        try:
            with self._session() as session:
                (problem,) = count_units(session, [hits])
                result = _finish(work(session)) if problem is None else None
                session.commit()
        except Exception as exc:
            if hits:
                self._count_alone(hits)  # the failed unit's hits were rolled back with it
            _settle(future, error=exc)
        else:
            run_after_commit(session)
            _settle(future, result=result, error=problem)

    def _count_alone(self, hits: tuple[Hit, ...]) -> None:
        try:
            with self._db.session(write=True, cls=PreparedSession) as session:
                count_units(session, [hits])
                session.commit()
        except Exception as exc:  # the unit's own error is the answer; this one is logged
            log.error("counting the hits of a failed unit failed: %s", type(exc).__name__)
