"""Benchmark: the read hot paths under load, side by side with /healthz, on PostgreSQL with
1,000,000 synthetic people.

    .venv/bin/python bench/lookups.py [--reuse] [--seconds 15] [--rounds 2] [--connections 32]

Prepares `hoctap_bench` (bench/common.py; `--reuse` keeps it when it already holds the data),
starts `hoctap serve --workers 2` on a loopback port, and drives it with wrk (32 connections,
2 threads by default), in rounds, each endpoint after the other in the same run:

- `GET /healthz`: the baseline (the framework and middleware, no database);
- `GET /api/v1/subjects/person/{id}/titles`: random existing people (seeded), as a portal
  client of Hà Nội (role portal_client, with a bearer token);
- `POST /api/v1/title-checks`: random unknown national ids, public. The server runs with the
  title-check limits at the maximum their settings allow, counted in Redis, and (unless
  `--one-network`) 127.0.0.1 trusted as a proxy with each request naming a random client
  address in X-Forwarded-For, so no limit is reached: any non-2xx answer is counted and
  invalidates the measure.

Reports rate, p50, p99 and the ratio of each rate to /healthz of the same round (the median of
the rounds), the CPU the load generator used against the server's and PostgreSQL's, and the
goals: rate ≥ 50% of /healthz, p99 ≤ 25 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

GOAL_RATIO = 0.5
GOAL_P99_MS = 25.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=common.PEOPLE)
    parser.add_argument("--reuse", action="store_true", help="reuse hoctap_bench when it already holds the data")
    parser.add_argument("--seconds", type=int, default=15, help="length of each measurement (default 15)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unrecorded load before each (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the three measures (default 2)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--one-network", action="store_true", help="send every title check from 127.0.0.1 (no X-Forwarded-For)"
    )
    args = parser.parse_args()

    url = common.prepare(args.people, reuse=args.reuse)
    engine = common.engine(url)
    with engine.connect() as connection:
        first, last = common.synthetic_people_range(connection)
    engine.dispose()
    common.ensure_account(url, "bench_portal", "portal_client", [common.PROVINCE])
    prefix = f"hoctap-bench-{int(time.time())}"
    env = common.rate_limit_env(prefix, spread=not args.one_network)
    env["HOCTAP_ACCESS_TOKEN_TTL_SECONDS"] = "3600"  # noqa: S105 - a lifetime, not a secret
    measures = [
        ("GET /healthz", "/healthz", "healthz.lua"),
        ("GET /subjects/person/{id}/titles", "/", "titles.lua"),
        ("POST /title-checks", "/", "titlecheck.lua"),
    ]
    results: dict[str, list[common.WrkResult]] = {label: [] for label, _, _ in measures}
    try:
        with common.Server(url, workers=args.workers, extra_env=env) as server:
            wrk_env = {
                "BENCH_TOKEN": common.token(server.base, "bench_portal"),
                "BENCH_FIRST_ID": str(first),
                "BENCH_LAST_ID": str(last),
                "BENCH_SPREAD": "0" if args.one_network else "1",
            }
            for round_number in range(1, args.rounds + 1):
                for label, path, script in measures:
                    run_env = {**wrk_env, "BENCH_SEED": str(args.seed + round_number)}
                    if args.warmup:
                        common.run_wrk(
                            "warm-up",
                            server,
                            path,
                            script,
                            connections=args.connections,
                            threads=args.threads,
                            seconds=args.warmup,
                            env={**run_env, "BENCH_SEED": str(args.seed + 100 + round_number)},
                        )
                    result = common.run_wrk(
                        label,
                        server,
                        path,
                        script,
                        connections=args.connections,
                        threads=args.threads,
                        seconds=args.seconds,
                        env=run_env,
                    )
                    results[label].append(result)
                    common.log(
                        f"round {round_number} {label}: {result.rate:.0f}/s p50 {result.p50_ms:.1f} ms "
                        f"p99 {result.p99_ms:.1f} ms statuses {result.statuses} errors {result.socket_errors}"
                    )
                    common.log(common.load_line(result))
            rss = server.rss()
    finally:
        common.forget_rate_limits(prefix)

    print()
    print(common.machine_line())
    print(f"code: {common.git_state()}; server: hoctap serve --workers {args.workers}; data: {args.people:,} people")
    print(
        f"load: wrk -t{args.threads} -c{args.connections}, {args.seconds} s per measure after {args.warmup} s warm-up, "
        f"{args.rounds} rounds (healthz, titles, title checks in turn); medians of the rounds below"
    )
    print()
    baseline = [result.rate for result in results[measures[0][0]]]
    rows, goals = [], []
    for label, _, _ in measures:
        runs = results[label]
        ratios = [run.rate / base for run, base in zip(runs, baseline, strict=True)]
        rate = statistics.median(run.rate for run in runs)
        p50 = statistics.median(run.p50_ms for run in runs)
        p99 = statistics.median(run.p99_ms for run in runs)
        ratio = statistics.median(ratios)
        not_ok = sum(run.not_ok for run in runs)
        requests = sum(run.requests for run in runs)
        if label == measures[0][0]:
            verdict = "baseline"
        else:
            met = ratio >= GOAL_RATIO and p99 <= GOAL_P99_MS and not_ok == 0
            verdict = (
                "**met**" if met else "**missed**"
            ) + f" (≥ {GOAL_RATIO:.0%} of healthz, p99 ≤ {GOAL_P99_MS:.0f} ms)"
            goals.append((label, met, ratio, p99))
        rows.append(
            [
                label,
                f"{rate:,.0f}/s",
                f"{p50:.1f} ms",
                f"{p99:.1f} ms",
                f"{ratio:.0%}",
                f"{not_ok} of {requests:,}",
                verdict,
            ]
        )
    print(common.table(["measure", "rate", "p50", "p99", "ratio to healthz", "non-2xx / errors", "goal"], rows))
    print()
    load_rows = [
        common.load_row(f"{label} (round {number})", run)
        for label, _, _ in measures
        for number, run in enumerate(results[label], start=1)
    ]
    print(common.table(common.LOAD_HEADER, load_rows))
    print()
    print("worker RSS at the end: " + ", ".join(f"{pid}: {mib:.0f} MiB" for pid, mib in rss.items()))
    for label, met, ratio, p99 in goals:
        print(f"goal {label}: {'met' if met else 'missed'} ({ratio:.0%} of healthz, p99 {p99:.1f} ms)")


if __name__ == "__main__":
    main()
