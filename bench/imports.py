# ruff: noqa: S311, S607 - seeded benchmark data, not secrets; it runs git
"""Benchmark: importing people from a spreadsheet against a raw COPY of the same rows into the
same tables, on PostgreSQL, side by side in one run (issue 16: goal ≥ 30% of raw COPY).

    .venv/bin/python bench/imports.py [--rows 50000] [--rounds 3] [--no-row-by-row] [--keep]

Makes a fresh database `hoctap_bench_imports` on the server of HOCTAP_BENCH_DATABASE_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/test): migrated and seeded (the units;
no people), with one commune officer of every commune of Hà Nội. Builds `--rows` people
(seeded: Vietnamese names, birth dates 1940–2008, 12-digit CCCDs with Hà Nội's province code,
a commune of Hà Nội each, most residing since 01/07/2025, some with the day left blank), written
as the template's CSV (UTF-8) and XLSX (openpyxl, as the template itself is written). Then,
in every round (the order turned round each time; people, residences and import jobs emptied
and a CHECKPOINT before each measure, so each starts from the same empty registry):

- **raw COPY**: the same people as the import stores them (names, dates, sex, HMAC, mask,
  unit ids, timestamps; the ids given), prepared beforehand as COPY text, `COPY people` and
  `COPY residences` and the commit. The floor for writing these rows into these tables;
- **import job, CSV / XLSX**: the import as the service does it, from the uploaded bytes to
  committed rows: `imports.service.start` (the file's digest, the job row holding the file)
  and commit, then `imports.service.run` (claims the job, reads, checks, writes, commits);
- **dry run, CSV**: the same job with dry_run (checked, nothing written);
- **row by row, CSV** (unless `--no-row-by-row`): the path before the set-based one, for
  comparison: every row through `PersonCreate` and the HMAC in Python, matched, written with
  COPY (people.check + people.write), one transaction;
- **reading only**: iterating the file's rows (`sheets.rows`), CSV and XLSX, nothing else.

Prints medians over the rounds, rows/s, the ratio of each to the raw COPY of its own round
(median), and where the job's time went (the phases people_sql.run records). The machine's
CPU use (all processes, /proc/stat) during each measure is shown: on a shared machine it says
whether something else ran.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

DATABASE = "hoctap_bench_imports"
USERNAME = "bench.importer"
ROWS = 50_000
SEED = 2025


def bench_url() -> str:
    return common.server_url().set(database=DATABASE).render_as_string(hide_password=False)


def prepare() -> str:
    """A fresh database: migrated, seeded (units, no people), and the importing account."""
    from app.database import create_db_engine
    from app.migrate import upgrade
    from app.seeding import load_builtin_seed
    from app.wiring import session_factory

    url = bench_url()
    admin = create_engine(common.server_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    upgrade(url)
    engine = create_db_engine(url)
    with session_factory(engine)() as session:
        load_builtin_seed(session)
    with engine.connect() as connection:
        communes = [code for code, _ in common.communes(connection)]
    engine.dispose()
    common.ensure_account(url, USERNAME, "commune_officer", communes)
    return url


def drop() -> None:
    admin = create_engine(common.server_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    admin.dispose()


# --- the rows -----------------------------------------------------------------------------------


def build_rows(count: int, communes: list[str], today: date, seed: int) -> list[list[str]]:
    """`count` rows of the template's columns: name, birth date, sex, CCCD, unit code, since."""
    from app.stats.synthetic import FAMILY_NAMES, GIVEN, MIDDLE

    rng = random.Random(seed)
    moved_in = date(2025, 7, 1)
    span = max((today - moved_in).days, 1)
    rows = []
    for index in range(count):
        female = rng.random() < 0.5
        middle = "Thị" if female and rng.random() < 0.6 else rng.choice(MIDDLE)
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(25_000))  # to 2008
        century = 0 if born.year < 2000 else 2
        # CCCD: province (001, Hà Nội), century and sex, year of birth, six digits (unique here).
        national_id = f"001{century + female}{born.year % 100:02d}{index:06d}"
        choice = rng.random()
        since = (
            "01/07/2025"
            if choice < 0.8
            else ""
            if choice < 0.9
            else f"{moved_in + timedelta(rng.randrange(span)):%d/%m/%Y}"
        )
        rows.append(
            [
                f"{rng.choice(FAMILY_NAMES)} {middle} {rng.choice(GIVEN)}",
                f"{born:%d/%m/%Y}",
                "Nữ" if female else "Nam",
                national_id,
                rng.choice(communes),
                since,
            ]
        )
    return rows


def as_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # Excel's "CSV UTF-8"


