# ruff: noqa: S603, S607, S108 - a benchmark runs its own tools (git, apt-get, wrk, hoctap, py-spy) and /tmp files
"""Shared set-up of the throughput benchmarks (bench/lookups.py, bench/writes.py,
bench/soak.py, bench/progress.py).

    .venv/bin/python bench/common.py prepare [--people 1000000] [--reuse]

- `prepare`: a fresh PostgreSQL database `hoctap_bench` on the server of
  HOCTAP_BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test):
  migrated, seeded, 1,000,000 synthetic people over Hà Nội's communes (the seeded generator of
  `hoctap seed synthetic`, random seed 2025), VACUUM ANALYZE. The database is labelled (a
  COMMENT) with what it holds, so `--reuse` skips the minutes of generation when the label
  matches and only migrates to head.
- `Server`: `.venv/bin/hoctap serve --workers 2` as a real subprocess on a free loopback port
  with the benchmark's HOCTAP_* environment; waits for /healthz; reports the CPU time and
  RSS of its processes (/proc); stopped afterwards.
- accounts through the CLI (`hoctap users create ... --password-stdin`) and tokens through
  `POST /api/v1/auth/token`;
- `run_wrk`: runs wrk with a Lua script of bench/ and returns rate, percentiles, status counts
  and the CPU wrk itself used (from wait4), so every report can show the load generator was not
  the bottleneck;
- `CpuMeter`: CPU seconds of the server's processes, of PostgreSQL's and of the whole machine
  (/proc/stat) over a measurement.

Everything random is seeded: two runs on the same data send the same requests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
HOCTAP = ROOT / ".venv" / "bin" / "hoctap"


def _code_root() -> Path:
    """The code measured: the working tree, or with HOCTAP_BENCH_CODE=<git revision> a clean
    copy of that revision (`git archive`, into /tmp), so a benchmark can measure a commit
    while the working tree is being edited. The server, the CLI and this process's own
    imports of `app` all come from it (PYTHONPATH wins over the editable install's finder)."""
    revision = os.environ.get("HOCTAP_BENCH_CODE")
    if not revision:
        return ROOT
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", revision + "^{commit}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    target = Path(f"/tmp/hoctap-bench-code-{sha[:12]}")
    if not (target / ".complete").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        (target / ".complete").write_text(sha)
    return target


CODE = _code_root()
sys.path.insert(0, str(CODE))

from app import clock  # noqa: E402 - from the code measured

DATABASE = "hoctap_bench"
PEOPLE = 1_000_000
PROVINCE = "01"  # Hà Nội
YEAR = 2025  # the year the synthetic recognitions are for
SEED = 2025  # random seed of the generator
PASSWORD = "bench-password-not-secret-0001"  # noqa: S105 - accounts of a throwaway database
TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the database -----------------------------------------------------------------------------


def server_url():
    return make_url(os.environ.get("HOCTAP_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))


def bench_url() -> str:
    return server_url().set(database=DATABASE).render_as_string(hide_password=False)


def _label(people: int, province: str) -> str:
    """What the database holds: the generator's parameters and the migrations it was made
    with (a changed migration means generating again)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((CODE / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return (
        f"hoctap-bench people={people} province={province} year={YEAR} seed={SEED} migrations={digest.hexdigest()[:12]}"
    )


def _current_label(admin) -> str | None:
    with admin.connect() as connection:
        return connection.execute(
            text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :name"),
            {"name": DATABASE},
        ).scalar()


def prepare(people: int = PEOPLE, province: str = PROVINCE, reuse: bool = False) -> str:
    """Make `hoctap_bench` hold `people` synthetic people (or reuse it when it already does);
    returns its URL."""
    from app.migrate import upgrade

    url = bench_url()
    label = _label(people, province)
    admin = create_engine(server_url(), isolation_level="AUTOCOMMIT")
    try:
        if reuse and _current_label(admin) == label:
            log(f"reusing {DATABASE} ({label}); migrating to head")
            upgrade(url)
            return url
        if reuse:
            log(f"{DATABASE} does not hold '{label}': generating it")
        from app import clock
        from app.database import create_db_engine, create_session_factory
        from app.seeding import load_builtin_seed
        from app.stats.synthetic import generate

        started = time.perf_counter()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        upgrade(url)
        clock.configure("Asia/Ho_Chi_Minh")
        engine = create_db_engine(url)
        with create_session_factory(engine)() as session:
            load_builtin_seed(session)
            log(generate(session, province, people, YEAR, SEED))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"COMMENT ON DATABASE \"{DATABASE}\" IS '{label}'"))
        log(f"{DATABASE} ready in {time.perf_counter() - started:.0f} s")
        return url
    finally:
        admin.dispose()


def drop() -> None:
    admin = create_engine(server_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    admin.dispose()


def engine(url: str | None = None):
    from app.database import create_db_engine

    return create_db_engine(url or bench_url())


def communes(connection, province: str = PROVINCE) -> list[tuple[str, int]]:
    """(code, id) of the province's communes in force, in code order."""
    return [
        tuple(row)
        for row in connection.execute(
            text(
                "SELECT u.code, u.id FROM administrative_units u JOIN administrative_units p ON p.id = u.parent_id "
                "WHERE p.code = :province AND p.level = 'province' AND u.level = 'commune' AND u.valid_to IS NULL "
                "ORDER BY u.code"
            ),
            {"province": province},
        )
    ]


def villages_by_commune(connection, province: str = PROVINCE) -> dict[str, list[str]]:
    """{commune code: [village codes in force]}, both in code order."""
    found: dict[str, list[str]] = {}
    for commune, village in connection.execute(
        text(
            "SELECT c.code, v.code FROM administrative_units v JOIN administrative_units c ON c.id = v.parent_id "
            "JOIN administrative_units p ON p.id = c.parent_id WHERE p.code = :province AND p.level = 'province' "
            "AND c.level = 'commune' AND c.valid_to IS NULL AND v.level = 'village' AND v.valid_to IS NULL "
            "ORDER BY c.code, v.code"
        ),
        {"province": province},
    ):
        found.setdefault(commune, []).append(village)
    return found


def synthetic_people_range(connection) -> tuple[int, int]:
    """(first, last) id of the generated people (contiguous: the generator assigns them; the
    benchmarks' own writes all carry a national id)."""
    first, last = connection.execute(text("SELECT min(id), max(id) FROM people WHERE national_id_hmac IS NULL")).one()
    return int(first), int(last)


# --- accounts ---------------------------------------------------------------------------------


def ensure_account(url: str, username: str, role: str, units: list[str] = ()) -> None:
    """Create the account with the CLI unless it exists (same password for all)."""
    check = create_engine(make_url(url))
    with check.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first()
    check.dispose()
    if exists:
        return
    command = [
        str(HOCTAP),
        "users",
        "create",
        "--username",
        username,
        "--full-name",
        f"Bench {username}",
        "--role",
        role,
        "--password-stdin",
    ]
    for unit in units:
        command += ["--unit", unit]
    result = subprocess.run(
        command, input=PASSWORD + "\n", capture_output=True, text=True, env=_env(url), cwd=CODE, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"could not create {username}: {result.stderr.strip()[-500:]}")


def token(base: str, username: str) -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
        timeout=60,
    )
    response.raise_for_status()
    return response.json()["access_token"]


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOCTAP_") or k.startswith("HOCTAP_BENCH_")}
    env["PYTHONPATH"] = str(CODE) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(
        {
            "HOCTAP_DATABASE_URL": url,
            "HOCTAP_ENVIRONMENT": "development",
            "HOCTAP_LOG_LEVEL": "WARNING",
            "HOCTAP_LOG_JSON": "true",
        }
    )
    env.update(extra or {})
    return env


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the thread (or process) ended meanwhile
            continue
    return found


def process_tree(pid: int) -> list[int]:
    """pid and every descendant."""
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for parent in frontier for child in _children(parent)]
        tree += frontier
    return tree


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (all its threads), in seconds; 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def postgres_pids() -> list[int]:
    """PostgreSQL's processes working for the benchmark: the backends connected to
    hoctap_bench and the server's own background processes (checkpointer, WAL writer, ...);
    backends of other databases on a shared server are left out."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() not in ("postgres", "postmaster"):
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # Backends are titled "postgres: 15/main: USER DATABASE HOST(PORT) STATE".
        words = title.split()
        is_backend = len(words) >= 5 and "(" in words[4]
        if not is_backend or words[3] == DATABASE:
            pids.append(int(entry.name))
    return pids


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class Server:
    """`hoctap serve --workers N` on a free loopback port, as a subprocess."""

    def __init__(
        self, url: str, workers: int = 2, extra_env: dict[str, str] | None = None, log_path: Path | None = None
    ):
        self.url = url
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.extra_env = extra_env or {}
        self.log_path = log_path or Path(f"/tmp/hoctap-bench-server-{self.port}.log")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        command = [
            str(HOCTAP),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command,
            env=_env(self.url, self.extra_env),
            cwd=CODE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log_path}")
            try:
                if (
                    httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200
                    and len(self.workers_pids()) >= self.workers
                ):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"server did not answer /healthz; see {self.log_path}")
        # Every worker answers (each loads the app on its own).
        for _ in range(self.workers * 8):
            httpx.get(f"{self.base}/healthz", timeout=10)
        log(f"server up at {self.base}: master {self.process.pid}, workers {self.workers_pids()}")
        return self

    def pids(self) -> list[int]:
        return process_tree(self.process.pid) if self.process else []

    def workers_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the master running the app; with one
        worker uvicorn serves in the master itself)."""
        if not self.process:
            return []
        if self.workers == 1:
            return [self.process.pid]
        workers = []
        for pid in _children(self.process.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"multiprocessing.resource_tracker" not in cmdline:
                workers.append(pid)
        return workers

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def rss(self) -> dict[int, float]:
        return {pid: rss_mib(pid) for pid in self.workers_pids()}

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


@dataclass
class CpuMeter:
    """CPU seconds used over a measurement by the server, PostgreSQL, and the whole machine."""

    server: Server
    start: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)

    def __enter__(self) -> CpuMeter:
        self.start = self._read()
        return self

    def _read(self) -> dict:
        busy, total = machine_ticks()
        return {
            "wall": time.monotonic(),
            "server": self.server.cpu(),
            "postgres": {pid: cpu_seconds(pid) for pid in postgres_pids()},
            "busy": busy,
            "total": total,
        }

    def __exit__(self, *exc) -> None:
        end = self._read()
        wall = end["wall"] - self.start["wall"]
        postgres = sum(seconds - self.start["postgres"].get(pid, 0.0) for pid, seconds in end["postgres"].items())
        busy = (end["busy"] - self.start["busy"]) / max(1, end["total"] - self.start["total"])
        self.result = {
            "wall": wall,
            "server_cores": (end["server"] - self.start["server"]) / wall,
            "postgres_cores": postgres / wall,
            "machine_busy": busy,
            "machine_cores": busy * (os.cpu_count() or 1),
        }


def rate_limit_env(prefix: str, spread: bool = True) -> dict[str, str]:
    """Server settings for benchmarks that call the public title check: every limit at the
    maximum its setting allows, counters in Redis (shared by the workers, as the README says
    for HOCTAP_WORKERS > 1) under a prefix of this run, and, with `spread`, 127.0.0.1 trusted as
    a reverse proxy so that each request's X-Forwarded-For names the client network: public
    traffic comes from many networks, and one address cannot pass 10,000 checks a minute even
    at the maximum settings."""
    env = {
        "HOCTAP_TITLE_CHECK_PER_ADDRESS_PER_MINUTE": "10000",
        "HOCTAP_TITLE_CHECK_PER_ADDRESS_PER_DAY": "1000000",
        "HOCTAP_TITLE_CHECK_PER_ID_PER_NETWORK_PER_DAY": "10000",
        "HOCTAP_RATE_LIMIT_STORAGE_URL": os.environ.get("HOCTAP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "HOCTAP_RATE_LIMIT_KEY_PREFIX": prefix,
    }
    if spread:
        env["HOCTAP_TRUSTED_PROXIES"] = '["127.0.0.1"]'
    return env


def forget_rate_limits(prefix: str) -> None:
    """Delete the run's counters from Redis (only keys under the run's own prefix)."""
    import redis

    client = redis.Redis.from_url(os.environ.get("HOCTAP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    batch = []
    for key in client.scan_iter(match=f"*{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            client.delete(*batch)
            batch = []
    if batch:
        client.delete(*batch)
    client.close()


def wait_quiet(server: Server, limit: float = 120.0, idle_cores: float = 0.05) -> float:
    """Wait until the server's processes use less than `idle_cores` over a second (background
    rebuild jobs finished), at most `limit` seconds; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = server.cpu()
        time.sleep(1.0)
        if server.cpu() - before < idle_cores:
            break
    return time.monotonic() - started


def build_counts(url: str, years: list[int], province: str = PROVINCE) -> None:
    """`hoctap stats build --province P --year Y` for each year: the pre-built counts a
    deployment holds all day (the nightly build, the sweep and reads keep them up to date)."""
    for year in years:
        started = time.perf_counter()
        result = subprocess.run(
            [str(HOCTAP), "stats", "build", "--province", province, "--year", str(year)],
            env=_env(url),
            cwd=CODE,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"hoctap stats build failed: {result.stderr[-1000:]}")
        log(f"hoctap stats build --year {year}: {result.stdout.strip()} ({time.perf_counter() - started:.1f} s)")


def git_state() -> str:
    """The code measured: a revision's clean copy, or HEAD and how many files differ from it."""
    if CODE != ROOT:
        revision = os.environ["HOCTAP_BENCH_CODE"]
        return f"{(CODE / '.complete').read_text()[:7]} (clean copy of HOCTAP_BENCH_CODE={revision})"
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    except OSError:
        return "?"
    changed = [line for line in dirty.splitlines() if line.strip() and not line[3:].startswith("bench/")]
    return f"{head.strip()}" + (f" + {len(changed)} uncommitted files outside bench/" if changed else "")


# --- wrk --------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk from Debian's package, installed when missing (nothing else is downloaded)."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: apt-get install -y wrk")
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        subprocess.run(["apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed (apt-get install -y wrk)")
    return found


@dataclass
class WrkResult:
    label: str
    requests: int
    seconds: float
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    wrk_cores: float
    threads: int
    connections: int
    cpu: dict

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if status.startswith("2"))

    @property
    def not_ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if not status.startswith("2")) + sum(
            self.socket_errors.values()
        )


def run_wrk(
    label: str,
    server: Server,
    path: str,
    script: str,
    *,
    connections: int,
    threads: int,
    seconds: int,
    env: dict[str, str] | None = None,
    timeout: int = 10,
) -> WrkResult:
    """Run wrk against `server` with bench/<script>.lua (which reports JSON in done())."""
    wrk = ensure_wrk()
    command = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        f"{timeout}s",
        "-s",
        str(BENCH / script),
        server.base + path,
    ]
    run_env = dict(os.environ)
    run_env.update(env or {})
    with CpuMeter(server) as meter:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=run_env, cwd=BENCH)
        output = process.stdout.read().decode()
        errors = process.stderr.read().decode()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {errors}{output}")
    match = re.search(r"^BENCH_JSON (.*)$", output, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk script printed no result: {output}{errors}")
    data = json.loads(match.group(1))
    wall = meter.result["wall"]
    return WrkResult(
        label=label,
        requests=data["requests"],
        seconds=data["seconds"],
        rate=data["requests"] / data["seconds"],
        p50_ms=data["p50"] / 1000,
        p90_ms=data["p90"] / 1000,
        p99_ms=data["p99"] / 1000,
        max_ms=data["max"] / 1000,
        statuses={str(k): v for k, v in data["statuses"].items()},
        socket_errors={k: v for k, v in data["errors"].items() if v},
        wrk_cores=(usage.ru_utime + usage.ru_stime) / wall,
        threads=threads,
        connections=connections,
        cpu=meter.result,
    )


# --- reporting --------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    try:
        check = create_engine(server_url())
        with check.connect() as connection:
            postgres = connection.execute(text("SHOW server_version")).scalar()
        check.dispose()
    except Exception:
        postgres = "?"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "ram": f"{memory / 1024 / 1024:.0f} GiB",
        "postgres": postgres,
        "python": platform.python_version(),
        "date": clock.today().isoformat(),  # the date in Vietnam, as everywhere
        "kernel": platform.release(),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"machine: {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM, PostgreSQL {m['postgres']}, "
        f"Python {m['python']}, Linux {m['kernel']}, {m['date']}"
    )


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def load_line(result: WrkResult) -> str:
    cpu = result.cpu
    return (
        f"{result.label}: wrk {result.threads} threads / {result.connections} connections used "
        f"{result.wrk_cores:.2f} cores; server (master + workers) {cpu['server_cores']:.2f} cores; "
        f"PostgreSQL (hoctap_bench) {cpu['postgres_cores']:.2f} cores; "
        f"machine busy {cpu['machine_busy'] * 100:.0f}% of "
        f"{os.cpu_count()} cores, of which other processes {others(result):.2f} cores"
    )


def others(result: WrkResult) -> float:
    """Cores used meanwhile by processes outside the benchmark (others' tests on a shared machine)."""
    cpu = result.cpu
    return max(0.0, cpu["machine_cores"] - cpu["server_cores"] - cpu["postgres_cores"] - result.wrk_cores)


def load_row(label: str, r: WrkResult) -> list[str]:
    cpu = r.cpu
    return [
        label,
        f"{r.wrk_cores:.2f}",
        f"{cpu['server_cores']:.2f}",
        f"{cpu['postgres_cores']:.2f}",
        f"{others(r):.2f}",
        f"{cpu['machine_busy'] * 100:.0f}%",
        f"{cpu['server_cores'] / max(r.rate, 1) * 1000:.2f} ms",
        f"{cpu['postgres_cores'] / max(r.rate, 1) * 1000:.2f} ms",
    ]


LOAD_HEADER = [
    "run",
    "wrk cores",
    "server cores",
    "PostgreSQL cores",
    "other processes cores",
    "machine busy",
    "server CPU / request",
    "PostgreSQL CPU / request",
]


def main() -> None:
    parser = argparse.ArgumentParser(description="Shared set-up of the benchmarks: the 1M-people database.")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="create (or with --reuse keep) the hoctap_bench database")
    prep.add_argument("--people", type=int, default=PEOPLE)
    prep.add_argument("--province", default=PROVINCE)
    prep.add_argument("--reuse", action="store_true", help="keep hoctap_bench when it already holds this data")
    sub.add_parser("drop", help="drop the hoctap_bench database")
    sub.add_parser("machine", help="print the machine line")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.people, args.province, args.reuse)
    elif args.command == "drop":
        drop()
    else:
        print(machine_line())


if __name__ == "__main__":
    main()
