"""Benchmark: the progress endpoint for every commune of a province against a plain GROUP BY
recount of the same numbers, on PostgreSQL, in one run.

    .venv/bin/python bench/progress.py [--people 1000000] [--province 01] [--keep]

Creates a fresh database `hoctap_bench` on the server of HOCTAP_BENCH_DATABASE_URL (default:
postgresql+psycopg://postgres@127.0.0.1:5432/test), migrates, seeds, adds a synthetic
population, then:
- serves the app with uvicorn on a loopback port and asks for each commune's progress over real
  HTTP: (1) the first read with nothing pre-built (the read builds the commune's units);
  (2) in a new process, answers summed from the pre-built rows; (3) the same from the
  in-process cache, and with If-None-Match (304); (4) right after a write in the commune;
- times the nightly build of the whole province from nothing (`hoctap stats build`);
- runs the recount: one plain GROUP BY per title over the raw tables, for all the province's
  communes at once, as a report query would, several times;
and prints medians and ratios. Results go in docs/benchmarks.md by hand, with the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import clock
from app.config import Settings
from app.database import create_db_engine, create_session_factory
from app.main import create_app
from app.migrate import upgrade
from app.seeding import load_builtin_seed
from app.stats import counting, summary
from app.stats.synthetic import generate
from app.units.service import get_unit

YEAR = 2025
# A report writer's recount: for each title, numerator and denominator per commune, straight
# from the raw tables, with the same rules as the endpoint (residents on the reference day,
# recognitions not revoked, for the year or in force on that day).
HOLDERS = """(SELECT DISTINCT subject_id FROM recognitions WHERE title = '{title}' AND revoked_at IS NULL
                 AND (period = :year OR (valid_from <= :day AND valid_until > :day)))"""
RECOUNT = {
    "citizen": f"""
        SELECT a.ancestor_id, count(DISTINCT p.id), count(DISTINCT h.subject_id)
        FROM people p
        JOIN residences r ON r.person_id = p.id AND r.valid_from <= :day AND (r.valid_to IS NULL OR r.valid_to > :day)
        JOIN unit_ancestors a ON a.unit_id = r.unit_id AND a.ancestor_id IN (SELECT id FROM communes)
        LEFT JOIN {HOLDERS.format(title="citizen")} h ON h.subject_id = p.id
        WHERE p.birth_date <= :fifteen GROUP BY a.ancestor_id""",
    "family": f"""
        SELECT a.ancestor_id, count(DISTINCT r.household_id), count(DISTINCT h.subject_id)
        FROM residences r
        JOIN unit_ancestors a ON a.unit_id = r.unit_id AND a.ancestor_id IN (SELECT id FROM communes)
        LEFT JOIN {HOLDERS.format(title="family")} h ON h.subject_id = r.household_id
        WHERE r.household_id IS NOT NULL AND r.valid_from <= :day AND (r.valid_to IS NULL OR r.valid_to > :day)
        GROUP BY a.ancestor_id""",
    "unit": f"""
        SELECT a.ancestor_id, count(DISTINCT r.organisation_id), count(DISTINCT h.subject_id)
        FROM residences r
        JOIN unit_ancestors a ON a.unit_id = r.unit_id AND a.ancestor_id IN (SELECT id FROM communes)
        LEFT JOIN {HOLDERS.format(title="unit")} h ON h.subject_id = r.organisation_id
        WHERE r.organisation_id IS NOT NULL AND r.valid_from <= :day AND (r.valid_to IS NULL OR r.valid_to > :day)
        GROUP BY a.ancestor_id""",
    "clan": f"""
        SELECT a.ancestor_id, count(DISTINCT c.id), count(DISTINCT h.subject_id)
        FROM clans c
        JOIN unit_ancestors a ON a.unit_id = c.home_unit_id AND a.ancestor_id IN (SELECT id FROM communes)
        LEFT JOIN {HOLDERS.format(title="clan")} h ON h.subject_id = c.id
        GROUP BY a.ancestor_id""",
    "community": f"""
        SELECT v.parent_id, count(*), count(h.subject_id)
        FROM administrative_units v
        LEFT JOIN {HOLDERS.format(title="community")} h ON h.subject_id = v.id
        WHERE v.level = 'village' AND v.parent_id IN (SELECT id FROM communes)
          AND (v.valid_from IS NULL OR v.valid_from <= :day) AND (v.valid_to IS NULL OR v.valid_to > :day)
        GROUP BY v.parent_id""",
}


def serve(app):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--province", default="01")
    parser.add_argument("--recounts", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse an existing hoctap_bench database")
    args = parser.parse_args()

    server_url = make_url(
        os.environ.get("HOCTAP_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    bench_url = server_url.set(database="hoctap_bench").render_as_string(hide_password=False)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    started = time.perf_counter()
    if not args.reuse:
        with admin.connect() as connection:
            connection.execute(text('DROP DATABASE IF EXISTS "hoctap_bench" WITH (FORCE)'))
            connection.execute(text('CREATE DATABASE "hoctap_bench"'))
        upgrade(bench_url)
        engine = create_db_engine(bench_url)
        with create_session_factory(engine)() as session:
            load_builtin_seed(session)
            print(generate(session, args.province, args.people, YEAR), flush=True)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        engine.dispose()
    print(f"data ready in {time.perf_counter() - started:.0f} s", flush=True)

    settings = Settings(_env_file=None, database_url=bench_url, log_level="WARNING")
    engine = create_db_engine(bench_url)
    with engine.begin() as connection:
        # Start with nothing pre-built, as on a fresh deployment or the first read of a day.
        connection.execute(text("TRUNCATE unit_counts, count_builds"))
        communes = connection.execute(
            text(
                "SELECT u.code, u.id FROM administrative_units u JOIN administrative_units p ON p.id = u.parent_id "
                "WHERE p.code = :province AND p.level = 'province' AND u.level = 'commune' AND u.valid_to IS NULL "
                "ORDER BY u.code"
            ),
            {"province": args.province},
        ).all()
        # One person per commune, living in one of its villages, whose record the write pass edits.
        edited = dict(
            connection.execute(
                text(
                    "SELECT DISTINCT ON (v.parent_id) v.parent_id, r.person_id FROM residences r "
                    "JOIN administrative_units v ON v.id = r.unit_id AND v.level = 'village' "
                    "WHERE r.person_id IS NOT NULL AND r.valid_to IS NULL ORDER BY v.parent_id, r.person_id"
                )
            ).all()
        )
    engine.dispose()

    def progress(client, code, **headers):
        t0 = time.perf_counter()
        response = client.get(f"/api/v1/units/{code}/progress", params={"year": YEAR}, headers=headers)
        elapsed = time.perf_counter() - t0
        assert response.status_code in (200, 304), response.text
        return elapsed, response

    first, prebuilt, warm, conditional, after_write, writes = [], [], [], [], [], []
    # 1. First read of each commune: nothing pre-built, the read builds the commune's units.
    app = create_app(settings)
    server, thread, base = serve(app)
    with httpx.Client(base_url=base, timeout=120) as client:
        for code, _ in communes:
            first.append(progress(client, code)[0])
    server.should_exit = True
    thread.join(timeout=10)
    # 2. A new process (nothing cached in memory): answers summed from the pre-built rows.
    app = create_app(settings)
    server, thread, base = serve(app)
    with httpx.Client(base_url=base, timeout=120) as client:
        etags = {}
        for code, _ in communes:
            elapsed, response = progress(client, code)
            prebuilt.append(elapsed)
            etags[code] = response.headers["etag"]
        # 3. The same again: served from the in-process cache keyed by the data version.
        for code, _ in communes:
            elapsed, response = progress(client, code)
            warm.append(elapsed)
            etags[code] = response.headers["etag"]
        for code, _ in communes:
            elapsed, response = progress(client, code, **{"If-None-Match": etags[code]})
            conditional.append(elapsed)
            assert response.status_code == 304
        # 4. A write in the commune (a birth date corrected, through the ORM like every service
        # write), then its progress: the edited person's village is rebuilt, the rest summed.
        from app.registry.models import Person

        for code, unit_id in communes:
            with app.state.session_factory() as session:
                person = session.get(Person, edited[unit_id])
                person.birth_date = person.birth_date.replace(day=1 if person.birth_date.day != 1 else 2)
                t0 = time.perf_counter()
                session.commit()  # bumps and rebuilds the touched units in the same transaction
                writes.append(time.perf_counter() - t0)
            after_write.append(progress(client, code)[0])
    server.should_exit = True
    thread.join(timeout=10)

    # 5. The nightly build of the whole province from nothing (`hoctap stats build`).
    engine = create_db_engine(bench_url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE unit_counts, count_builds"))
    with create_session_factory(engine)() as session:
        province = get_unit(session, args.province, clock.today())
        t0 = time.perf_counter()
        rebuilt = summary.build_under(session, province, YEAR, counting.reference_day(YEAR), "all")
        nightly = time.perf_counter() - t0

    def ms(values):
        return statistics.median(values) * 1000

    def p90(values):
        return sorted(values)[int(len(values) * 0.9)] * 1000

    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"communes: {len(communes)}; people: {args.people}")
    for label, values in (
        ("first read, nothing pre-built", first),
        ("pre-built, new process", prebuilt),
        ("cached by data version", warm),
        ("If-None-Match -> 304", conditional),
        ("right after a write in the commune", after_write),
    ):
        print(
            f"endpoint, {label}: median {ms(values):.1f} ms, p90 {p90(values):.1f} ms, max {max(values) * 1000:.1f} ms"
        )
    print(
        f"commit of the write, rebuild of what it touched included: median {ms(writes):.1f} ms, "
        f"p90 {p90(writes):.1f} ms"
    )
    print(f"nightly build of the province: {nightly:.1f} s for {rebuilt} units", flush=True)

    day = min(date(YEAR, 12, 31), clock.today())
    params = {"year": YEAR, "day": day, "fifteen": date(day.year - 15, day.month, min(day.day, 28))}
    recounts = []
    with engine.connect() as connection:
        connection.execute(
            text(
                "CREATE TEMP TABLE communes AS SELECT u.id FROM administrative_units u JOIN administrative_units p "
                "ON p.id = u.parent_id WHERE p.code = :province AND p.level = 'province' AND u.level = 'commune' "
                "AND u.valid_to IS NULL"
            ),
            {"province": args.province},
        )
        for _ in range(args.recounts):
            t0 = time.perf_counter()
            for query in RECOUNT.values():
                connection.execute(text(query), params).all()
            recounts.append(time.perf_counter() - t0)
    engine.dispose()
    if not args.keep:
        with admin.connect() as connection:
            connection.execute(text('DROP DATABASE IF EXISTS "hoctap_bench" WITH (FORCE)'))
    admin.dispose()

    recount = ms(recounts)
    print(f"recount, plain GROUP BY of every commune: median {recount:.0f} ms over {args.recounts} runs")
    for label, values in (
        ("first read", first),
        ("pre-built", prebuilt),
        ("after a write", after_write),
        ("cached", warm),
    ):
        print(f"ratio recount / endpoint {label}: {recount / ms(values):.1f}x")


if __name__ == "__main__":
    main()