def as_xlsx(header: list[str], rows: list[list[str]]) -> bytes:
    import openpyxl

    from app.imports.sheets import DATA_SHEET

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = DATA_SHEET
    sheet.append(header)
    for row in rows:
        sheet.append([value or None for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def prepared_copy(rows: list[list[str]], units: dict[str, int], ids, on_day: date) -> tuple[bytes, bytes]:
    """COPY text of people and residences holding what the import stores for these rows."""
    from app import clock
    from app.imports import people

    now = clock.now().isoformat()
    people_lines, residence_lines = [], []
    for index, (name, born, sex, national_id, code, since) in enumerate(rows):
        person_id = 1_000_000_000 + index
        day, month, year = born.split("/")
        digest = ids.digest(national_id)
        people_lines.append(
            f"{person_id}\t{people.clean_name(name)}\t{year}-{month}-{day}\t{people.SEXES[sex.lower()]}\t\\N\t"
            f"{digest}\t{ids.key_version}\t{ids.mask(national_id)}\t{now}\t{now}\n"
        )
        day, month, year = since.split("/") if since else (f"{on_day.day:02d}", f"{on_day.month:02d}", on_day.year)
        residence_lines.append(f"{person_id}\t{units[code]}\t{year}-{month}-{day}\tregistered\t\t{now}\t{now}\n")
    return "".join(people_lines).encode(), "".join(residence_lines).encode()


# --- the measures ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, url: str, rows: list[list[str]], on_day: date) -> None:
        from app import clock
        from app.config import Settings
        from app.database import create_db_engine
        from app.imports import people, sheets
        from app.registry.national_id import NationalIds
        from app.wiring import session_factory

        self.settings = Settings(_env_file=None, database_url=url)
        clock.configure(self.settings.timezone)
        # As the service's own engine: every statement within the statement timeout.
        self.engine = create_db_engine(url, statement_timeout_seconds=self.settings.statement_timeout_seconds)
        self.factory = session_factory(self.engine)
        self.ids = NationalIds(self.settings)
        self.rows, self.on_day = rows, on_day
        header = [column.header for column in people.COLUMNS]
        self.csv, self.xlsx = as_csv(header, rows), as_xlsx(header, rows)
        with self.engine.connect() as connection:
            units = dict(
                connection.execute(
                    text("SELECT code, id FROM administrative_units WHERE valid_to IS NULL AND level = 'commune'")
                ).all()
            )
        self.copy_people, self.copy_residences = prepared_copy(rows, units, self.ids, on_day)
        self.sheets = sheets
        self.phases: dict[str, float] = {}
        self.checkpoint = True

    def reset(self) -> None:
        """Back to the empty registry, and nothing of the last measure left to write out."""
        with self.engine.begin() as connection:
            connection.execute(text("TRUNCATE people, residences, import_jobs CASCADE"))
        if self.checkpoint:
            try:
                with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.execute(text("CHECKPOINT"))
            except DBAPIError:  # not a superuser (nor pg_checkpoint): measured without it
                common.log("CHECKPOINT not allowed for this user: the measures may pay for earlier writes")
                self.checkpoint = False

    def raw_copy(self) -> None:
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            with driver.cursor() as cursor:
                columns = (
                    "id, full_name, birth_date, sex, occupational_group, national_id_hmac, national_id_key_version, "
                    "national_id_masked, created_at, updated_at"
                )
                with cursor.copy(f"COPY people ({columns}) FROM STDIN") as copy:
                    copy.write(self.copy_people)
                columns = "person_id, unit_id, valid_from, reason, note, created_at, updated_at"
                with cursor.copy(f"COPY residences ({columns}) FROM STDIN") as copy:
                    copy.write(self.copy_residences)
            driver.commit()
        finally:
            raw.close()

    def job(self, content: bytes, name: str, *, dry_run: bool = False) -> None:
        from sqlalchemy import select

        from app.auth.models import User
        from app.auth.service import load_principal
        from app.database import owned_session
        from app.imports import people_sql
        from app.imports import service as imports
        from app.imports.models import ImportJob

        recorded = people_sql.run

        def run(*args, **kwargs):  # the phases of the set-based path, for the report
            result = recorded(*args, **kwargs)
            self.phases = dict(result.seconds)
            return result

        people_sql.run = run
        try:
            with owned_session(self.factory) as session:
                user = session.scalar(select(User).where(User.username == USERNAME))
                principal = load_principal(session, user.id, user.credential_version)
                job, created = imports.start(session, principal, "people", name, content, dry_run, self.on_day)
                assert created
                job_id = job.id
            state = imports.run(self.factory, self.ids, job_id)
        finally:
            people_sql.run = recorded
        with owned_session(self.factory) as session:
            job = session.get(ImportJob, job_id)
            assert (state, job.created, job.error_count) == ("done", len(self.rows), 0), (state, job.errors)

    def row_by_row(self) -> None:
        from sqlalchemy import select

        from app.auth.models import User
        from app.auth.service import load_principal
        from app.database import owned_session
        from app.imports import people

        with owned_session(self.factory) as session:
            user = session.scalar(select(User).where(User.username == USERNAME))
            principal = load_principal(session, user.id, user.credential_version)
            checked = people.check(session, principal, self.ids, self.on_day, self.sheets.rows(self.csv))
            assert not checked.errors, checked.errors[:3]
            assert people.write(session, self.ids, checked) == len(self.rows)

    def read(self, content: bytes) -> None:
        assert sum(1 for _ in self.sheets.rows(content)) == len(self.rows) + 1


def measure(action) -> dict:
    busy, total = common.machine_ticks()
    cpu = time.process_time()
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    busy_after, total_after = common.machine_ticks()
    cores = os.cpu_count() or 1
    machine = (busy_after - busy) / max(total_after - total, 1) * cores
    return {"seconds": seconds, "cpu": cpu, "machine_cores": machine}


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory = next(
        line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    with create_engine(common.server_url()).connect() as connection:
        version = connection.execute(text("SHOW server_version")).scalar()
        settings = {
            name: connection.execute(text(f"SHOW {name}")).scalar()
            for name in ("shared_buffers", "work_mem", "temp_buffers", "synchronous_commit")
        }
    revision = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=common.ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({model}), {int(memory) / 1024 / 1024:.0f} GiB RAM, {platform.platform()}, "
        f"PostgreSQL {version} on the same machine ({', '.join(f'{k} {v}' for k, v in settings.items())}), "
        f"Python {platform.python_version()}, code {revision}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--no-row-by-row", action="store_true", help="skip the row-by-row path (the slowest)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    from app import clock

    description = machine()
    common.log(f"machine: {description}")
    common.log(f"preparing {DATABASE}")
    url = prepare()
    on_day = clock.today()
    engine = create_engine(url)
    with engine.connect() as connection:
        communes = [code for code, _ in common.communes(connection)]
    engine.dispose()
    common.log(f"building {args.rows} rows over {len(communes)} communes")
    bench = Bench(url, build_rows(args.rows, communes, on_day, args.seed), on_day)
    common.log(f"files: CSV {len(bench.csv) / 1e6:.1f} MB, XLSX {len(bench.xlsx) / 1e6:.1f} MB")
    measures = {
        "raw COPY (people + residences)": bench.raw_copy,
        "import job, CSV": lambda: bench.job(bench.csv, "bench.csv"),
        "import job, XLSX": lambda: bench.job(bench.xlsx, "bench.xlsx"),
        "dry run, CSV": lambda: bench.job(bench.csv, "bench-dry.csv", dry_run=True),
    }
    if not args.no_row_by_row:
        measures["row by row (before), CSV"] = bench.row_by_row
    reads = {"reading only, CSV": lambda: bench.read(bench.csv), "reading only, XLSX": lambda: bench.read(bench.xlsx)}
    results: dict[str, list[dict]] = {name: [] for name in [*measures, *reads]}
    phases: dict[str, list[dict[str, float]]] = {"import job, CSV": [], "import job, XLSX": []}
    names = list(measures)
    for round_number in range(args.rounds):
        turn = round_number % len(names)
        for name in names[turn:] + names[:turn]:
            bench.reset()
            found = measure(measures[name])
            found["round"] = round_number
            results[name].append(found)
            if name in phases:
                phases[name].append(bench.phases)
            common.log(
                f"round {round_number + 1}: {name}: {found['seconds']:.2f} s "
                f"({args.rows / found['seconds']:,.0f} rows/s; machine {found['machine_cores']:.2f} cores busy)"
            )
        for name, action in reads.items():
            found = measure(action)
            found["round"] = round_number
            results[name].append(found)
            common.log(f"round {round_number + 1}: {name}: {found['seconds']:.2f} s")
    bench.engine.dispose()
    if not args.keep:
        drop()
    report(description, args.rows, results, phases)


def report(description: str, rows: int, results: dict[str, list[dict]], phases: dict[str, list[dict]]) -> None:
    raw = {found["round"]: found["seconds"] for found in results["raw COPY (people + residences)"]}
    print(f"\n{description}\n")
    print(f"{rows:,} rows; medians of {len(raw)} rounds; ratio = raw COPY's time / the measure's time, per round\n")
    print("| measure | time | rows/s | ratio to raw COPY (rounds) | machine cores busy |")
    print("|---|---|---|---|---|")
    for name, found in results.items():
        seconds = statistics.median(each["seconds"] for each in found)
        ratios = [raw[each["round"]] / each["seconds"] for each in found]
        ratio = f"**{statistics.median(ratios):.0%}** ({', '.join(f'{r:.0%}' for r in ratios)})"
        busy = ", ".join(f"{each['machine_cores']:.2f}" for each in found)
        print(f"| {name} | {seconds:.2f} s | {rows / seconds:,.0f} | {ratio} | {busy} |")
    print("\nWhere the import job's time went (medians; the rest: claiming the job, the job row, commit):\n")
    print("| phase | " + " | ".join(phases) + " |")
    print("|---|" + "---|" * len(phases))
    keys = list(dict.fromkeys(key for runs in phases.values() for run in runs for key in run))
    for key in keys:
        cells = [
            f"{statistics.median(run.get(key, 0.0) for run in runs):.2f} s" if runs else "" for runs in phases.values()
        ]
        print(f"| {key} | " + " | ".join(cells) + " |")
    totals = [f"{statistics.median(each['seconds'] for each in results[name]):.2f} s" for name in phases]
    print("| whole job | " + " | ".join(totals) + " |")


if __name__ == "__main__":
    main()
