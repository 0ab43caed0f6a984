"""What the HTTP benchmarks share: a fresh folder and environment for the service, starting a
server (`rightsdesk serve`, a bare uvicorn app, `rightsdesk worker`) in its own process group
(optionally pinned to some cores), waiting for it, its CPU time and memory from /proc, stopping
it, the service's database (emptying a PostgreSQL bench database, counting what was filed, the
access record's check), driving it with wrk, and the machine line. Used by bench/intake.py,
bench/staff_queue.py and bench/soak.py, so that they measure the same way.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"  # the only address these benchmarks ever send to
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


class Fatal(Exception):
    """Stop the run with this message and exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# --- tools, folder, environment ------------------------------------------------------------


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise Fatal("wrk not found: install it with `apt-get install wrk` (Debian's package)")
    return wrk


def find_rightsdesk(given: str | None = None) -> str:
    """The `rightsdesk` command: `given`, else the one next to this python, else on PATH."""
    rightsdesk = given or str(Path(sys.executable).parent / "rightsdesk")
    if not Path(rightsdesk).exists():
        rightsdesk = shutil.which("rightsdesk") or ""
    if not rightsdesk:
        raise Fatal("the `rightsdesk` command was not found: `make install` first")
    return rightsdesk


def run_folder(prefix: str) -> Path:
    """A fresh folder for one run (database, notices, logs) under the project's var/, where
    `make run` keeps its own: on these machines /tmp sits on a much slower path for file
    creation (0.5 ms against 0.03 ms per file), which would measure the folder rather than
    the service."""
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=var))


