"""Benchmark: a soak of mixed reads and writes at a set rate against a local server, on
PostgreSQL with 1,000,000 synthetic people.

    .venv/bin/python bench/soak.py [--reuse] [--minutes 10] [--rate 30]

Prepares `hoctap_bench` (bench/common.py), pre-builds Hà Nội's progress counts for 2025 and
this year (as the nightly build leaves a deployment), starts `hoctap serve --workers 2` with
the title-check limits at their maximum (as bench/lookups.py), and sends requests at a fixed
rate (open loop: request i is due at start + i / rate, whatever the answers before it; its
latency is counted from when it was due, so a server falling behind shows as latency; a
request due while --max-in-flight requests are still unanswered is not sent and counts as an
error, "shed"):

- 40% `GET /api/v1/subjects/person/{id}/titles` (a portal client, random people);
- 20% `POST /api/v1/title-checks` (random unknown national ids, from random client networks);
- 20% `GET /api/v1/units/{code}/progress?year=2025` (random communes of Hà Nội);
- 20% `POST /api/v1/people` (commune officers of 32 communes, random villages).

The load generator is an async Python client (httpx), since wrk cannot hold a fixed rate of a
mix; it runs in this process, whose CPU time is reported next to the server's. Each minute it
prints the requests, errors (any answer other than 200 / 201, or no answer), latency p50 /
p99 / max, per kind p99, the server's CPU, and the RSS of each uvicorn worker (VmRSS of
/proc/<pid>/status), so one can see whether memory stays flat. Goal: zero errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from writes import take_base

MIX = (("titles", 40), ("title-check", 20), ("progress", 20), ("person-write", 20))
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", "Ngọc", "Quang", "Thanh", "Hồng"]
GIVEN = ["An", "Bình", "Cường", "Dung", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Lan", "Linh"]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def soak(args, server: common.Server, plan: dict) -> tuple[list[dict], dict]:
    rng = random.Random(args.seed)  # noqa: S311 - benchmark traffic
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    total = int(args.minutes * 60 * args.rate)
    minutes: list[dict] = []
    current: dict = {}
    errors_seen: dict[str, int] = defaultdict(int)
    state = {"index": plan["base"]}

    def new_minute(number: int) -> dict:
        return {
            "minute": number,
            "latencies": defaultdict(list),
            "errors": 0,
            "statuses": defaultdict(int),
            "server_cpu": server.cpu(),
            "postgres_cpu": {pid: common.cpu_seconds(pid) for pid in common.postgres_pids()},
            "client_cpu": own_cpu(),
            "machine": common.machine_ticks(),
            "wall": time.monotonic(),
        }

    limits = httpx.Limits(max_connections=args.max_in_flight, max_keepalive_connections=args.max_in_flight)
    async with httpx.AsyncClient(base_url=server.base, timeout=30, limits=limits) as client:

        async def one(kind: str, due: float, bucket: dict, request: dict) -> None:
            try:
                response = await client.request(**request)
                status = response.status_code
            except httpx.HTTPError as error:
                status = type(error).__name__
            elapsed = (time.monotonic() - due) * 1000
            bucket["latencies"][kind].append(elapsed)
            bucket["statuses"][str(status)] += 1
            if status not in (200, 201):
                bucket["errors"] += 1
                errors_seen[f"{kind} {status}"] += 1

        def build(kind: str) -> dict:
            if kind == "titles":
                person = rng.randint(plan["first"], plan["last"])
                return {
                    "method": "GET",
                    "url": f"/api/v1/subjects/person/{person}/titles",
                    "headers": {"Authorization": f"Bearer {plan['portal']}"},
                }
            if kind == "title-check":
                address = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                return {
                    "method": "POST",
                    "url": "/api/v1/title-checks",
                    "headers": {"X-Forwarded-For": address},
                    "json": {"national_id": f"0010{rng.randint(0, 99_999_999):08d}", "birth_date": "1980-01-01"},
                }
            if kind == "progress":
                code = rng.choice(plan["all_communes"])
                return {"method": "GET", "url": f"/api/v1/units/{code}/progress", "params": {"year": common.YEAR}}
            code = rng.choice(plan["communes"])
            index = state["index"]
            state["index"] += 1
            body = {
                "full_name": f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}",
                "birth_date": f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "sex": rng.choice(("male", "female")),
                "national_id": f"09{index:010d}",
                "unit_code": rng.choice(plan["villages"][code]),
                "resident_since": f"{plan['this_year']}-01-15",
            }
            return {
                "method": "POST",
                "url": "/api/v1/people",
                "json": body,
                "headers": {"Authorization": f"Bearer {plan['tokens'][code]}"},
            }

        def close_minute(bucket: dict) -> None:
            wall = time.monotonic() - bucket["wall"]
            bucket["server_cores"] = (server.cpu() - bucket["server_cpu"]) / wall
            bucket["postgres_cores"] = (
                sum(common.cpu_seconds(pid) - bucket["postgres_cpu"].get(pid, 0.0) for pid in common.postgres_pids())
                / wall
            )
            bucket["client_cores"] = (own_cpu() - bucket["client_cpu"]) / wall
            busy, total = common.machine_ticks()
            bucket["machine_cores"] = (
                (busy - bucket["machine"][0]) / max(1, total - bucket["machine"][1]) * (os.cpu_count() or 1)
            )
            bucket["other_cores"] = max(
                0.0,
                bucket["machine_cores"] - bucket["server_cores"] - bucket["postgres_cores"] - bucket["client_cores"],
            )
            bucket["rss"] = server.rss()
            minutes.append(bucket)
            every = [value for values in bucket["latencies"].values() for value in values]
            common.log(
                f"minute {bucket['minute']}: {len(every)} requests, {bucket['errors']} errors, "
                f"p50 {percentile(every, 0.5):.1f} ms, p99 {percentile(every, 0.99):.1f} ms, "
                f"server {bucket['server_cores']:.2f} cores, PostgreSQL {bucket['postgres_cores']:.2f} cores, "
                f"client {bucket['client_cores']:.2f} cores, other processes {bucket['other_cores']:.2f} cores, RSS "
                + ", ".join(f"{mib:.0f}" for mib in bucket["rss"].values())
                + " MiB"
            )

        tasks: set[asyncio.Task] = set()
        in_flight = {"count": 0}
        started = time.monotonic()
        current = new_minute(1)
        for index in range(total):
            due = started + index / args.rate
            minute = int((due - started) // 60) + 1
            if minute != current["minute"]:
                # Requests still in flight count in the minute they were due in.
                close_minute(current)
                current = new_minute(minute)
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            kind = rng.choices(kinds, weights)[0]
            request = build(kind)
            if in_flight["count"] >= args.max_in_flight:
                # The server is that far behind: shed the request (an error), rather than queue
                # it in the client, whose connection pool slows down with every waiter.
                current["errors"] += 1
                current["statuses"]["shed"] += 1
                errors_seen[f"{kind} shed ({args.max_in_flight} in flight)"] += 1
                continue
            in_flight["count"] += 1
            task = asyncio.create_task(one(kind, due, current, request))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            task.add_done_callback(lambda _: in_flight.__setitem__("count", in_flight["count"] - 1))
        await asyncio.gather(*tasks)
        close_minute(current)
    return minutes, {"errors": dict(errors_seen), "next_index": state["index"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=common.PEOPLE)
    parser.add_argument("--reuse", action="store_true", help="reuse hoctap_bench when it already holds the data")
    parser.add_argument("--minutes", type=float, default=10, help="length of the soak (default 10)")
    parser.add_argument(
        "--rate",
        type=float,
        default=30,
        help="requests per second (default 30: what two shared cores hold with this mix)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=128,
        help="requests outstanding at most; a request due when that many are unanswered is shed and counted as an "
        "error (default 128)",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--communes", type=int, default=32, help="communes the writes go to (default 32)")
    parser.add_argument("--no-built", action="store_true", help="do not pre-build the progress counts first")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()

    url = common.prepare(args.people, reuse=args.reuse)
    rng = random.Random(args.seed)  # noqa: S311
    engine = common.engine(url)
    with engine.connect() as connection:
        first, last = common.synthetic_people_range(connection)
        all_communes = common.communes(connection)
        villages = common.villages_by_commune(connection)
        chosen = sorted(code for code, _ in rng.sample([c for c in all_communes if villages.get(c[0])], args.communes))
        this_year = int(
            connection.execute(text("SELECT extract(year FROM now() AT TIME ZONE 'Asia/Ho_Chi_Minh')")).scalar()
        )
    engine.dispose()
    if not args.no_built:
        common.build_counts(url, sorted({common.YEAR, this_year}))
    common.ensure_account(url, "bench_portal", "portal_client", [common.PROVINCE])
    for code in chosen:
        common.ensure_account(url, f"bench_officer_{code}", "commune_officer", [code])
    prefix = f"hoctap-bench-soak-{int(time.time())}"
    env = common.rate_limit_env(prefix, spread=True)
    env["HOCTAP_ACCESS_TOKEN_TTL_SECONDS"] = str(min(86_400, int(args.minutes * 60) + 3600))
    writes_expected = int(args.minutes * 60 * args.rate * 0.3) + 1000
    base = take_base(url, writes_expected)
    try:
        with common.Server(url, workers=args.workers, extra_env=env) as server:
            plan = {
                "first": first,
                "last": last,
                "all_communes": [code for code, _ in all_communes],
                "communes": chosen,
                "villages": villages,
                "this_year": this_year,
                "portal": common.token(server.base, "bench_portal"),
                "tokens": {code: common.token(server.base, f"bench_officer_{code}") for code in chosen},
                "base": base,
            }
            common.log(f"soak: {args.minutes} min at {args.rate}/s against {server.base}")
            minutes, summary = asyncio.run(soak(args, server, plan))
    finally:
        common.forget_rate_limits(prefix)
    if summary["next_index"] > base + writes_expected:
        take_base(url, summary["next_index"] - base - writes_expected)

    print()
    print(common.machine_line())
    print(
        f"code: {common.git_state()}; server: hoctap serve --workers {args.workers}; data: {args.people:,} people; "
        f"counts pre-built: {'no' if args.no_built else f'{common.YEAR} and {this_year}'}"
    )
    print(
        f"load: async Python client (httpx, this process, 1 core at most), open loop at {args.rate:g} req/s for "
        f"{args.minutes:g} min; mix " + ", ".join(f"{kind} {weight}%" for kind, weight in MIX)
    )
    print()
    worker_pids = list(minutes[0]["rss"]) if minutes else []
    rows = []
    for bucket in minutes:
        every = [value for values in bucket["latencies"].values() for value in values]
        per_kind = [f"{percentile(bucket['latencies'][kind], 0.99):.0f}" for kind, _ in MIX]
        rows.append(
            [
                str(bucket["minute"]),
                str(len(every)),
                str(bucket["errors"]),
                f"{percentile(every, 0.5):.1f}",
                f"{percentile(every, 0.99):.1f}",
                f"{max(every, default=float('nan')):.0f}",
                " / ".join(per_kind),
                f"{bucket['server_cores']:.2f}",
                f"{bucket['postgres_cores']:.2f}",
                f"{bucket['client_cores']:.2f}",
                f"{bucket['other_cores']:.2f}",
                " / ".join(f"{bucket['rss'].get(pid, 0):.0f}" for pid in worker_pids),
            ]
        )
    print(
        common.table(
            [
                "minute",
                "requests",
                "errors",
                "p50 ms",
                "p99 ms",
                "max ms",
                "p99 ms " + " / ".join(kind for kind, _ in MIX),
                "server cores",
                "PostgreSQL cores",
                "client cores",
                "other processes cores",
                "worker RSS MiB",
            ],
            rows,
        )
    )
    print()
    everything = [v for bucket in minutes for values in bucket["latencies"].values() for v in values]
    errors = sum(bucket["errors"] for bucket in minutes)
    per_kind_rows = []
    for kind, _ in MIX:
        values = [v for bucket in minutes for v in bucket["latencies"][kind]]
        per_kind_rows.append(
            [
                kind,
                str(len(values)),
                f"{percentile(values, 0.5):.1f} ms",
                f"{percentile(values, 0.99):.1f} ms",
                f"{max(values, default=float('nan')):.0f} ms",
            ]
        )
    per_kind_rows.append(
        [
            "all",
            str(len(everything)),
            f"{percentile(everything, 0.5):.1f} ms",
            f"{percentile(everything, 0.99):.1f} ms",
            f"{max(everything, default=float('nan')):.0f} ms",
        ]
    )
    print(common.table(["kind", "requests", "p50", "p99", "max"], per_kind_rows))
    print()
    if minutes and worker_pids:
        drift = [
            f"{pid}: {minutes[0]['rss'][pid]:.0f} → {minutes[-1]['rss'].get(pid, 0):.0f} MiB" for pid in worker_pids
        ]
        print("worker RSS first → last minute: " + ", ".join(drift))
    shed = sum(bucket["statuses"].get("shed", 0) for bucket in minutes)
    print(
        f"errors: {errors} of {len(everything) + shed} requests due ({shed} shed, not sent; "
        f"{errors - shed} of {len(everything)} sent)" + (f" {summary['errors']}" if errors else "")
    )
    print(f"goal zero errors: {'met' if errors == 0 else 'missed'}")
    achieved = len(everything) / (args.minutes * 60)
    print(f"answered (any status): {achieved:.1f} req/s of {args.rate:g} asked")
    if minutes:
        print(
            "median server cores: " + f"{statistics.median(b['server_cores'] for b in minutes):.2f}; "
            f"median PostgreSQL cores: {statistics.median(b['postgres_cores'] for b in minutes):.2f}; "
            f"median client cores: {statistics.median(b['client_cores'] for b in minutes):.2f}"
        )


if __name__ == "__main__":
    main()
