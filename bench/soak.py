"""Soak: a steady load on one real server for minutes, to see memory, latency and errors hold.

Not a test (not collected by pytest, not run in CI). It starts `rightsdesk serve` (one worker,
SQLite in a fresh folder under `var/`, background delivery of the notices as files: the
shape of `make run`), creates a CPO account, and then for `--duration` seconds keeps an
open-loop schedule, whatever the server's latency:

- `--rate` filings per second (`POST /v1/requests`, each with its own e-mail address);
- a share of them (`--verify-share`) is verified a moment later with the code read from the
  notice file the service delivered (`POST /v1/requests/{id}/verification`), as a portal
  user would;
- `--staff-rate` staff reads per second, alternating the queue's first page
  (`GET /v1/staff/requests?limit=50`) and one recent request (`GET /v1/staff/requests/{id}`).

Every minute it prints the requests sent per kind, p50/p99 latency per kind, the errors (any
status other than the expected one, timeouts, connection errors, and calls not started
because more than `--max-in-flight` were still waiting) and the server's resident memory
(VmRSS of the serving process and its children). At the end: RSS after the first minute and at
the end, p99 per minute, the error total, and a check of what the service promised (one
request row per 201, the access record's chain verifies).

    .venv/bin/python bench/soak.py                          # 10 minutes at 100 filings/s
    .venv/bin/python bench/soak.py --duration 60 --rate 50  # a short look
    .venv/bin/python bench/soak.py --json /tmp/soak.json --keep

Exit status 0 when there were no errors, RSS at the end is within `--max-rss-growth` (10 %)
of RSS after the first minute, the rows match and the chain verifies; 1 otherwise; 2 when the
server does not start. The load generator runs in this process (asyncio + httpx) and uses
part of a core; the machine line printed first says how many there are.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
PASSWORD = "soak-password-0123456789"
CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
KINDS = ("filing", "verify", "staff_queue", "staff_read")


class Fatal(Exception):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    """VmRSS of a process and its children (the uvicorn worker processes, if any)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


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
    rss_kib: int = 0

    def summary(self) -> dict:
        return {
            "sent": dict(self.sent),
            "p50_ms": {k: round(percentile(v, 0.50), 1) for k, v in self.latencies.items()},
            "p99_ms": {k: round(percentile(v, 0.99), 1) for k, v in self.latencies.items()},
            "errors": dict(self.errors),
            "rss_mib": round(self.rss_kib / 1024, 1),
        }


class CodeWatcher:
    """Reads the notice files the service delivers and remembers each request's latest code.

    Only new files are opened (the folder is listed once a second), so the cost stays flat as
    the folder grows."""

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
        while not self._stop.wait(0.5):
            try:
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

    async def filing(self, client) -> None:
        self._n += 1
        body = {
            "type": random.choice(("access", "deletion", "suspension")),
            "subject": {"name": "홍길동", "email": f"soak-{os.getpid()}-{self._n}@example.com"},
        }
        response = await self.call(client, "filing", "POST", "/v1/requests", 201, json=body)
        if response is None:
            return
        self.created += 1
        request_id = response.json()["id"]
        self.recent.append(request_id)
        del self.recent[:-200]
        if random.random() < self.args.verify_share:
            self.spawn(self.verification(client, request_id))

    async def verification(self, client, request_id: str) -> None:
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

    async def run(self, server_pid: int, report) -> None:
        limits = httpx.Limits(max_connections=self.args.max_in_flight, max_keepalive_connections=64)
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
                        self.minutes[index].rss_kib = rss_kib(server_pid)
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
                    minute.rss_kib = rss_kib(server_pid)
                    report(index, minute)


