"""What the HTTP benchmarks share: starting a server in its own process group, waiting for it,
its CPU time from /proc, driving it with wrk, and the machine line. Copied from intake.py's
helpers (which keeps its own copy for now), so the benchmarks measure the same way.

Also `page_app`, the bare baseline of bench/queue.py's HTTP phase (uvicorn imports it by name,
`_common:page_app`, so it lives here and not in queue.py, whose name shadows the standard
library's `queue`).
"""

from __future__ import annotations

import os
import platform
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"  # the only address these benchmarks ever send to
BENCH_DIR = Path(__file__).resolve().parent
PAGE_ENV = "RIGHTSDESK_BENCH_PAGE"  # the bare app's page: a JSON file


class Fatal(Exception):
    """Stop the run with this message and exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (uvicorn --workers N forks its workers)."""
    total = cpu_seconds(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(tree_cpu_seconds(int(c)) for c in children)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        # Started in its own session: signal its group, i.e. it and its children.
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def start(name: str, cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> Server:
    port = int(cmd[cmd.index("--port") + 1])
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, port, proc, log)


def http(
    server: Server,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, bytes]:
    """One request to the server: (status, body)."""
    req = urllib.request.Request(server.url(path), data=body, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_http(server: Server, path: str, expect: int = 200, timeout: float = 120.0) -> None:
    """Poll until `path` answers `expect` (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise Fatal(f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            status, _ = http(server, path, timeout=5)
            if status == expect:
                return
            last = f"status {status}"
        except (urllib.error.URLError, OSError) as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise Fatal(f"{server.name} not ready after {timeout:.0f} s ({last}):\n{server.log_tail()}")


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    requests: int
    ok: int  # answers with the expected status
    bad: int  # any other status
    statuses: str
    socket_errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    seconds: float
    raw: str = field(repr=False)
    cpu_s: float = 0.0  # CPU time (user + system) the server used during the run

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_s / self.requests if self.requests else 0.0

    @property
    def cpu_share(self) -> float:
        """How much of one core the server used while wrk ran."""
        return self.cpu_s / self.seconds

    @property
    def errors(self) -> int:
        return self.bad + sum(self.socket_errors.values())


def parse_wrk(output: str) -> WrkResult:
    """wrk's summary: requests/s from its own text, the rest from the BENCH line that the
    Lua script's done() prints (exact microseconds; `created`/`non201` = expected/other)."""
    m = re.search(r"^BENCH (.*)$", output, re.M)
    if not m:
        raise Fatal(f"wrk printed no BENCH line:\n{output[-2000:]}", 1)
    kv = dict(item.split("=", 1) for item in m.group(1).split())
    rps_m = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    seconds = max(int(kv["duration_us"]) / 1e6, 1e-9)
    return WrkResult(
        rps=float(rps_m.group(1)) if rps_m else int(kv["requests"]) / seconds,
        requests=int(kv["requests"]),
        ok=int(kv["created"]),
        bad=int(kv["non201"]),
        statuses=kv["statuses"],
        socket_errors={k: int(kv[k]) for k in ("connect", "read", "write", "timeout")},
        p50_ms=int(kv["p50_us"]) / 1e3,
        p90_ms=int(kv["p90_us"]) / 1e3,
        p99_ms=int(kv["p99_us"]) / 1e3,
        max_ms=int(kv["max_us"]) / 1e3,
        seconds=seconds,
        raw=output,
    )


def run_wrk(
    wrk: str,
    url: str,
    *,
    lua: Path,
    script_args: list[str],
    connections: int,
    duration: float,
    threads: int = 1,
    timeout: float = 10,
) -> WrkResult:
    cmd = [
        wrk,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        f"{timeout:g}s",
        "-s",
        str(lua),
        url,
        "--",
        *script_args,
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    except subprocess.TimeoutExpired as exc:
        raise Fatal(f"wrk did not finish within {duration + 60:.0f} s", 1) from exc
    if done.returncode != 0:
        raise Fatal(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}", 1)
    return parse_wrk(done.stdout)


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg": load,
    }


# --- the bare baseline of the queue's HTTP phase ------------------------------------------


def page_app():
    """FastAPI with one async endpoint that answers a queue page held in memory: the page is
    read once at start from the JSON file named by RIGHTSDESK_BENCH_PAGE (the service's own
    answer, fetched by the benchmark), validated into the service's `QueuePage`, and on each
    call serialised through the same response model, as the service's route does. No auth, no
    database, no middleware."""
    import json

    from fastapi import FastAPI

    from app.requests.schemas import QueuePage

    page = QueuePage.model_validate(json.loads(Path(os.environ[PAGE_ENV]).read_text()))
    api = FastAPI()

    @api.get("/v1/staff/requests", response_model=QueuePage)
    async def queue_page():
        return page

    return api
