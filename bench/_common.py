"""What the HTTP benchmarks share: a fresh folder and environment for the service, starting a
server (`rightsdesk serve`, a bare uvicorn app, `rightsdesk worker`) in its own process group,
waiting for it, its CPU time from /proc, stopping it, driving it with wrk, and the machine line.
Used by bench/intake.py and bench/staff_queue.py, so that both measure the same way.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import socket
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a server: the process and every live process of its
    group (each server is started in a session of its own, so with `--workers N` that is
    uvicorn's supervisor and its N workers; Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pid:  # the process group (field 5 of stat) is the server's pid
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


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


def start(name: str, cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> Server:
    """Start `cmd` in a session of its own (so that stop() and cpu_seconds() reach its
    children too), its output in `log`."""
    port = int(cmd[cmd.index("--port") + 1]) if "--port" in cmd else 0
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


def start_service(rightsdesk: str, workers: int, env: dict[str, str], cwd: Path) -> Server:
    """`rightsdesk serve` on a free port of 127.0.0.1; its log is cwd/service.log."""
    cmd = [rightsdesk, "serve", "--host", HOST, "--port", str(free_port()),
           "--workers", str(workers)]  # fmt: skip
    return start("service", cmd, env, cwd, cwd / "service.log")


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

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_s / self.requests if self.requests else 0.0

    @property
    def worker_cpu_ms_per_request(self) -> float:
        return 1000 * self.worker_cpu_s / self.created if self.created else 0.0

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


def machine_line(info: dict[str, str], wrk: str) -> str:
    """`machine: …` with wrk's version, as the benchmarks print it first."""
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
    version = (done.stdout.splitlines() or ["wrk ?"])[0].strip()
    return (
        f"machine: {info['nproc']} cpus, {info['cpu']}, python {info['python']}, "
        f"load {info['loadavg']}; {version}"
    )
