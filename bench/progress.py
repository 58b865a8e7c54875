"""Benchmark: the progress endpoint for every commune of a province against a plain GROUP BY
recount of the same numbers, on PostgreSQL with 1,000,000 synthetic people, in one run.

    .venv/bin/python bench/progress.py [--reuse] [--people 1000000] [--recounts 5] [--keep]

Prepares `hoctap_bench` (bench/common.py; `--reuse` keeps it when it already holds the data)
and serves it with `hoctap serve --workers 1` (a subprocess, restarted for each pass that needs
a new process; background jobs off, HOCTAP_JOBS_IN_PROCESS=false, so no rebuild runs while a
pass is timed: a read counts live whatever is not built, as the first reader would meet it).
Each pass asks for `GET /api/v1/units/{code}/progress` of every commune over real HTTP,
sequentially:

1. nothing built (count_builds and unit_counts emptied): every read counts its commune live;
2. the build of the whole province (`summary.build_under`, what `hoctap stats build` does), timed;
3. a new process: answers summed from the pre-built rows; then the same again from the
   in-process cache, and with If-None-Match (304);
4. a write in each commune (a birth date corrected through the ORM, as every service write),
   its commit timed (it only moves the village's count version on), then the commune's read,
   which counts the touched units live (no job has rebuilt them yet); then the sweep timed
   (`hoctap stats sweep`, what the rebuild jobs and the minute sweep do) and every commune
   read again by a new process (pre-built again);
5. the first read of a day, for this year: the province built for this year, the builds then
   made to look as if counted yesterday (count_builds.reference_day moved back a day), a new
   process reads every commune (all counted live), then the sweep that rebuilds the day,
   timed, and the reads again by a new process;
6. the recount: one plain GROUP BY per title over the raw tables for all the province's
   communes at once, as a report query would, several times.

Prints medians, p90 and the ratio recount / endpoint. Results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

YEAR = common.YEAR
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


SERVER_ENV = {"HOCTAP_JOBS_IN_PROCESS": "false", "HOCTAP_COUNT_SWEEP_MINUTES": "0"}


def read_all(server: common.Server, codes: list[str], year: int, etags: dict | None = None, conditional=False):
    """Progress of every commune, one after the other; returns the seconds of each and the
    `live_units` the answers report (units counted live)."""
    times, live = [], 0
    with httpx.Client(base_url=server.base, timeout=120) as client:
        for code in codes:
            headers = {"If-None-Match": etags[code]} if conditional else {}
            t0 = time.perf_counter()
            response = client.get(f"/api/v1/units/{code}/progress", params={"year": year}, headers=headers)
            times.append(time.perf_counter() - t0)
            if conditional:
                assert response.status_code == 304, response.status_code
                continue
            assert response.status_code == 200, response.text[:500]
            if etags is not None:
                etags[code] = response.headers["etag"]
            body = response.json()
            live += (
                len(body.get("live_units") or [])
                if isinstance(body.get("live_units"), list)
                else int(body.get("live_units") or 0)
            )
    return times, live


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=common.PEOPLE)
    parser.add_argument("--province", default=common.PROVINCE)
    parser.add_argument("--recounts", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (default with --reuse)")
    parser.add_argument("--reuse", action="store_true", help="reuse hoctap_bench when it already holds the data")
    args = parser.parse_args()

    url = common.prepare(args.people, args.province, reuse=args.reuse)

    from app import clock
    from app.database import create_db_engine
    from app.registry.models import Person
    from app.stats import counting, summary
    from app.stats import jobs as count_jobs
    from app.units.service import get_unit
    from app.wiring import session_factory

    clock.configure("Asia/Ho_Chi_Minh")
    this_year = clock.today().year
    engine = create_db_engine(url)
    factory = session_factory(engine)  # writes move the count versions on, as the app's do
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE unit_counts, count_builds"))
        communes = common.communes(connection, args.province)
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
    codes = [code for code, _ in communes]

    def build_province(year: int) -> tuple[float, int]:
        with factory() as session:
            province = get_unit(session, args.province, clock.today())
            t0 = time.perf_counter()
            built = summary.build_under(session, province, year, counting.reference_day(year), "all")
            session.commit()
            return time.perf_counter() - t0, built

    def sweep() -> tuple[float, int]:
        t0 = time.perf_counter()
        made = count_jobs.sweep(factory)
        return time.perf_counter() - t0, made

    m = {}
    # 1. Nothing built: each read counts its commune live.
    with common.Server(url, workers=1, extra_env=SERVER_ENV) as server:
        m["live"], live_units = read_all(server, codes, YEAR)
    common.log(f"pass 1 (nothing built): median {statistics.median(m['live']) * 1000:.1f} ms")
    # 2. The build of the whole province.
    nightly, built = build_province(YEAR)
    common.log(f"pass 2: province built for {YEAR} in {nightly:.1f} s ({built} units)")
    # 3. A new process: pre-built; cached; 304.
    etags: dict[str, str] = {}
    with common.Server(url, workers=1, extra_env=SERVER_ENV) as server:
        m["prebuilt"], prebuilt_live = read_all(server, codes, YEAR, etags)
        m["cached"], _ = read_all(server, codes, YEAR, etags)
        m["conditional"], _ = read_all(server, codes, YEAR, etags, conditional=True)
        # 4. A write in each commune, then its read (touched units counted live).
        m["commit"], m["after_write"] = [], []
        after_write_live = 0
        for code, unit_id in communes:
            with factory() as session:
                person = session.get(Person, edited[unit_id])
                person.birth_date = person.birth_date.replace(day=1 if person.birth_date.day != 1 else 2)
                t0 = time.perf_counter()
                session.commit()
                m["commit"].append(time.perf_counter() - t0)
            times, live = read_all(server, [code], YEAR)
            m["after_write"] += times
            after_write_live += live
    write_sweep, write_swept = sweep()
    # A new process again, so the answers come from the rebuilt rows, not the in-process cache.
    with common.Server(url, workers=1, extra_env=SERVER_ENV) as server:
        m["after_sweep"], _ = read_all(server, codes, YEAR)
    common.log(f"pass 4: sweep after {len(communes)} writes: {write_sweep:.2f} s, {write_swept} units")
    # 5. The first read of a day (this year): builds made yesterday.
    nightly_now, built_now = build_province(this_year)
    with engine.begin() as connection:
        moved = connection.execute(
            text("UPDATE count_builds SET reference_day = reference_day - 1 WHERE year = :year"), {"year": this_year}
        ).rowcount
    with common.Server(url, workers=1, extra_env=SERVER_ENV) as server:
        m["new_day"], new_day_live = read_all(server, codes, this_year)
    day_sweep, day_swept = sweep()
    with common.Server(url, workers=1, extra_env=SERVER_ENV) as server:
        m["new_day_swept"], _ = read_all(server, codes, this_year)
    common.log(f"pass 5: {moved} builds of {this_year} made yesterday; sweep {day_sweep:.1f} s for {day_swept} units")

    # 6. The recount.
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
    if not args.keep and not args.reuse:
        common.drop()

    def ms(values):
        return statistics.median(values) * 1000

    def p90(values):
        return sorted(values)[int(len(values) * 0.9)] * 1000

    recount = ms(recounts)
    print()
    print(common.machine_line())
    print(
        f"code: {common.git_state()}; server: hoctap serve --workers 1, jobs off; data: {args.people:,} people; "
        f"{len(communes)} communes; client: httpx, sequential"
    )
    print()
    rows = []
    for key, label in (
        ("prebuilt", f"endpoint, pre-built, new process ({YEAR})"),
        ("after_write", "endpoint, right after a write in the commune (its village counted live)"),
        ("after_sweep", "endpoint, new process after the sweep rebuilt what the writes touched"),
        ("cached", "endpoint, cached by data version"),
        ("conditional", "endpoint, If-None-Match → 304"),
        ("live", f"endpoint, nothing built: live count ({YEAR})"),
        ("new_day", f"endpoint, first read of a day: builds of yesterday ({this_year})"),
        ("new_day_swept", f"endpoint, new process after the sweep of the day ({this_year})"),
        ("commit", "commit of the write (moves the village's count version on)"),
    ):
        values = m[key]
        ratio = f"{recount / ms(values):.1f}×" if key not in ("commit", "conditional") else ""
        rows.append([label, f"{ms(values):.1f} ms", f"{p90(values):.1f} ms", f"{max(values) * 1000:.0f} ms", ratio])
    rows.append(
        [
            f"sweep after one write in each commune ({write_swept} units rebuilt)",
            f"{write_sweep * 1000:.0f} ms",
            "",
            "",
            "",
        ]
    )
    rows.append([f"build of the whole province for {YEAR} ({built} units)", f"{nightly:.1f} s", "", "", ""])
    rows.append(
        [f"build of the whole province for {this_year} ({built_now} units)", f"{nightly_now:.1f} s", "", "", ""]
    )
    rows.append([f"sweep of a new day for {this_year} ({day_swept} units)", f"{day_sweep:.1f} s", "", "", ""])
    rows.append(["recount, plain GROUP BY of every commune", f"{recount:.0f} ms", "", "", "1×"])
    print(common.table(["measure", "median", "p90", "max", "ratio recount / measure"], rows))
    print()
    print(
        f"units counted live: nothing built {live_units}, pre-built {prebuilt_live}, after writes {after_write_live}, "
        f"first read of a day {new_day_live}"
    )


if __name__ == "__main__":
    main()