def start_server(rightsdesk: str, env: dict, cwd: Path, port: int, workers: int):
    log = (cwd / "service.log").open("wb")
    return subprocess.Popen(
        [rightsdesk, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_ready(proc: subprocess.Popen, base: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Fatal(f"the server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise Fatal(f"the server was not ready after {timeout:.0f} s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=600, help="seconds of load (600)")
    p.add_argument("--rate", type=float, default=100, help="filings per second (100)")
    p.add_argument("--verify-share", type=float, default=0.3, help="share verified (0.3)")
    p.add_argument("--staff-rate", type=float, default=5, help="staff reads per second (5)")
    p.add_argument("--workers", type=int, default=1, help="API worker processes (1)")
    p.add_argument("--timeout", type=float, default=10, help="per-call timeout, s (10)")
    p.add_argument("--max-in-flight", type=int, default=256, help="calls waiting at most (256)")
    p.add_argument("--max-rss-growth", type=float, default=0.10, help="allowed RSS growth (0.10)")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--keep", action="store_true", help="keep the folder (database, notices, log)")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    random.seed(args.seed)
    rightsdesk = str(Path(sys.executable).parent / "rightsdesk")
    if not Path(rightsdesk).exists():
        raise Fatal("the `rightsdesk` command was not found: `make install` first")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} cpus, python {platform.python_version()}, load {load}; "
        f"{args.duration:g} s at {args.rate:g} filings/s, {args.verify_share:.0%} verified, "
        f"{args.staff_rate:g} staff reads/s, {args.workers} API worker(s)"
    )
    var = BENCH_DIR.parent / "var"
    var.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="soak-", dir=var))
    db_path = tmp / "soak.db"
    notify_dir = tmp / "notify"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSDESK_")}
    env.update(
        RIGHTSDESK_VAR_DIR=str(tmp / "var"),
        RIGHTSDESK_DATABASE_URL=f"sqlite:///{db_path}",
        RIGHTSDESK_NOTIFY_DIR=str(notify_dir),
        # Everything comes from one address: the per-address limits stay on but out of reach.
        RIGHTSDESK_RATE_LIMIT_FILING_PER_ADDRESS="999999999/hour",
        RIGHTSDESK_RATE_LIMIT_CODE_CHECK_PER_ADDRESS="999999999/hour",
        RIGHTSDESK_RATE_LIMIT_LOGIN_PER_ADDRESS="999999999/hour",
        PYTHONUNBUFFERED="1",
    )
    subprocess.run([rightsdesk, "migrate"], env=env, cwd=tmp, check=True, capture_output=True)
    subprocess.run(
        [rightsdesk, "create-user", "--email", "cpo@soak.example", "--role", "cpo",
         "--password-stdin"],
        input=PASSWORD, text=True, env=env, cwd=tmp, check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    base = f"http://{HOST}:{port}"
    proc = start_server(rightsdesk, env, tmp, port, args.workers)
    watcher = CodeWatcher(notify_dir)
    try:
        wait_ready(proc, base, tmp / "service.log")
        token = httpx.post(
            f"{base}/v1/auth/token",
            data={"username": "cpo@soak.example", "password": PASSWORD},
            timeout=30,
        )
        if token.status_code != 200:
            raise Fatal(f"staff log-in failed: {token.status_code} {token.text[:200]}")
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        rss_start = rss_kib(proc.pid)
        print(f"server pid {proc.pid} :{port}; RSS before load {rss_start / 1024:.1f} MiB")
        if args.verify_share > 0:
            watcher.start()

        def report(index: int, m: Minute) -> None:
            s = m.summary()
            p99 = " ".join(f"{k} {v}" for k, v in s["p99_ms"].items())
            partial = " (partial)" if (index + 1) * 60 > args.duration + 1 else ""
            print(
                f"minute {index + 1:>2}{partial}: sent {sum(s['sent'].values()):>6} | p99 ms {p99} | "
                f"errors {sum(s['errors'].values())} {s['errors'] or ''}| RSS {s['rss_mib']} MiB",
                flush=True,
            )

        loader = Load(args, base, headers, watcher)
        asyncio.run(loader.run(proc.pid, report))
        watcher.stop()
        # Let the background delivery finish, then check what the service promised.
        time.sleep(3)
        with sqlite3.connect(db_path) as conn:
            rows = conn.execute("SELECT count(*) FROM request").fetchone()[0]
        chain = subprocess.run(
            [rightsdesk, "audit", "verify", "--no-progress"]
            if "--no-progress" in _verify_help(rightsdesk, env, tmp)
            else [rightsdesk, "audit", "verify"],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=600,
        )
        chain_ok = chain.returncode == 0
        minutes = [m.summary() for m in loader.minutes]
        errors = sum(sum(m.errors.values()) for m in loader.minutes)
        rss_first = loader.minutes[0].rss_kib if loader.minutes else rss_start
        rss_end = loader.minutes[-1].rss_kib if loader.minutes else rss_start
        growth = (rss_end - rss_first) / rss_first if rss_first else 0.0
        p99_filing = [m["p99_ms"].get("filing") for m in minutes if "filing" in m["p99_ms"]]
        sent = sum(sum(m.sent.values()) for m in loader.minutes)
        result = {
            "duration_s": args.duration,
            "rate": args.rate,
            "calls": sent,
            "filings_201": loader.created,
            "request_rows": rows,
            "errors": errors,
            "rss_mib": {
                "before_load": round(rss_start / 1024, 1),
                "after_minute_1": round(rss_first / 1024, 1),
                "end": round(rss_end / 1024, 1),
                "growth": round(growth, 3),
            },
            "p99_filing_ms_per_minute": p99_filing,
            "p99_filing_ms_median": statistics.median(p99_filing) if p99_filing else None,
            "chain": chain.stdout.strip(),
            "minutes": minutes,
            "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        }
        print(
            f"calls {sent}, filings 201 {loader.created}, request rows {rows}, errors {errors}; "
            f"RSS {rss_first / 1024:.1f} MiB after minute 1 -> {rss_end / 1024:.1f} MiB at the end "
            f"({growth:+.1%}); p99 filing per minute {p99_filing}; chain {chain.stdout.strip()}"
        )
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        problems = []
        if errors:
            problems.append(f"{errors} errors")
        if growth > args.max_rss_growth:
            problems.append(f"RSS grew {growth:.1%} (> {args.max_rss_growth:.0%})")
        if rows != loader.created:
            problems.append(f"{rows} request rows for {loader.created} answers 201")
        if not chain_ok:
            problems.append("the access record does not verify")
        print("FAIL: " + "; ".join(problems) if problems else "OK")
        return 1 if problems else 0
    finally:
        watcher.stop()
        stop_server(proc)
        if args.keep:
            print(f"kept: {tmp}")
        else:
            subprocess.run(["rm", "-rf", str(tmp)], check=False)


def _verify_help(rightsdesk: str, env: dict, cwd: Path) -> str:
    done = subprocess.run(
        [rightsdesk, "audit", "verify", "--help"], env=env, cwd=cwd, capture_output=True, text=True
    )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except Fatal as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