def service_env(**settings: str) -> dict[str, str]:
    """This process's environment without any RIGHTSDESK_* variable (so the service's
    defaults apply), unbuffered output, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSDESK_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


# --- processes ------------------------------------------------------------------------------


def _group_stats(pgid: int) -> list[tuple[int, list[str]]]:
    """(pid, the fields of /proc/PID/stat after the command's name) of every live process of
    process group `pgid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # the process group (field 5 of stat)
            found.append((int(stat.parent.name), fields))
    return found


def add_database_and_delivery(p, *, database: str, delivery_reported: str) -> None:
    """The `--database-url` and `--delivery` flags, alike in every benchmark that starts the
    service: `database` names the example database, `delivery_reported` what the benchmark
    reports of the delivery worker."""
    p.add_argument("--database-url", metavar="URL",
                   help=f"PostgreSQL for the service (postgresql+psycopg://…/{database}; the "
                   "name must contain 'bench': its schema is emptied first); default a fresh "
                   "SQLite file")  # fmt: skip
    p.add_argument("--delivery", choices=("background", "worker"), default="background",
                   help="who delivers the notices: a thread of the API process (background, "
                   "the development default) or a `rightsdesk worker` process (the production "
                   f"shape: the API runs with RIGHTSDESK_DELIVERY=off); {delivery_reported}")  # fmt: skip


def bench_database(url: str | None, folder: Path, filename: str) -> tuple[str, str]:
    """The service's database for a run: PostgreSQL at `url`, emptied first (reset_postgres),
    or a fresh SQLite file in `folder`. Returns what db_counts and friends take (the URL, or
    the file's path) and the service's RIGHTSDESK_DATABASE_URL."""
    if url:
        reset_postgres(url)
        return url, url
    path = str(folder / filename)
    return path, f"sqlite:///{path}"


def postgres_cpu_seconds() -> float:
    """User + system CPU time so far of every PostgreSQL server process on this machine (Linux
    /proc, by command name). The server is shared: whatever else it serves meanwhile counts
    too, and a backend that exits during a run takes its time with it (the service's pooled
    connections stay)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition("(")[2].rpartition(")")
        if name.startswith("postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(stolen, all) CPU time of the whole machine so far, in clock ticks (/proc/stat's first
    line). Stolen: time the hypervisor gave to another guest while this VM wanted a CPU; on a
    shared VM it comes in bursts, and every latency in them grows."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return fields[7], sum(fields)


def stolen_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of the machine's CPU time stolen between two machine_ticks() readings."""
    return (after[0] - before[0]) / max(after[1] - before[1], 1)


# PostgreSQL's writes and reads since its statistics were reset: buffers written at
# checkpoints, by the background writer and by backends themselves (a backend that must write
# a dirty buffer out before it can use one: the working set outgrew shared_buffers), and
# blocks this database read from outside shared_buffers.
_PG_IO = (
    "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint, buffers_clean, "
    "buffers_backend, (SELECT blks_read FROM pg_stat_database WHERE datname = "
    "current_database()) FROM pg_stat_bgwriter"
)
PG_IO_NAMES = ("checkpoints", "written_checkpoint", "written_bgwriter", "written_backend", "read")


def postgres_io(url: str) -> dict[str, int]:
    """PostgreSQL's counters of PG_IO_NAMES so far (subtract two readings for a minute's)."""
    import psycopg

    with psycopg.connect(libpq_url(url), connect_timeout=10) as conn:
        row = conn.execute(_PG_IO).fetchone()
    return dict(zip(PG_IO_NAMES, (int(v or 0) for v in row), strict=True))


def group_pids(pgid: int) -> list[int]:
    """The live processes of a server's group (each server is started in a session of its own,
    so with `--workers N` that is uvicorn's supervisor and its N workers), in pid order."""
    return sorted(pid for pid, _ in _group_stats(pgid))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a server: the process and every live process of its
    group (each server is started in a session of its own, so with `--workers N` that is
    uvicorn's supervisor and its N workers; Linux /proc)."""
    total = sum(int(fields[11]) + int(fields[12]) for _, fields in _group_stats(pid))
    return total / os.sysconf("SC_CLK_TCK")


def _status_field(pid: int, name: str) -> str | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def rss_kib(pid: int) -> int:
    """Resident memory (VmRSS, KiB) of a server: the sum over the live processes of its group,
    as cpu_seconds() counts them (pages two processes share are counted twice)."""
    total = 0
    for p in group_pids(pid):
        value = _status_field(p, "VmRSS")  # "123456 kB"; absent for a zombie
        if value:
            total += int(value.split()[0])
    return total


def cpus_allowed(pid: int) -> str:
    """The cores a process may run on, as the kernel lists them (`0`, `0-1`, `0,2`)."""
    return _status_field(pid, "Cpus_allowed_list") or "?"


def cpu_list(cpus: set[int] | list[int]) -> str:
    """Cores as taskset's -c takes them: `0,1`."""
    return ",".join(str(c) for c in sorted(cpus))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int  # 0 for a process that does not listen (`rightsdesk worker`)
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


def clean_up(servers: list[Server], folder: Path, keep: bool, indent: str = "") -> None:
    """Stop the servers, the last started first, then delete the run's folder (unless `keep`:
    then say where it is)."""
    for server in reversed(servers):
        server.stop()
    if keep:
        print(f"{indent}kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def start(
    name: str,
    cmd: list[str],
    env: dict[str, str],
    cwd: Path,
    log: Path,
    cpus: set[int] | None = None,
) -> Server:
    """Start `cmd` in a session of its own (so that stop() and cpu_seconds() reach its
    children too), its output in `log`. With `cpus`, under `taskset -c` on those cores (its
    children, uvicorn's workers, inherit them)."""
    port = int(cmd[cmd.index("--port") + 1]) if "--port" in cmd else 0
    if cpus:
        taskset = shutil.which("taskset")
        if taskset is None:
            raise Fatal("taskset not found: install it with `apt-get install util-linux`")
        cmd = [taskset, "-c", cpu_list(cpus), *cmd]  # taskset execs cmd: the same pid
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


def start_service(
    rightsdesk: str, workers: int, env: dict[str, str], cwd: Path, cpus: set[int] | None = None
) -> Server:
    """`rightsdesk serve` on a free port of 127.0.0.1 (on `cpus`, if given); its log is
    cwd/service.log."""
    cmd = [rightsdesk, "serve", "--host", HOST, "--port", str(free_port()),
           "--workers", str(workers)]  # fmt: skip
    return start("service", cmd, env, cwd, cwd / "service.log", cpus)


def start_bare(factory: str, workers: int, env: dict[str, str], cwd: Path) -> Server:
    """A bare app, `module:factory` of a file in bench/, under uvicorn with the service's
    settings (its workers, no access log, no proxy headers; uvloop and httptools, uvicorn's
    choice when they are installed); its log is cwd/bare.log."""
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(BENCH_DIR), factory,
           "--host", HOST, "--port", str(free_port()), "--workers", str(workers),
           "--no-access-log", "--log-level", "warning", "--no-proxy-headers"]  # fmt: skip
    return start("bare", cmd, env, cwd, cwd / "bare.log")


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


def wait_http(
    server: Server,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    expect: int = 200,
    timeout: float = 90.0,
) -> None:
    """Poll until `path` answers `expect` (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise Fatal(f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            status, _ = http(server, path, method=method, body=body, headers=headers, timeout=5)
            if status == expect:
                return
            last = f"status {status}"
        except (urllib.error.URLError, OSError) as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise Fatal(f"{server.name} not ready after {timeout:.0f} s ({last}):\n{server.log_tail()}")


# --- the service's database and access record ---------------------------------------------


_COUNTS = (
    "SELECT count(*) FROM request",
    "SELECT state, count(*) FROM outbox_message GROUP BY state",
    "SELECT count(*) FROM audit_entry",
)


def db_counts(db: str) -> dict[str, object]:
    """Read-only look at the service's database (a SQLite file, or a PostgreSQL URL): requests
    filed, outbox states, access-record entries."""
    if db.startswith("postgresql"):
        import psycopg

        try:
            with psycopg.connect(libpq_url(db), connect_timeout=10) as conn:
                requests = conn.execute(_COUNTS[0]).fetchone()[0]
                outbox = dict(conn.execute(_COUNTS[1]).fetchall())
                audit = conn.execute(_COUNTS[2]).fetchone()[0]
        except psycopg.Error as exc:
            return {"error": type(exc).__name__}
        return {"requests": requests, "outbox": outbox, "audit_entries": audit}
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return {"error": str(exc)}
    try:
        requests = conn.execute(_COUNTS[0]).fetchone()[0]
        outbox = dict(conn.execute(_COUNTS[1]))
        audit = conn.execute(_COUNTS[2]).fetchone()[0]
        return {"requests": requests, "outbox": outbox, "audit_entries": audit}
    except sqlite3.Error as exc:
        return {"error": str(exc)}
    finally:
        conn.close()


def libpq_url(url: str) -> str:
    """postgresql+psycopg://… (SQLAlchemy's form) as libpq takes it."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def reset_postgres(url: str) -> None:
    """Empty the benchmark's PostgreSQL database (its public schema), so the service migrates
    a fresh one. Only a database whose name holds `bench`: never a test or a real database."""
    import psycopg

    name = url.rsplit("/", 1)[-1].split("?", 1)[0]
    if "bench" not in name:
        raise Fatal(
            f"--database-url: the database name must contain 'bench' (it is emptied): {name!r}"
        )
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=10, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")
    except psycopg.Error as exc:
        raise Fatal(f"cannot reset {name}: {type(exc).__name__}: {exc}") from exc


def audit_verify(
    rightsdesk: str, env: dict[str, str], cwd: Path, timeout: float = 300
) -> tuple[bool, str]:
    """`rightsdesk audit verify` against the service's database: (the chain verifies, the JSON
    line it printed)."""
    try:
        done = subprocess.run(
            [rightsdesk, "audit", "verify"],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f} s"
    text = (done.stdout.strip().splitlines() or [done.stderr.strip()])[-1]
    try:
        ok = bool(json.loads(text).get("ok")) and done.returncode == 0
    except (json.JSONDecodeError, AttributeError):
        ok = False
    return ok, text


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    requests: int
    # Named after the BENCH line of the Lua scripts: `created` counts the answers with the
    # expected status (201 for post.lua, 200 for get.lua), `non201` every other one.
    created: int
    non201: int
    statuses: str
    socket_errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    seconds: float
    raw: str = field(repr=False)
    cpu_s: float = 0.0  # CPU time (user + system) the server used during the run
    # CPU of a helper process the run also drove (intake's `--delivery worker`: the
    # `rightsdesk worker`, from the run's start until it has delivered this run's notices).
    worker_cpu_s: float = 0.0
    # CPU of the PostgreSQL server's processes over the same span (intake on PostgreSQL).
    db_cpu_s: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_s / self.requests if self.requests else 0.0

    @property
    def worker_cpu_ms_per_request(self) -> float:
        return 1000 * self.worker_cpu_s / self.created if self.created else 0.0

    @property
    def db_cpu_ms_per_request(self) -> float:
        return 1000 * self.db_cpu_s / self.created if self.created else 0.0

    @property
    def cpu_share(self) -> float:
        """How much of one core the server used while wrk ran."""
        return self.cpu_s / self.seconds

    @property
    def errors(self) -> int:
        return self.non201 + sum(self.socket_errors.values())


def parse_wrk(output: str) -> WrkResult:
    """wrk's summary: requests/s from its own text, the rest from the BENCH line that the
    Lua script's done() prints (exact microseconds, and the count of unexpected answers)."""
    m = re.search(r"^BENCH (.*)$", output, re.M)
    if not m:
        raise Fatal(f"wrk printed no BENCH line:\n{output[-2000:]}", 1)
    kv = dict(item.split("=", 1) for item in m.group(1).split())
    rps_m = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    seconds = max(int(kv["duration_us"]) / 1e6, 1e-9)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        rps=float(rps_m.group(1)) if rps_m else int(kv["requests"]) / seconds,
        requests=int(kv["requests"]),
        created=int(kv["created"]),
        # wrk's own count covers >= 400 only; the script's covers anything but the expected.
        non201=max(int(kv["non201"]), int(non2xx.group(1)) if non2xx else 0),
        statuses=kv["statuses"],
        socket_errors={k: int(kv[k]) for k in ("connect", "read", "write", "timeout")},
        p50_ms=int(kv["p50_us"]) / 1e3,
        p90_ms=int(kv["p90_us"]) / 1e3,
        p99_ms=int(kv["p99_us"]) / 1e3,
        max_ms=int(kv["max_us"]) / 1e3,
        seconds=seconds,
        raw=output,
    )


def wrk_cmd(
    wrk: str,
    url: str,
    *,
    lua: Path,
    script_args: list[str],
    connections: int,
    duration: float,
    threads: int = 1,
    timeout: float = 10,
) -> list[str]:
    return [
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


def run_wrk(wrk: str, url: str, **options) -> WrkResult:
    """One wrk run (the options of wrk_cmd), bounded in time."""
    duration = options["duration"]
    try:
        done = subprocess.run(
            wrk_cmd(wrk, url, **options), capture_output=True, text=True, timeout=duration + 60
        )
    except subprocess.TimeoutExpired as exc:
        raise Fatal(f"wrk did not finish within {duration + 60:.0f} s", 1) from exc
    if done.returncode != 0:
        raise Fatal(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}", 1)
    return parse_wrk(done.stdout)


# --- the machine ----------------------------------------------------------------------------


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


def machine_line(info: dict[str, str], wrk: str | None = None) -> str:
    """`machine: …` (with wrk's version when the run uses wrk), as the benchmarks print it
    first."""
    line = (
        f"machine: {info['nproc']} cpus, {info['cpu']}, python {info['python']}, "
        f"load {info['loadavg']}"
    )
    if wrk is None:
        return line
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
    version = (done.stdout.splitlines() or ["wrk ?"])[0].strip()
    return f"{line}; {version}"
