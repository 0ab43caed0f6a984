#!/usr/bin/env python3
"""Soak: a steady load on one real server for minutes, to see memory, latency and errors hold.

Not a test (not collected by pytest, not run in CI). It starts `rightsdesk serve` (`--workers`
API processes, 1 by default) on SQLite in a fresh folder under `var/`, or on the PostgreSQL
database of `--database-url` (its public schema emptied first; the name must contain `bench`),
with the notices delivered as files either by a thread of the API process (`--delivery
background`, the shape of `make run`) or by a `rightsdesk worker` process (`--delivery worker`,
the production shape: the API runs with RIGHTSDESK_DELIVERY=off). It creates a CPO account,
and then for `--duration` seconds keeps an open-loop schedule, whatever the server's latency:

- `--rate` filings per second (`POST /v1/requests`, each with its own e-mail address);
- a share of them (`--verify-share`) is verified a moment later with the code read from the
  notice file the service (or its worker) delivered (`POST /v1/requests/{id}/verification`),
  as a portal user would;
- `--staff-rate` staff reads per second, alternating the queue's first page
  (`GET /v1/staff/requests?limit=50`) and one recent request (`GET /v1/staff/requests/{id}`).

With `--pin` the load generator (this process: the asyncio loop, httpx, the thread reading the
notice folder) runs on one core (the last this process may use) and the API and the worker on
the others (`taskset -c`; their children inherit it); the affinities are read back from /proc
and printed. PostgreSQL is a system service that this script does not start, so it is not
pinned: its backends run on any core, the load generator's included. `--pin` is refused on a
machine (or under an affinity) with a single core.

Every minute it prints the requests sent per kind, p99 latency per kind, the errors (any
status other than the expected one, timeouts, connection errors, and calls not started
because more than `--max-in-flight` were still waiting), the resident memory (VmRSS summed
over the API's process group — uvicorn's supervisor and workers — and, apart, the delivery
worker's) and the CPU used in the minute (share of one core: this process, the API's group,
the worker). At the end: RSS after the first minute and at the end, p99 per minute, whether
the p99 stayed steady, the error total, and a check of what the service promised (one
request row per 201, every notice delivered, the access record's chain verifies).

Steady, per kind of call: the p99 of each of the last three full minutes (or of every full
minute after the second, when there are fewer) is at most `--steady-factor` (2) times the p99
of the second minute (the first carries the warm-up: imports, caches, connections). A kind
with fewer than 100 answers in the second minute is not judged, and neither is a run with
fewer than three full minutes. The minute the stragglers finish in is never judged.

    .venv/bin/python bench/soak.py                          # 10 minutes at 100 filings/s
    .venv/bin/python bench/soak.py --duration 70 --rate 30  # a short look
    .venv/bin/python bench/soak.py --workers 4 --delivery worker --pin --json /tmp/soak.json \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_soak

Exit status 0 when there were no errors, the RSS at the end (of the API's group, and of the
worker) is within `--max-rss-growth` (10 %) of the RSS after the first minute, the p99 is not
judged unsteady, the rows match, no notice is left undelivered `--drain` seconds after the
load, no server exited and the chain verifies; 1 otherwise; 2 when a server does not start or
a tool is missing. Only 127.0.0.1 is ever targeted; the servers are stopped at the end, on
Ctrl-C and on SIGTERM too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _common import (
    Fatal,
    Server,
    add_database_and_delivery,
    audit_verify,
    bench_database,
    clean_up,
    cpu_list,
    cpu_seconds,
    cpus_allowed,
    db_counts,
    find_rightsdesk,
    group_pids,
    machine,
    machine_line,
    machine_ticks,
    postgres_io,
    rss_kib,
    run_folder,
    service_env,
    start,
    start_service,
    stolen_share,
    wait_http,
)

PASSWORD = "soak-password-0123456789"
CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
KINDS = ("filing", "verify", "staff_queue", "staff_read")
STEADY_LAST = 3  # full minutes judged at the end of the run
STEADY_MIN_CALLS = 100  # answers of a kind in minute 2 for its p99 to be a reference


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[k]


@dataclass
class Minute:
    sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rss_kib: dict[str, int] = field(default_factory=dict)  # per process: api, worker
    cpu_share: dict[str, float] = field(default_factory=dict)  # of one core: gen, api, worker
    stolen: float = 0.0  # share of the machine's CPU time the hypervisor gave elsewhere
    postgres: dict[str, int] = field(default_factory=dict)  # PG_IO_NAMES in the minute

    def summary(self) -> dict:
        return {
            "sent": dict(self.sent),
            "answered": {k: len(v) for k, v in self.latencies.items()},
            "p50_ms": {k: round(percentile(v, 0.50), 1) for k, v in self.latencies.items()},
            "p99_ms": {k: round(percentile(v, 0.99), 1) for k, v in self.latencies.items()},
            "errors": dict(self.errors),
            "rss_mib": {k: round(v / 1024, 1) for k, v in self.rss_kib.items()},
            "cpu_share": {k: round(v, 2) for k, v in self.cpu_share.items()},
            "stolen": round(self.stolen, 3),
            "postgres": dict(self.postgres),
        }


class CodeWatcher:
    """Reads the notice files the service delivers and remembers each request's latest code.

    The folder is listed twice a second; each file read is moved into `read/` beside it, so
    the listing holds only what arrived since (it used to hold every notice of the run, and
    this thread's cost, on the load generator's core and under its GIL, grew over the run:
    the generator's CPU 29 % → 39 % in ten minutes). The run's checks count the outbox rows
    in the database, not the files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.codes: dict[str, str] = {}
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        self._read = self.directory / "read"
        while not self._stop.wait(0.5):
            try:
                self._read.mkdir(parents=True, exist_ok=True)
                entries = list(os.scandir(self.directory))
            except OSError:
                continue
            for entry in entries:
                name = entry.name
                if not name.endswith(".json") or name in self._seen:
                    continue
                self._seen.add(name)
                try:
                    message = json.loads(Path(entry.path).read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    self._seen.discard(name)  # half-written: read it next time
                    continue
                if message.get("template") == "verification_code":
                    found = CODE_RE.search(message.get("text", ""))
                    if found:
                        self.codes[message["request_id"]] = found.group(1)
                try:
                    os.replace(entry.path, self._read / name)
                    self._seen.discard(name)
                except OSError:
                    pass  # left in place: seen, so not read again

    async def code_for(self, request_id: str, timeout: float = 20.0) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.codes.pop(request_id, None)
            if code:
                return code
            await asyncio.sleep(0.25)
        return None


class Load:
    def __init__(self, args: argparse.Namespace, base: str, staff_headers: dict, watcher) -> None:
        self.args = args
        self.base = base
        self.staff_headers = staff_headers
        self.watcher = watcher
        self.minutes: list[Minute] = []
        self.in_flight = 0
        self.recent: list[str] = []
        self.created = 0
        self.started = 0.0
        self._n = 0
        self._tasks: set[asyncio.Task] = set()

    def minute(self) -> Minute:
        index = int((time.monotonic() - self.started) // 60)
        while len(self.minutes) <= index:
            self.minutes.append(Minute())
        return self.minutes[index]

    async def call(self, client, kind: str, method: str, url: str, expect: int, **kw):
        m = self.minute()
        if self.in_flight >= self.args.max_in_flight:
            m.errors[f"{kind}:shed"] += 1
            return None
        self.in_flight += 1
        m.sent[kind] += 1
        t0 = time.perf_counter()
        try:
            response = await client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.minute().errors[f"{kind}:{type(exc).__name__}"] += 1
            return None
        finally:
            self.in_flight -= 1
        elapsed = (time.perf_counter() - t0) * 1000
        m = self.minute()
        m.latencies[kind].append(elapsed)
        if response.status_code != expect:
            m.errors[f"{kind}:{response.status_code}"] += 1
            return None
        return response

    def address(self) -> dict[str, str]:
        """A filer's own address, as a load balancer in front would pass it on (the service
        trusts 127.0.0.1 as that proxy); {} with --addresses 1: every call from 127.0.0.1."""
        if self.args.addresses <= 1:
            return {}
        n = random.randrange(self.args.addresses)
        return {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}

    async def filing(self, client) -> None:
        self._n += 1
        body = {
            "type": random.choice(("access", "deletion", "suspension")),
            "subject": {"name": "홍길동", "email": f"soak-{os.getpid()}-{self._n}@example.com"},
        }
        address = self.address()
        response = await self.call(
            client, "filing", "POST", "/v1/requests", 201, json=body, headers=address
        )
        if response is None:
            return
        self.created += 1
        request_id = response.json()["id"]
        self.recent.append(request_id)
        del self.recent[:-200]
        if random.random() < self.args.verify_share:
            self.spawn(self.verification(client, request_id, address))

    async def verification(self, client, request_id: str, address: dict[str, str]) -> None:
        await asyncio.sleep(1.0)
        code = await self.watcher.code_for(request_id)
        if code is None:
            self.minute().errors["verify:no-code"] += 1
            return
        await self.call(
            client,
            "verify",
            "POST",
            f"/v1/requests/{request_id}/verification",
            200,
            json={"code": code},
            headers=address,  # the filer enters the code from where they filed
        )

    async def staff(self, client, turn: int) -> None:
        if turn % 2 == 0 or not self.recent:
            await self.call(
                client,
                "staff_queue",
                "GET",
                "/v1/staff/requests?limit=50",
                200,
                headers=self.staff_headers,
            )
        else:
            await self.call(
                client,
                "staff_read",
                "GET",
                f"/v1/staff/requests/{random.choice(self.recent)}",
                200,
                headers=self.staff_headers,
            )

    def spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, report) -> None:
        # Idle connections are dropped after 2 s, before the server's keep-alive timeout
        # (uvicorn's 5 s): with httpx's default (also 5 s) a request could go out on a
        # connection the server was closing that instant, and fail with ReadError — an error
        # of the client's, counted against the service (1 in 4,584 calls in a 55/s run).
        limits = httpx.Limits(
            max_connections=self.args.max_in_flight,
            max_keepalive_connections=64,
            keepalive_expiry=2.0,
        )
        timeout = httpx.Timeout(self.args.timeout)
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=timeout) as client:
            self.started = time.monotonic()
            end = self.started + self.args.duration
            filing_gap = 1.0 / self.args.rate
            staff_gap = 1.0 / self.args.staff_rate if self.args.staff_rate > 0 else math.inf
            next_filing, next_staff, staff_turn = self.started, self.started, 0
            next_report = self.started + 60
            reported: set[int] = set()
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                # Open loop: every call due by now is started, late or not.
                while next_filing <= now:
                    self.spawn(self.filing(client))
                    next_filing += filing_gap
                while next_staff <= now:
                    self.spawn(self.staff(client, staff_turn))
                    staff_turn += 1
                    next_staff += staff_gap
                if now >= next_report:
                    index = int((next_report - self.started) // 60) - 1
                    if 0 <= index < len(self.minutes):
                        report(index, self.minutes[index])
                        reported.add(index)
                    next_report += 60
                await asyncio.sleep(max(0.0, min(next_filing, next_staff, end) - time.monotonic()))
            # Let what was started finish (bounded by the client's timeout).
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            # The minutes not reported yet: the last full one (it ends with the load) and the
            # stragglers' partial one.
            for index, minute in enumerate(self.minutes):
                if index not in reported:
                    report(index, minute)


# --- pinning --------------------------------------------------------------------------------


def plan_pinning(pin: bool) -> tuple[set[int], set[int]] | None:
    """(the load generator's core, the servers' cores), or None without --pin. The load
    generator takes the last core this process may use; the servers the others."""
    if not pin:
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise Fatal(
            f"--pin needs two cores or more (one for the load generator, the others for the "
            f"servers); this process may use {len(allowed)} (cpu {cpu_list(allowed)}): "
            "run without --pin"
        )
    return {allowed[-1]}, set(allowed[:-1])


def pin_self(cpus: set[int]) -> None:
    """This process, every thread it has so far (later threads inherit), on `cpus`."""
    for tid in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(tid), cpus)


def affinity_of(server: Server) -> str:
    """The cores every live process of a server's group may use, e.g. `0` or `0 (3 procs)`."""
    pids = group_pids(server.proc.pid) or [server.proc.pid]
    found = sorted({cpus_allowed(p) for p in pids})
    return f"{' / '.join(found)} ({len(pids)} process{'es' if len(pids) > 1 else ''})"


# --- the verdicts ---------------------------------------------------------------------------


def steadiness(minutes: list[Minute], full: int, factor: float) -> dict:
    """Whether the p99 of each kind stayed steady; the rule is in the module's docstring."""
    judged = list(range(max(2, full - STEADY_LAST), full))  # indexes: minute 3 is index 2
    result: dict = {
        "rule": f"p99 of the last {STEADY_LAST} full minutes (those after minute 2) at most "
        f"{factor:g} x minute 2's",
        "factor": factor,
        "minutes_judged": [i + 1 for i in judged],
        "kinds": {},
    }
    if not judged:
        result["verdict"] = "not judged"
        result["why"] = f"{full} full minute(s); the rule needs 3"
        return result
    for kind in KINDS:
        reference = minutes[1].latencies.get(kind, [])
        if len(reference) < STEADY_MIN_CALLS:
            result["kinds"][kind] = {
                "verdict": "not judged",
                "why": f"{len(reference)} answers in minute 2 (< {STEADY_MIN_CALLS})",
            }
            continue
        ref = percentile(reference, 0.99)
        p99 = {i + 1: percentile(minutes[i].latencies.get(kind, []), 0.99) for i in judged}
        ratios = {m: v / ref for m, v in p99.items()}
        ok = all(r <= factor for r in ratios.values())  # a minute without answers: nan, fails
        result["kinds"][kind] = {
            "verdict": "steady" if ok else "NOT steady",
            "minute_2_p99_ms": round(ref, 1),
            "p99_ms": {str(m): round(v, 1) for m, v in p99.items()},
            "ratio": {str(m): round(r, 2) for m, r in ratios.items()},
        }
    verdicts = {k["verdict"] for k in result["kinds"].values()}
    result["verdict"] = (
        "NOT steady"
        if "NOT steady" in verdicts
        else "steady"
        if "steady" in verdicts
        else "not judged"
    )
    if result["verdict"] == "not judged":
        result["why"] = "too few answers of every kind in minute 2"
    return result


def steady_text(steady: dict) -> str:
    if not steady["kinds"] or steady["verdict"] == "not judged":
        return f"{steady['verdict']} ({steady.get('why', '')})"
    parts = []
    for kind, k in steady["kinds"].items():
        if "ratio" not in k:
            parts.append(f"{kind} not judged")
            continue
        ratios = list(k["ratio"].values())
        worst = "a minute without answers" if any(map(math.isnan, ratios)) else f"x{max(ratios)}"
        parts.append(f"{kind} {k['minute_2_p99_ms']} ms -> {worst} {k['verdict']}")
    minutes = steady["minutes_judged"]
    span = f"minute {minutes[0]}" if len(minutes) == 1 else f"minutes {minutes[0]}-{minutes[-1]}"
    return (
        f"{steady['verdict']} ({span} against minute 2, at most x{steady['factor']:g}: "
        + "; ".join(parts)
        + ")"
    )


def growth(minutes: list[Minute], name: str, before: int) -> dict:
    """RSS of one process (group) after the first minute and at the end, and the growth."""
    first = minutes[0].rss_kib.get(name, before) if minutes else before
    end = minutes[-1].rss_kib.get(name, before) if minutes else before
    return {
        "before_load": round(before / 1024, 1),
        "after_minute_1": round(first / 1024, 1),
        "end": round(end / 1024, 1),
        "growth": round((end - first) / first, 3) if first else 0.0,
    }


def wait_delivered(db: str, timeout: float) -> tuple[dict, float]:
    """Wait (bounded) until no notice is still pending in the outbox; (the counts, seconds)."""
    t0 = time.monotonic()
    while True:
        counts = db_counts(db)
        outbox = counts.get("outbox")
        pending = outbox.get("pending", 0) if isinstance(outbox, dict) else None
        if pending == 0 or time.monotonic() - t0 > timeout:
            return counts, time.monotonic() - t0
        time.sleep(0.5)


# --- the run --------------------------------------------------------------------------------


def cli(rightsdesk: str, argv: list[str], env: dict, cwd: Path, stdin: str | None = None) -> None:
    done = subprocess.run(
        [rightsdesk, *argv], input=stdin, env=env, cwd=cwd, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise Fatal(f"rightsdesk {argv[0]} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=600, help="seconds of load (600)")
    p.add_argument("--rate", type=float, default=100, help="filings per second (100)")
    p.add_argument("--verify-share", type=float, default=0.3, help="share verified (0.3)")
    p.add_argument("--addresses", type=int, default=10_000,
                   help="filers' client addresses, passed on in X-Forwarded-For as a load "
                   "balancer would (10,000; 1: every call from 127.0.0.1, so every filing and "
                   "verification counts against one rate-limit row)")  # fmt: skip
    p.add_argument("--staff-rate", type=float, default=5, help="staff reads per second (5)")
    p.add_argument("--workers", type=int, default=1, help="API worker processes (1)")
    add_database_and_delivery(
        p, database="bench_soak", delivery_reported="its RSS and CPU are reported apart"
    )
    p.add_argument("--pin", action="store_true",
                   help="the load generator on one core, the API and the worker on the others "
                   "(taskset); refused with a single core")  # fmt: skip
    p.add_argument("--timeout", type=float, default=10, help="per-call timeout, s (10)")
    p.add_argument("--max-in-flight", type=int, default=256, help="calls waiting at most (256)")
    p.add_argument("--max-rss-growth", type=float, default=0.10, help="allowed RSS growth (0.10)")
    p.add_argument("--steady-factor", type=float, default=2.0,
                   help="p99 of the last minutes at most this times minute 2's (2)")  # fmt: skip
    p.add_argument("--drain", type=float, default=60,
                   help="seconds to wait after the load for the notices still queued (60)")  # fmt: skip
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--keep", action="store_true", help="keep the folder (database, notices, logs)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if not (args.duration > 0 and args.rate > 0 and args.staff_rate >= 0):
        p.error("--duration and --rate must be positive, --staff-rate not negative")
    if not 0 <= args.verify_share <= 1:
        p.error("--verify-share is a share: 0..1")
    if not 1 <= args.workers <= 16:
        p.error("keep --workers in 1..16")
    if args.steady_factor <= 1:
        p.error("--steady-factor must be above 1")
    if args.database_url and not args.database_url.startswith("postgresql"):
        p.error("--database-url takes a PostgreSQL URL (SQLite is the default)")
    return args


def run(args: argparse.Namespace) -> int:
    random.seed(args.seed)
    rightsdesk = find_rightsdesk()
    pinning = plan_pinning(args.pin)
    load_cpus, server_cpus = pinning or (None, None)
    print(machine_line(machine()))
    print(
        f"{args.duration:g} s at {args.rate:g} filings/s, {args.verify_share:.0%} verified, "
        f"{args.staff_rate:g} staff reads/s; filers from {args.addresses:,} address(es); database: "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}; API workers: {args.workers}; "
        f"delivery: {args.delivery}"
    )
    tmp = run_folder("soak-")
    servers: list[Server] = []
    notify_dir = tmp / "notify"
    watcher = CodeWatcher(notify_dir)
    try:
        db, db_url = bench_database(args.database_url, tmp, "soak.db")
        env = service_env(
            RIGHTSDESK_VAR_DIR=str(tmp / "var"),
            RIGHTSDESK_DATABASE_URL=db_url,
            RIGHTSDESK_NOTIFY_DIR=str(notify_dir),
            # The soak is the load balancer in front (--addresses): it passes each filer's own
            # address on. The per-address limits stay on but out of reach (with --addresses 1
            # everything comes from one address).
            RIGHTSDESK_TRUSTED_PROXIES="127.0.0.1",
            RIGHTSDESK_RATE_LIMIT_FILING_PER_ADDRESS="999999999/hour",
            RIGHTSDESK_RATE_LIMIT_CODE_CHECK_PER_ADDRESS="999999999/hour",
            RIGHTSDESK_RATE_LIMIT_LOGIN_PER_ADDRESS="999999999/hour",
        )
        if args.delivery == "worker":
            env["RIGHTSDESK_DELIVERY"] = "off"
        cli(rightsdesk, ["migrate"], env, tmp)
        cli(rightsdesk, ["create-user", "--email", "cpo@soak.example", "--role", "cpo",
                         "--password-stdin"], env, tmp, stdin=PASSWORD)  # fmt: skip
        service = start_service(rightsdesk, args.workers, env, tmp, server_cpus)
        servers.append(service)
        wait_http(service, "/readyz")
        deliverer: Server | None = None
        if args.delivery == "worker":
            deliverer = start(
                "worker", [rightsdesk, "worker"], env, tmp, tmp / "worker.log", server_cpus
            )
            servers.append(deliverer)
        token = httpx.post(
            service.url("/v1/auth/token"),
            data={"username": "cpo@soak.example", "password": PASSWORD},
            timeout=30,
        )
        if token.status_code != 200:
            raise Fatal(f"staff log-in failed: {token.status_code} {token.text[:200]}")
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        time.sleep(1)  # uvicorn's workers and the worker up, before their memory is read
        if deliverer and deliverer.proc.poll() is not None:
            raise Fatal(
                f"the worker exited with {deliverer.proc.returncode}:\n{deliverer.log_tail()}"
            )
        procs = {"api": service} | ({"worker": deliverer} if deliverer else {})
        rss_before = {name: rss_kib(s.proc.pid) for name, s in procs.items()}
        print(
            f"API pid {service.proc.pid} :{service.port}"
            + (f"; worker pid {deliverer.proc.pid}" if deliverer else "")
            + "; RSS before load "
            + ", ".join(f"{n} {v / 1024:.1f} MiB" for n, v in rss_before.items())
        )
        if load_cpus:
            pin_self(load_cpus)
        affinity = {"load generator": cpus_allowed(os.getpid())} | {
            name: affinity_of(s) for name, s in procs.items()
        }
        if args.database_url:
            affinity["postgresql"] = "not pinned (a system service: its backends use any core)"
        where = [f"{n} on cpu {v}" for n, v in affinity.items() if n != "postgresql"]
        if args.database_url:
            where.append("postgresql " + affinity["postgresql"])
        print(("pinned: " if pinning else "not pinned: ") + "; ".join(where))
        if args.verify_share > 0:
            watcher.start()

        marks = {"t": time.monotonic(), "gen": _own_cpu()} | {
            n: cpu_seconds(s.proc.pid) for n, s in procs.items()
        }
        machine_marks = {"ticks": machine_ticks()}
        if args.database_url:
            machine_marks["postgres"] = postgres_io(args.database_url)

        def report(index: int, m: Minute) -> None:
            now = time.monotonic()
            wall = max(now - marks["t"], 1e-9)
            cpu = {"gen": _own_cpu()} | {n: cpu_seconds(s.proc.pid) for n, s in procs.items()}
            m.cpu_share = {n: (v - marks[n]) / wall for n, v in cpu.items()}
            marks.update(cpu, t=now)
            m.rss_kib = {n: rss_kib(s.proc.pid) for n, s in procs.items()}
            ticks = machine_ticks()
            m.stolen = stolen_share(machine_marks["ticks"], ticks)
            machine_marks["ticks"] = ticks
            if args.database_url:
                try:
                    io = postgres_io(args.database_url)
                except Exception as exc:  # a reading is not worth failing the run
                    print(f"PostgreSQL counters unread: {type(exc).__name__}", flush=True)
                else:
                    m.postgres = {k: io[k] - machine_marks["postgres"][k] for k in io}
                    machine_marks["postgres"] = io
            sm = m.summary()
            p99 = " ".join(f"{k} {v}" for k, v in sm["p99_ms"].items())
            rss = " ".join(f"{k} {v}" for k, v in sm["rss_mib"].items())
            share = " ".join(f"{k} {100 * v:.0f}" for k, v in sm["cpu_share"].items())
            partial = " (partial)" if (index + 1) * 60 > args.duration + 1 else ""
            print(
                f"minute {index + 1:>2}{partial}: sent {sum(sm['sent'].values()):>6} | "
                f"p99 ms {p99} | errors {sum(sm['errors'].values())} {sm['errors'] or ''}| "
                f"RSS MiB {rss} | "
                f"CPU % {share} | stolen {100 * m.stolen:.0f} %"
                + (
                    " | pg checkpoints {checkpoints} written {written_checkpoint}/"
                    "{written_bgwriter}/{written_backend} read {read}".format(**m.postgres)
                    if m.postgres
                    else ""
                ),
                flush=True,
            )

        loader = Load(args, service.url(""), headers, watcher)
        asyncio.run(loader.run(report))
        watcher.stop()
        exited = {n: s.proc.returncode for n, s in procs.items() if s.proc.poll() is not None}

        # Let the delivery finish (bounded), then check what the service promised.
        counts, drained = wait_delivered(db, args.drain)
        ok_chain, chain = audit_verify(rightsdesk, env, tmp, timeout=600)
        minutes = [m.summary() for m in loader.minutes]
        errors = sum(sum(m.errors.values()) for m in loader.minutes)
        sent = sum(sum(m.sent.values()) for m in loader.minutes)
        rows = counts.get("requests")
        outbox = counts.get("outbox") if isinstance(counts.get("outbox"), dict) else {}
        rss = {n: growth(loader.minutes, n, rss_before[n]) for n in procs}
        full = int((args.duration + 1) // 60)
        steady = steadiness(loader.minutes, full, args.steady_factor)
        p99_filing = [m["p99_ms"].get("filing") for m in minutes if "filing" in m["p99_ms"]]
        result = {
            "duration_s": args.duration,
            "rate": args.rate,
            "verify_share": args.verify_share,
            "staff_rate": args.staff_rate,
            "database": "postgresql" if args.database_url else "sqlite",
            "workers": args.workers,
            "delivery": args.delivery,
            "pinned": bool(pinning),
            "affinity": affinity,
            "calls": sent,
            "filings_201": loader.created,
            "request_rows": rows,
            "errors": errors,
            "outbox": outbox,
            "drain_s": round(drained, 1),
            "audit_entries": counts.get("audit_entries"),
            "rss_mib": rss,
            "p99_filing_ms_per_minute": p99_filing,
            "steady": steady,
            "exited": exited,
            "chain": chain,
            "minutes": minutes,
            "load_after": machine()["loadavg"],
        }
        rss_text = "; ".join(
            f"{n} {r['after_minute_1']} MiB after minute 1 -> {r['end']} MiB at the end "
            f"({r['growth']:+.1%})"
            for n, r in rss.items()
        )
        print(
            f"calls {sent}, filings 201 {loader.created}, request rows {rows}, errors {errors}; "
            f"outbox {outbox} ({drained:.1f} s to drain); chain {chain}"
        )
        print(f"RSS {rss_text}")
        print(f"p99 filing per minute {p99_filing}; p99 {steady_text(steady)}")
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        problems = []
        if errors:
            problems.append(f"{errors} errors")
        for n, r in rss.items():
            if r["growth"] > args.max_rss_growth:
                problems.append(f"{n} RSS grew {r['growth']:.1%} (> {args.max_rss_growth:.0%})")
        if steady["verdict"] == "NOT steady":
            problems.append("p99 not steady")
        if "error" in counts:
            problems.append(f"the database could not be read: {counts['error']}")
        elif rows != loader.created:
            why = (
                " (filings that failed on the client's side, a timeout say, may still be stored)"
                if isinstance(rows, int) and rows > loader.created
                else ""
            )
            problems.append(f"{rows} request rows for {loader.created} answers 201{why}")
        undelivered = sum(v for k, v in outbox.items() if k != "sent")
        if undelivered:
            problems.append(f"{undelivered} notices not delivered {args.drain:g} s after the load")
        if exited:
            problems.append(f"exited during the run: {exited}")
        if not ok_chain:
            problems.append("the access record does not verify")
        print("FAIL: " + "; ".join(problems) if problems else "OK")
        return 1 if problems else 0
    finally:
        watcher.stop()
        clean_up(servers, tmp, args.keep)


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _raise_interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return run(args)
    except Fatal as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
