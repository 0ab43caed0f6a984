"""Races with real parallelism: N threads released together by a barrier, each making its own
HTTP call through the app (sync endpoints run in the threadpool, each on its own database
connection), or processes against a live server. They run on SQLite and PostgreSQL; on
SQLite the writers queue on the write lock, on PostgreSQL they truly overlap."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def race(n: int, fn: Callable[[int], T], *, timeout: float = 60.0) -> list[T]:
    """Run fn(0) … fn(n-1) in n threads that start at the same moment; return the results in
    order, re-raising the first exception a thread raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout)
            results[i] = fn(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), name=f"racer-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a racer did not finish in time"
    if errors:
        raise errors[0]
    return results


@pytest.fixture(name="race")
def race_fixture():
    return race
