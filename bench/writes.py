"""Benchmark: registry writes under load on PostgreSQL with 1,000,000 synthetic people.

    .venv/bin/python bench/writes.py [--reuse] [--seconds 20] [--kinds mixed,person,assessment]

Prepares `hoctap_bench` (bench/common.py), pre-builds the progress counts of Hà Nội for 2025
and the current year (as the nightly `hoctap stats build` leaves a deployment, so every write
queues the rebuild of what it touched, as in production; `--no-built` skips it), creates one
commune officer per commune (CLI), starts `hoctap serve --workers 2`, and drives it with wrk
(one wrk thread per writer, writer i on connection i):

- (a) 32 writers in 32 different communes of Hà Nội (a seeded sample), each an officer of its
  commune writing in its commune's villages;
- (b) 8 writers in one commune (the first of the sample), all with that commune's officer;
- (c) one sequential writer (one connection, one request at a time) in that commune.

Writes are `POST /api/v1/people` (a new person with a unique national id in a random village
of the commune) and `POST /api/v1/assessments` (a new UUID, Công dân học tập of a random
person living in the commune, period = this year, 10 scores, submitted). `mixed` alternates the
two per writer; `person` and `assessment` run each alone. Every answer must be 201; others are
counted. Between runs the benchmark waits until the server is idle (background rebuilds done).

Goals: ≥ 300 writes/s in all for 32 communes, ≥ 50/s in one commune, p99 ≤ 100 ms, one
sequential write ≤ 20 ms median.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

GOAL_32 = 300.0
GOAL_1 = 50.0
GOAL_P99_MS = 100.0
GOAL_SEQUENTIAL_MS = 20.0
SUBJECTS_PER_COMMUNE = 200


def take_base(url: str, amount: int | None = None) -> int:
    """The first unused index of the writers' unique numbers (kept in a table of the benchmark
    database, so reruns on a reused database never repeat a national id or a UUID)."""
    engine = common.engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE IF NOT EXISTS bench_counters (name text PRIMARY KEY, next bigint NOT NULL)")
        )
        connection.execute(text("INSERT INTO bench_counters VALUES ('writes', 1) ON CONFLICT DO NOTHING"))
        base = connection.execute(text("SELECT next FROM bench_counters WHERE name = 'writes' FOR UPDATE")).scalar()
        if amount is not None:
            connection.execute(text("UPDATE bench_counters SET next = next + :n WHERE name = 'writes'"), {"n": amount})
    engine.dispose()
    return int(base)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=common.PEOPLE)
    parser.add_argument("--reuse", action="store_true", help="reuse hoctap_bench when it already holds the data")
    parser.add_argument("--seconds", type=int, default=20, help="length of each measurement (default 20)")
    parser.add_argument("--kinds", default="mixed,person,assessment", help="which writes to run (default all three)")
    parser.add_argument("--communes", type=int, default=32, help="writers in distinct communes (default 32)")
    parser.add_argument("--one-commune-writers", type=int, default=8, help="writers in one commune (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--no-built", action="store_true", help="do not pre-build the progress counts first")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]

    url = common.prepare(args.people, reuse=args.reuse)
    rng = random.Random(args.seed)  # noqa: S311 - benchmark data
    engine = common.engine(url)
    with engine.connect() as connection:
        all_communes = common.communes(connection)
        villages = common.villages_by_commune(connection)
        chosen = sorted(rng.sample([c for c in all_communes if villages.get(c[0])], args.communes))
        subjects = {}
        for code, unit_id in chosen:
            people = (
                connection.execute(
                    text(
                        "SELECT r.person_id FROM residences r JOIN administrative_units v ON v.id = r.unit_id "
                        "WHERE v.parent_id = :commune AND r.person_id IS NOT NULL AND r.valid_to IS NULL "
                        "ORDER BY r.person_id LIMIT 5000"
                    ),
                    {"commune": unit_id},
                )
                .scalars()
                .all()
            )
            subjects[code] = rng.sample(people, min(SUBJECTS_PER_COMMUNE, len(people)))
        this_year = connection.execute(text("SELECT extract(year FROM now() AT TIME ZONE 'Asia/Ho_Chi_Minh')")).scalar()
    engine.dispose()
    this_year = int(this_year)
    if not args.no_built:
        common.build_counts(url, sorted({common.YEAR, this_year}))
    for code, _ in chosen:
        common.ensure_account(url, f"bench_officer_{code}", "commune_officer", [code])
    one = chosen[0][0]

    workdir = Path(tempfile.mkdtemp(prefix="hoctap-bench-writes-"))
    results: list[tuple[str, str, common.WrkResult]] = []
    with common.Server(url, workers=args.workers, extra_env={"HOCTAP_ACCESS_TOKEN_TTL_SECONDS": "3600"}) as server:
        tokens = {code: common.token(server.base, f"bench_officer_{code}") for code, _ in chosen}

        def writers_file(name: str, codes: list[str]) -> Path:
            path = workdir / f"{name}.tsv"
            path.write_text(
                "".join(
                    f"{tokens[code]}\t{','.join(villages[code])}\t{','.join(map(str, subjects[code]))}\n"
                    for code in codes
                )
            )
            return path

        scenarios = [
            (f"{args.communes} writers, {args.communes} communes", writers_file("spread", [c for c, _ in chosen])),
            (f"{args.one_commune_writers} writers, one commune", writers_file("one", [one] * args.one_commune_writers)),
            ("1 sequential writer", writers_file("sequential", [one])),
        ]
        # Warm-up: every worker has its connections, caches and criteria loaded.
        warm = writers_file("warm", [c for c, _ in chosen[:4]])
        base = take_base(url)
        warm_run = common.run_wrk(
            "warm-up",
            server,
            "/",
            "writes.lua",
            connections=4,
            threads=4,
            seconds=3,
            env={
                "BENCH_WRITERS": str(warm),
                "BENCH_KIND": "mixed",
                "BENCH_BASE": str(base),
                "BENCH_THREADS": "4",
                "BENCH_YEAR": str(this_year),
                "BENCH_SEED": str(args.seed),
            },
        )
        take_base(url, 4 * (warm_run.requests + 2) + 4)
        common.wait_quiet(server)
        for scenario, path in scenarios:
            writers = len(path.read_text().splitlines())
            for kind in kinds:
                base = take_base(url)
                result = common.run_wrk(
                    f"{scenario}, {kind}",
                    server,
                    "/",
                    "writes.lua",
                    connections=writers,
                    threads=writers,
                    seconds=args.seconds,
                    env={
                        "BENCH_WRITERS": str(path),
                        "BENCH_KIND": kind,
                        "BENCH_BASE": str(base),
                        "BENCH_THREADS": str(writers),
                        "BENCH_YEAR": str(this_year),
                        "BENCH_SEED": str(args.seed),
                    },
                )
                take_base(url, writers * (result.requests + sum(result.socket_errors.values()) + 2) + writers)
                results.append((scenario, kind, result))
                common.log(
                    f"{scenario}, {kind}: {result.rate:.0f}/s p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms "
                    f"statuses {result.statuses} errors {result.socket_errors}"
                )
                common.log(common.load_line(result))
                waited = common.wait_quiet(server)
                common.log(f"server idle again after {waited:.0f} s (background rebuilds)")
        rss = server.rss()

    print()
    print(common.machine_line())
    print(
        f"code: {common.git_state()}; server: hoctap serve --workers {args.workers}; data: {args.people:,} people; "
        f"counts pre-built: {'no' if args.no_built else f'{common.YEAR} and {this_year}'}"
    )
    print(f"communes: {', '.join(code for code, _ in chosen)}; one commune: {one}")
    print(f"load: wrk, one thread and one connection per writer, {args.seconds} s per measure")
    print()
    rows, verdicts = [], []
    for scenario, kind, result in results:
        goal = ""
        if kind == kinds[0]:
            if scenario.startswith(f"{args.communes} writers"):
                met = result.rate >= GOAL_32 and result.p99_ms <= GOAL_P99_MS and result.not_ok == 0
                goal = f"≥ {GOAL_32:.0f}/s, p99 ≤ {GOAL_P99_MS:.0f} ms"
            elif scenario.startswith("1 sequential"):
                met = result.p50_ms <= GOAL_SEQUENTIAL_MS and result.not_ok == 0
                goal = f"median ≤ {GOAL_SEQUENTIAL_MS:.0f} ms"
            else:
                met = result.rate >= GOAL_1 and result.p99_ms <= GOAL_P99_MS and result.not_ok == 0
                goal = f"≥ {GOAL_1:.0f}/s, p99 ≤ {GOAL_P99_MS:.0f} ms"
            verdicts.append((f"{scenario} ({kind})", met, goal, result))
            goal = ("**met**" if met else "**missed**") + f" ({goal})"
        rows.append(
            [
                scenario,
                kind,
                f"{result.rate:,.0f}/s",
                f"{result.p50_ms:.1f} ms",
                f"{result.p99_ms:.1f} ms",
                f"{result.not_ok} of {result.requests:,}",
                goal,
            ]
        )
    print(common.table(["writers", "writes", "rate", "p50", "p99", "not 201 / errors", "goal"], rows))
    print()
    load_rows = [common.load_row(f"{scenario}, {kind}", r) for scenario, kind, r in results]
    print(common.table(common.LOAD_HEADER, load_rows))
    print()
    print("worker RSS at the end: " + ", ".join(f"{pid}: {mib:.0f} MiB" for pid, mib in rss.items()))
    for label, met, goal, result in verdicts:
        print(
            f"goal {label}: {'met' if met else 'missed'} ({goal}; {result.rate:.0f}/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, {result.not_ok} not 201)"
        )
    for _, _, result in results:
        non_201 = {status: count for status, count in result.statuses.items() if status != "201"}
        if non_201 or result.socket_errors:
            print(f"not 201 in '{result.label}': {non_201} {result.socket_errors}")


if __name__ == "__main__":
    main()
