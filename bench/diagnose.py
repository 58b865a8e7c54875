# ruff: noqa: S603, S108 - a benchmark runs its own tools (git, apt-get, wrk, hoctap, py-spy) and /tmp files
"""Where a request's time goes: one workload of the benchmarks under load, with the SQL each
worker ran and a sampling profile of the workers (py-spy --gil: the thread holding the GIL, so Python
CPU time, not waits).

    .venv/bin/python bench/diagnose.py {titles,title-check,healthz,writes-mixed,person,assessment}
        [--reuse] [--seconds 15] [--connections N] [--no-profile]

Starts `hoctap serve --workers 2` as the benchmarks do, with bench/sqltrace on its PYTHONPATH
(every SQLAlchemy statement's count and wall time, round trip included, per worker; nothing of
the app changes) and, unless --no-profile, py-spy recording each worker (installed into
/tmp/pyspy from PyPI when missing). Then wrk drives the workload and the script prints:
requests/s, statements and SQL wall time per request, the statements taking the most time, and
the share of the workers' samples spent under chosen parts of the stack (own code, SQLAlchemy
ORM, psycopg, pydantic, JWT, rate limits, the access log, ...) and in the busiest functions.
Numbers are under load on a shared machine: compare shares, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

PYSPY = Path("/tmp/pyspy/bin/py-spy")
# Parts of the stack whose inclusive share is reported (a sample counts once per part).
PARTS = [
    ("JWT (python-jose)", ("jose/",)),
    ("Argon2", ("argon2",)),
    ("national-id HMAC", ("national_id.py",)),
    ("rate limits (limits, redis client)", ("limits/", "redis/")),
    ("access log", ("access_log.py",)),
    ("principal loading (auth)", ("load_principal",)),
    ("jurisdiction", ("in_jurisdiction", "within", "visible_subject_unit")),
    ("criteria / rule engine", ("app/rules/", "app/criteria/")),
    ("audit log", ("app/audit/",)),
    ("count invalidation (stats)", ("invalidation.py",)),
    ("count rebuild jobs", ("stats/jobs.py", "summary.py", "huey/")),
    ("SQLAlchemy ORM", ("sqlalchemy/orm/",)),
    ("SQLAlchemy core / engine", ("sqlalchemy/engine/", "sqlalchemy/sql/", "sqlalchemy/pool/")),
    ("psycopg", ("psycopg/", "psycopg_binary/")),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("FastAPI dependencies / routing", ("fastapi/",)),
    ("Starlette / middleware", ("starlette/", "app/security/middleware.py", "app/logs.py", "app/security/client.py")),
    ("JSON logs", ("pythonjsonlogger", "logging/")),
    ("uvicorn / asyncio / anyio", ("uvicorn/", "asyncio/", "anyio/", "uvloop", "httptools")),
]


def ensure_pyspy() -> Path:
    if not PYSPY.exists():
        common.log("installing py-spy into /tmp/pyspy (PyPI)")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                "/tmp/pyspy",
                "py-spy",
            ],
            check=True,
        )
    return PYSPY


def sql_snapshot(folder: Path) -> dict[str, list[float]]:
    total: dict[str, list[float]] = {}
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for key, (count, seconds) in data.items():
            entry = total.setdefault(key, [0, 0.0])
            entry[0] += count
            entry[1] += seconds
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "workload", choices=["titles", "title-check", "healthz", "writes-mixed", "person", "assessment"]
    )
    parser.add_argument("--people", type=int, default=common.PEOPLE)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=None, help="default 32 (reads) or 1 writer")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()

    url = common.prepare(args.people, reuse=args.reuse)
    trace = Path(tempfile.mkdtemp(prefix="hoctap-sqltrace-"))
    prefix = f"hoctap-bench-diag-{int(time.time())}"
    env = common.rate_limit_env(prefix)
    env.update(
        {
            "HOCTAP_ACCESS_TOKEN_TTL_SECONDS": "3600",
            "HOCTAP_BENCH_SQLTRACE": str(trace),
            "PYTHONPATH": f"{common.CODE}:{common.BENCH / 'sqltrace'}",
        }
    )
    engine = common.engine(url)
    with engine.connect() as connection:
        first, last = common.synthetic_people_range(connection)
        villages = common.villages_by_commune(connection)
        communes = common.communes(connection)
    engine.dispose()
    writes = args.workload in ("writes-mixed", "person", "assessment")
    connections = args.connections or (1 if writes else 32)
    if writes:
        from sqlalchemy import text
        from writes import take_base

        code, unit_id = communes[0]
        common.ensure_account(url, f"bench_officer_{code}", "commune_officer", [code])
        engine = common.engine(url)
        with engine.connect() as connection:
            subjects = (
                connection.execute(
                    text(
                        "SELECT r.person_id FROM residences r JOIN administrative_units v ON v.id = r.unit_id "
                        "WHERE v.parent_id = :c AND r.person_id IS NOT NULL AND r.valid_to IS NULL "
                        "ORDER BY r.person_id "
                        "LIMIT 200"
                    ),
                    {"c": unit_id},
                )
                .scalars()
                .all()
            )
            this_year = int(
                connection.execute(text("SELECT extract(year FROM now() AT TIME ZONE 'Asia/Ho_Chi_Minh')")).scalar()
            )
        engine.dispose()
    else:
        common.ensure_account(url, "bench_portal", "portal_client", [common.PROVINCE])
    try:
        with common.Server(url, workers=2, extra_env=env) as server:
            if writes:
                token = common.token(server.base, f"bench_officer_{code}")
                path = trace / "writers.tsv"
                path.write_text(
                    "".join(
                        f"{token}\t{','.join(villages[code])}\t{','.join(map(str, subjects))}\n"
                        for _ in range(connections)
                    )
                )
                kind = {"writes-mixed": "mixed"}.get(args.workload, args.workload)
                base = take_base(url)
                script, wrk_env = (
                    "writes.lua",
                    {
                        "BENCH_WRITERS": str(path),
                        "BENCH_KIND": kind,
                        "BENCH_BASE": str(base),
                        "BENCH_THREADS": str(connections),
                        "BENCH_YEAR": str(this_year),
                    },
                )
                threads = connections
            else:
                script = {"titles": "titles.lua", "title-check": "titlecheck.lua", "healthz": "healthz.lua"}[
                    args.workload
                ]
                wrk_env = {
                    "BENCH_TOKEN": common.token(server.base, "bench_portal"),
                    "BENCH_FIRST_ID": str(first),
                    "BENCH_LAST_ID": str(last),
                    "BENCH_SPREAD": "1",
                }
                threads = 2
            wrk_env["BENCH_SEED"] = str(args.seed)
            common.run_wrk(
                "warm-up",
                server,
                "/healthz" if script == "healthz.lua" else "/",
                script,
                connections=connections,
                threads=threads,
                seconds=2,
                env={**wrk_env, "BENCH_BASE": str(take_base(url, 10**6))} if writes else wrk_env,
            )
            time.sleep(2.5)
            before = sql_snapshot(trace)
            spies = []
            if not args.no_profile:
                pyspy = ensure_pyspy()
                for pid in server.workers_pids():
                    out = trace / f"pyspy-{pid}.txt"
                    spies.append(
                        (
                            subprocess.Popen(
                                [
                                    str(pyspy),
                                    "record",
                                    "-p",
                                    str(pid),
                                    "-d",
                                    str(args.seconds),
                                    "-r",
                                    "100",
                                    "-f",
                                    "raw",
                                    "--gil",
                                    "--nonblocking",
                                    "-o",
                                    str(out),
                                ],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                            ),
                            out,
                        )
                    )
            if writes:
                wrk_env["BENCH_BASE"] = str(take_base(url, 10**6))
            result = common.run_wrk(
                args.workload,
                server,
                "/healthz" if script == "healthz.lua" else "/",
                script,
                connections=connections,
                threads=threads,
                seconds=args.seconds,
                env=wrk_env,
            )
            time.sleep(2.5)
            after = sql_snapshot(trace)
            for spy, _ in spies:
                spy.wait(timeout=60)
    finally:
        common.forget_rate_limits(prefix)

    requests = max(result.requests, 1)
    print()
    print(common.machine_line())
    print(
        f"code: {common.git_state()}; workload {args.workload}: {result.rate:.0f}/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, statuses {result.statuses}, {connections} connections"
    )
    print(common.load_line(result))
    diff = {}
    for key, (count, seconds) in after.items():
        old = before.get(key, [0, 0.0])
        if count - old[0]:
            diff[key] = (count - old[0], seconds - old[1])
    statements = sum(count for count, _ in diff.values())
    sql_ms = sum(seconds for _, seconds in diff.values()) * 1000
    print(
        f"\nSQL per request: {statements / requests:.1f} statements, {sql_ms / requests:.2f} ms wall "
        f"(includes waiting for PostgreSQL and for the CPU; background jobs' statements included)"
    )
    rows = [
        [
            f"{seconds * 1000 / requests:.2f} ms",
            f"{count / requests:.2f}",
            f"{seconds * 1000 / count:.2f} ms",
            "`" + key[:160].replace("|", "\\|") + "`",
        ]
        for key, (count, seconds) in sorted(diff.items(), key=lambda item: -item[1][1])[:12]
    ]
    print(common.table(["SQL ms / request", "calls / request", "ms / call", "statement"], rows))
    if spies:
        samples, parts, leaves = 0, Counter(), Counter()
        for _, out in spies:
            if not out.exists():
                continue
            for line in out.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if not count.isdigit():
                    continue
                n = int(count)
                samples += n
                frames = stack.split(";")
                for name, needles in PARTS:
                    if any(needle in frame for frame in frames for needle in needles):
                        parts[name] += n
                leaves[frames[-1][:140]] += n
        print(
            f"\npy-spy --gil: {samples} samples of the thread holding the GIL (100 Hz per worker), i.e. where the "
            "workers' Python CPU goes; share under each part (a sample may count under several):"
        )
        print(
            common.table(
                ["part of the stack", "share of samples"],
                [[name, f"{parts[name] / max(samples, 1):.0%}"] for name, _ in PARTS if parts[name]],
            )
        )
        print("\nbusiest functions (own time):")
        print(
            common.table(
                ["function", "share"],
                [[f"`{leaf}`", f"{n / max(samples, 1):.1%}"] for leaf, n in leaves.most_common(15)],
            )
        )
    shutil.rmtree(trace, ignore_errors=True)


if __name__ == "__main__":
    main()
