# ruff: noqa: S311 - seeded benchmark data, not secrets
"""Benchmark: re-scoring 1,000,000 open assessments under another criteria version, on
PostgreSQL, through the API and the background jobs, as an officer would start it.

    .venv/bin/python bench/rescoring.py [--reuse] [--assessments 1000000] [--dry-run]

Prepares `hoctap_bench` (bench/common.py), then:

1. removes what an earlier run of this benchmark left (its assessments and their revisions,
   every re-scoring run);
2. adds `--assessments` open (submitted) Công dân học tập assessments for this year, one per
   synthetic person, under version `qd244-2022`, subject group `worker`, each with one of 1,000
   seeded score sheets (what many assessors' forms look like: repeated inputs; the engine runs
   once per distinct input of a batch), `VACUUM ANALYZE`;
3. starts `hoctap serve --workers 2` with the jobs in Redis (`HOCTAP_JOBS_URL`, as the README
   says for several processes), so the run's parts are worked by both processes' consumers;
4. `POST /api/v1/assessment-rescorings` as an admin (`to_version` `qd324-2023`, a real run
   unless `--dry-run`), then polls `GET /api/v1/assessment-rescorings/{id}` every second,
   printing its progress, until it is done;
5. checks the result in the database: every open assessment has exactly one new revision under
   the target version (or is reported as a problem), nothing is superseded twice.

Reports the time from the POST to `done`, the rate, the CPU of the server and of PostgreSQL,
and the goal: 1,000,000 open assessments in ≤ 60 s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

GOAL_SECONDS = 60.0
SOURCE, TARGET = "qd244-2022", "qd324-2023"
GROUP = "worker"  # a subject group both versions have
SHEETS = 1000
MARK = "bench-rescoring"  # request_hash of the benchmark's assessments
INDICATORS = ["c1_1", "c1_2", "c1_3", "c1_4", "c2_1", "c2_2", "c2_3", "c2_4", "c3_1", "c3_2"]


def clean(connection) -> None:
    """What an earlier run left: runs and their rows, revisions, then the originals."""
    for table in ("rescoring_items", "rescoring_outcomes"):
        connection.execute(text(f"TRUNCATE {table}"))
    connection.execute(text("DELETE FROM rescoring_runs WHERE parent_id IS NOT NULL"))
    connection.execute(text("DELETE FROM rescoring_runs"))
    mine = f"SELECT id FROM assessments WHERE request_hash = '{MARK}'"
    connection.execute(text(f"DELETE FROM assessments WHERE supersedes_id IN ({mine})"))
    connection.execute(text(f"DELETE FROM assessments WHERE request_hash = '{MARK}'"))


def add_assessments(connection, amount: int, year: int, seed: int) -> int:
    version = connection.execute(
        text("SELECT id, content_hash FROM criteria_versions WHERE version_id = :v"), {"v": SOURCE}
    ).one()
    rng = random.Random(seed)
    sheets = [json.dumps({key: rng.randint(0, 10) for key in INDICATORS}) for _ in range(SHEETS)]
    connection.execute(text("CREATE TEMP TABLE bench_sheets (k int PRIMARY KEY, answers text NOT NULL)"))
    connection.execute(
        text("INSERT INTO bench_sheets VALUES (:k, :a)"), [{"k": k, "a": a} for k, a in enumerate(sheets)]
    )
    # One assessment per person, in the commune of the person's current residence, ids in
    # person order (as a campaign's filings would interleave, the order is the table's).
    inserted = connection.execute(
        text(
            f"""
            INSERT INTO assessments (public_id, request_hash, chain_id, revision, title, subject_id,
                period, unit_id, reference_date, criteria_version_id, criteria_content_hash,
                subject_group, unit_groups, answers, evidence, derived, result, status, total, level,
                state, row_version, created_at, updated_at)
            SELECT g.uid, '{MARK}', g.uid, 1, 'citizen', g.person_id, :year, g.commune_id,
                make_date(:year, 6, 30), :version, :hash, '{GROUP}', '[]', s.answers, '[]', '{{}}',
                '{{}}', 'fail', 0, NULL, 'submitted', 1, now(), now()
            FROM (
                SELECT p.id AS person_id, gen_random_uuid()::text AS uid, ua.ancestor_id AS commune_id
                FROM people p
                JOIN residences r ON r.person_id = p.id AND r.valid_to IS NULL
                JOIN unit_ancestors ua ON ua.unit_id = r.unit_id
                JOIN administrative_units u ON u.id = ua.ancestor_id AND u.level = 'commune'
                ORDER BY p.id
                LIMIT :amount
            ) g
            JOIN bench_sheets s ON s.k = g.person_id % {SHEETS}
            """
        ),
        {"year": year, "version": version.id, "hash": version.content_hash, "amount": amount},
    ).rowcount
    connection.execute(text("DROP TABLE bench_sheets"))
    return inserted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=common.PEOPLE)
    parser.add_argument("--reuse", action="store_true", help="reuse hoctap_bench when it already holds the data")
    parser.add_argument("--assessments", type=int, default=1_000_000)
    parser.add_argument("--dry-run", action="store_true", help="a dry run: report only, no revisions")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()

    url = common.prepare(args.people, reuse=args.reuse)
    year = common.clock.today().year
    engine = common.engine(url)
    with engine.begin() as connection:
        clean(connection)
        started = time.perf_counter()
        added = add_assessments(connection, args.assessments, year, args.seed)
    common.log(f"{added:,} open assessments added in {time.perf_counter() - started:.0f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE assessments"))
    common.ensure_account(url, "bench_admin", "admin")
    queue = f"hoctap-bench-rescoring-{int(time.time())}"
    env = {
        "HOCTAP_JOBS_URL": "redis://127.0.0.1:6379/0",
        "HOCTAP_JOBS_QUEUE_NAME": queue,
        "HOCTAP_COUNT_SWEEP_MINUTES": "0",
    }
    progress: list[tuple[float, int]] = []
    with common.Server(url, workers=args.workers, extra_env=env) as server:
        headers = {"Authorization": f"Bearer {common.token(server.base, 'bench_admin')}"}
        with common.CpuMeter(server) as meter, httpx.Client(base_url=server.base, timeout=60) as client:
            started = time.perf_counter()
            answer = client.post(
                "/api/v1/assessment-rescorings",
                json={"title": "citizen", "to_version": TARGET, "dry_run": args.dry_run},
                headers=headers,
            )
            answer.raise_for_status()
            run = answer.json()
            while run["state"] not in ("done", "failed"):
                time.sleep(1)
                run = client.get(f"/api/v1/assessment-rescorings/{run['id']}", headers=headers).json()
                progress.append((time.perf_counter() - started, run["processed"]))
                common.log(f"{run['state']}: {run['processed']:,} of {run['total']:,} ({run['batches']} batches)")
            seconds = time.perf_counter() - started
        cpu = meter.result
    with engine.connect() as connection:
        revisions, twice = connection.execute(
            text(
                f"""SELECT count(*), count(*) - count(DISTINCT n.supersedes_id)
                FROM assessments n JOIN assessments o ON o.id = n.supersedes_id
                WHERE o.request_hash = '{MARK}'"""
            )
        ).one()
        still_open = connection.execute(
            text(f"SELECT count(*) FROM assessments WHERE request_hash = '{MARK}' AND state = 'submitted'")
        ).scalar()
    engine.dispose()

    processed = run["processed"]
    print()
    print(common.machine_line())
    print(
        f"code: {common.git_state()}; server: hoctap serve --workers {args.workers}, jobs in Redis; "
        f"data: {args.people:,} people, {added:,} open assessments under {SOURCE} → {TARGET}"
        f"{' (dry run)' if args.dry_run else ''}"
    )
    print()
    met = run["state"] == "done" and processed == added and seconds <= GOAL_SECONDS
    print(
        common.table(
            ["state", "total", "processed", "changed", "problems", "batches", "time", "rate", "goal (≤ 60 s)"],
            [
                [
                    run["state"],
                    f"{run['total']:,}",
                    f"{processed:,}",
                    f"{run['changed']:,}",
                    f"{run['problems']:,}",
                    run["batches"],
                    f"{seconds:.1f} s",
                    f"{processed / seconds:,.0f}/s",
                    "**met**" if met else "**missed**",
                ]
            ],
        )
    )
    print()
    print(
        f"CPU over the run: server {cpu['server_cores']:.2f} cores, PostgreSQL {cpu['postgres_cores']:.2f} cores, "
        f"machine busy {cpu['machine_busy'] * 100:.0f}%"
    )
    print(
        f"check: {revisions:,} new revisions, {twice} assessments superseded more than once, "
        f"{still_open:,} of the benchmark's assessments still submitted (expected: "
        f"{added if args.dry_run else run['problems']:,})"
    )
    marks = [f"{t:.0f} s: {n:,}" for t, n in progress[:: max(1, len(progress) // 10)]]
    print("progress: " + ", ".join(marks))
    print(f"goal: {'met' if met else 'missed'} ({seconds:.1f} s for {processed:,})")


if __name__ == "__main__":
    main()
