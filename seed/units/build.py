"""Generate the administrative-unit seed (units.csv, successions.csv, NOTES.md, sources.json).

Run from the project root:  .venv/bin/python seed/units/build.py
It downloads the published data packages with pip (no install), reads their data files, and
rewrites the files beside this script. Nothing here is imported by the service.

Sources (see NOTES.md for what each contributes and what could not be derived):
- vietnam-provinces 0.5.0: three tiers, data of 2023-05-07 (snapshot A)
- vietnam-provinces 0.6.0: three tiers, data of 2025-01-04 (snapshot B)
- vietnam-provinces 2025.10.1: two tiers, in force from 2025-07-01 (snapshot C)
- vietnamadminunits 1.0.4 (MIT): the pre-reform unit table with the names each unit absorbed
  (aliases), and the 2025-07-01 old -> new conversion table with split wards' default successor

Rules:
- A unit record is one (code, name, parent) over a period. It continues across snapshots when
  code, diacritic-free name and parent record are unchanged; otherwise the old record ends and a
  new one starts on the change's effective date, linked by a succession.
- Snapshot A is used only for provinces whose 2023-2025 rearrangement date is confirmed
  (ROUND_2024 below); elsewhere the history starts at snapshot B (valid_from empty).
- Every commune-level unit of snapshot C is a new record from 2025-07-01; every district and
  every earlier commune ends on 2025-07-01. Provinces that kept code and name continue.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
from app.text import plain  # noqa: E402 - the service's own normalisation, so seed and search agree

REFORM_2025 = date(2025, 7, 1)

PACKAGES = {
    "A": ("vietnam-provinces", "0.5.0", "2023-05-07"),
    "B": ("vietnam-provinces", "0.6.0", "2025-01-04"),
    "C": ("vietnam-provinces", "2025.10.1", "2025-07-01"),
    "L": ("vietnamadminunits", "1.0.4", "2025-07-01 conversion table"),
}

# The 2023-2025 rearrangement (one resolution of the National Assembly Standing Committee per
# province). Only provinces listed here get snapshot A's history; each entry is confirmed
# against the cited source.
ROUND_2024: dict[int, dict[str, str]] = {
    1: {
        "province": "Thành phố Hà Nội",
        "resolution": "Nghị quyết 1286/NQ-UBTVQH15",
        "signed": "2024-11-14",
        "effective": "2025-01-01",
        "source": "https://en.tlklawfirm.vn/list-of-some-communities-and-wards-after-merger-of-hanoi-from-january-1-2025",
    },
    30: {
        "province": "Tỉnh Hải Dương",
        # The number of this resolution was not found in any source we could read.
        "resolution": "Nghị quyết của UBTVQH15 về sắp xếp ĐVHC cấp xã tỉnh Hải Dương (số chưa xác minh)",
        "signed": "2024-10-24",
        "effective": "2024-12-01",
        "source": "https://www.vietnam.vn/hi/hai-duong-giam-27-xa-1-phuong-chinh-thuc-di-vao-hoat-dong-tu-thang-12-toi",
    },
}
REFORM_2025_SOURCE = (
    "Nghị quyết 202/2025/QH15 (12/6/2025, provinces) and the UBTVQH15 resolutions of 16/6/2025 "
    "arranging each province's communes (e.g. 1656/NQ-UBTVQH15 Hà Nội, 1669/NQ-UBTVQH15 Hải Phòng); "
    "the new communes operate from 2025-07-01"
)


def key_of(name: str) -> str:
    """The vietnamadminunits key of a name: plain form without spaces ("xavanphuc")."""
    return re.sub(r"[^a-z0-9]", "", plain(name))


PREFIX_TYPES = [  # (level, name prefix, unit_type)
    ("province", "Thành phố", "thanh_pho_truc_thuoc_trung_uong"),
    ("province", "Tỉnh", "tinh"),
    ("district", "Quận", "quan"),
    ("district", "Huyện", "huyen"),
    ("district", "Thị xã", "thi_xa"),
    ("district", "Thành phố", "thanh_pho_thuoc_tinh"),
    ("district", "Thành Phố", "thanh_pho_thuoc_tinh"),
    ("commune", "Phường", "phuong"),
    ("commune", "Xã", "xa"),
    ("commune", "Thị trấn", "thi_tran"),
    ("commune", "Đặc khu", "dac_khu"),
]


def unit_type(level: str, name: str) -> str:
    for prefix_level, prefix, kind in PREFIX_TYPES:
        if prefix_level == level and name.startswith(prefix + " "):
            return kind
    raise ValueError(f"no unit type for {level} {name!r}")


@dataclass
class Unit:
    code: str
    name: str
    level: str
    parent: Unit | None
    valid_from: date | None
    valid_to: date | None = None
    source: str = ""
    unit_type: str = ""

    @property
    def key(self) -> str:
        return f"{self.level}:{self.code}:{self.valid_from.isoformat() if self.valid_from else ''}"


@dataclass
class Succession:
    predecessor: Unit
    successor: Unit
    effective: date
    kind: str
    is_default: bool = True
    share: str = ""
    source: str = ""
    note: str = ""


@dataclass
class Build:
    units: list[Unit] = field(default_factory=list)
    successions: list[Succession] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, unit: Unit) -> Unit:
        unit.unit_type = unit.unit_type or unit_type(unit.level, unit.name)
        self.units.append(unit)
        return unit


def fetch(workdir: Path) -> dict[str, Path]:
    wheels = {}
    for label, (name, version, _) in PACKAGES.items():
        target = workdir / label
        subprocess.run(  # noqa: S603 - fixed arguments, pinned package names
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "-d",
                str(target),
                f"{name}=={version}",
            ],
            check=True,
        )
        wheels[label] = next(target.glob("*.whl"))
    return wheels


def read_member(wheel: Path, suffix: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(suffix))
        return archive.read(name)


def code5(value: int) -> str:
    return f"{value:05d}"


def province_name(entry: dict) -> str:
    name = entry["name"]
    if name.startswith(("Tỉnh ", "Thành phố ")):
        return name
    return ("Thành phố " if entry["division_type"] == "thành phố trung ương" else "Tỉnh ") + name


def three_tier(data: list[dict]) -> dict:
    """{province_code: (name, {district_code: (name, {ward_code: name})})}"""
    return {
        p["code"]: (
            province_name(p),
            {d["code"]: (d["name"], {w["code"]: w["name"] for w in d["wards"]}) for d in p["districts"]},
        )
        for p in data
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wheels = fetch(Path(tmp))
        digests = {label: hashlib.sha256(path.read_bytes()).hexdigest() for label, path in wheels.items()}
        snap_a = three_tier(json.loads(read_member(wheels["A"], "data/nested-divisions.json")))
        snap_b = three_tier(json.loads(read_member(wheels["B"], "data/nested-divisions.json")))
        snap_c = json.loads(read_member(wheels["C"], "data/nested-divisions.json"))
        converter = json.loads(read_member(wheels["L"], "data/converter_2025.json"))
        db_path = Path(tmp) / "dataset.db"
        db_path.write_bytes(read_member(wheels["L"], "data/dataset.db"))
        legacy_db = sqlite3.connect(db_path)
        build = Build()
        b_units = build_snapshots(build, snap_a, snap_b, legacy_db)
        build_reform_2025(build, b_units, snap_c, converter, legacy_db)
        legacy_db.close()
    write(build, digests)


def _aliases(raw: str | None) -> set[str]:
    return set(json.loads(raw)) if raw else set()


def build_snapshots(build: Build, snap_a: dict, snap_b: dict, legacy_db: sqlite3.Connection) -> dict:
    """Provinces, districts and communes of snapshot B, with snapshot A's earlier units where
    the 2023-2025 rearrangement date is known. Returns B's records by (level, code)."""
    ward_aliases = {
        code: _aliases(alias) | {own}
        for code, alias, own in legacy_db.execute("SELECT wardCode, wardAlias, wardKey FROM admin_units_legacy")
        if code
    }
    district_aliases: dict[str, set[str]] = defaultdict(set)
    for code, alias, own in legacy_db.execute(
        "SELECT DISTINCT districtCode, districtAlias, districtKey FROM admin_units_legacy"
    ):
        district_aliases[code] |= _aliases(alias) | {own}

    b_units: dict[tuple[str, str], Unit] = {}
    for p_code, (p_name, districts_b) in sorted(snap_b.items()):
        round_info = ROUND_2024.get(p_code)
        changed_on = date.fromisoformat(round_info["effective"]) if round_info else None
        source_b = "vietnam-provinces 0.6.0 (2025-01-04)"
        province = build.add(Unit(f"{p_code:02d}", p_name, "province", None, None, source=source_b))
        b_units[("province", province.code)] = province
        districts_a = snap_a[p_code][1] if round_info else {}

        # Districts: continue when code and plain name match snapshot A.
        district_records: dict[int, Unit] = {}
        for d_code, (d_name, _) in sorted(districts_b.items()):
            earlier = districts_a.get(d_code)
            continues = not round_info or (earlier is not None and plain(earlier[0]) == plain(d_name))
            district_records[d_code] = build.add(
                Unit(
                    f"{d_code:03d}",
                    d_name,
                    "district",
                    province,
                    None if continues else changed_on,
                    REFORM_2025,
                    source_b,
                )
            )
            b_units[("district", f"{d_code:03d}")] = district_records[d_code]
        ended_districts = {}
        for d_code, (d_name, _) in sorted(districts_a.items()):
            current = district_records.get(d_code)
            if current is not None and current.valid_from is None:
                continue
            ended_districts[d_code] = build.add(
                Unit(
                    f"{d_code:03d}",
                    d_name,
                    "district",
                    province,
                    None,
                    changed_on,
                    "vietnam-provinces 0.5.0 (2023-05-07)",
                )
            )

        # Communes of snapshot B.
        a_wards = {
            w_code: (d_code, w_name) for d_code, (_, wards) in districts_a.items() for w_code, w_name in wards.items()
        }
        for d_code, (_, wards) in sorted(districts_b.items()):
            district = district_records[d_code]
            for w_code, w_name in sorted(wards.items()):
                earlier = a_wards.get(w_code)
                continues = not round_info or (
                    earlier is not None
                    and earlier[0] == d_code
                    and plain(earlier[1]) == plain(w_name)
                    and district.valid_from is None
                )
                record = build.add(
                    Unit(
                        code5(w_code),
                        w_name,
                        "commune",
                        district,
                        None if continues else changed_on,
                        REFORM_2025,
                        source_b,
                    )
                )
                b_units[("commune", record.code)] = record

        if not round_info:
            continue
        # Units of snapshot A that ended in the 2023-2025 rearrangement, and their successors.
        source_round = f"round-2024-{p_code:02d}"
        for record in ended_districts.values():
            link_ended(
                build,
                record,
                b_units,
                "district",
                district_aliases,
                changed_on,
                source_round,
                scope=[u for (lvl, _), u in b_units.items() if lvl == "district" and u.parent is province],
            )
        for w_code, (d_code, w_name) in sorted(a_wards.items()):
            current = b_units.get(("commune", code5(w_code)))
            if current is not None and current.valid_from is None:
                continue
            parent = district_records.get(d_code)
            if parent is None or parent.valid_from is not None:
                parent = ended_districts[d_code]
            record = build.add(
                Unit(code5(w_code), w_name, "commune", parent, None, changed_on, "vietnam-provinces 0.5.0 (2023-05-07)")
            )
            link_ended(
                build,
                record,
                b_units,
                "commune",
                ward_aliases,
                changed_on,
                source_round,
                scope=[
                    u
                    for (lvl, _), u in b_units.items()
                    if lvl == "commune" and u.parent is not None and u.parent.parent is province
                ],
            )
    return b_units


def link_ended(
    build: Build, ended: Unit, b_units: dict, level: str, aliases: dict, effective: date, source: str, scope: list[Unit]
) -> None:
    """Successor of a snapshot-A unit that did not continue: the new record under the same code
    if there is one, else the unique unit (same district first, then province) whose absorbed
    names include this one's."""
    same_code = b_units.get((level, ended.code))
    if same_code is not None and same_code.valid_from == effective:
        build.successions.append(Succession(ended, same_code, effective, "pending", source=source))
        return
    own_key = key_of(ended.name)
    matches = [u for u in scope if own_key in aliases.get(u.code, ())]
    near = [
        u for u in matches if u.parent is not None and ended.parent is not None and u.parent.code == ended.parent.code
    ]
    for candidates in (near, matches):
        if len(candidates) == 1:
            build.successions.append(Succession(ended, candidates[0], effective, "pending", source=source))
            return
    build.notes.append(
        f"{ended.level} {ended.code} {ended.name} ({ended.parent.name if ended.parent else ''}) ended "
        f"{effective}: successor not derivable from the data ({len(matches)} candidates); "
        "no succession recorded."
    )


def build_reform_2025(
    build: Build, b_units: dict, snap_c: list[dict], converter: dict, legacy_db: sqlite3.Connection
) -> None:
    source_c = "vietnam-provinces 2025.10.1 (from 2025-07-01)"
    source_link = "reform-2025"
    province_key_to_code = dict(legacy_db.execute("SELECT DISTINCT provinceKey, provinceCode FROM admin_units_legacy"))
    new_province_key_to_code = dict(legacy_db.execute("SELECT DISTINCT provinceKey, provinceCode FROM admin_units"))
    old_ward_code = {
        f"{p}_{d}_{w or ''}": code
        for p, d, w, code in legacy_db.execute(
            "SELECT provinceKey, districtKey, wardKey, wardCode FROM admin_units_legacy"
        )
    }
    old_district_code = {
        f"{p}_{d}_": code
        for p, d, code in legacy_db.execute(
            "SELECT DISTINCT provinceKey, districtKey, districtCode FROM admin_units_legacy"
        )
    }
    # The conversion table's own codes for new units differ from the official list for about a
    # hundred units, so its units are matched to snapshot C by name within the province.
    new_ward_name = {
        (p, w): (code, name)
        for p, w, code, name in legacy_db.execute("SELECT provinceKey, wardKey, wardCode, ward FROM admin_units")
    }

    # Provinces.
    c_provinces: dict[str, Unit] = {}
    for entry in snap_c:
        code = f"{entry['code']:02d}"
        name = province_name(entry)
        old = b_units.get(("province", code))
        if old is not None and plain(old.name) == plain(name):
            c_provinces[code] = old  # kept code and name: the same province continues
        else:
            c_provinces[code] = build.add(Unit(code, name, "province", None, REFORM_2025, None, source_c))
    for new_key, old_keys in converter["DICT_PROVINCE"].items():
        new = c_provinces[new_province_key_to_code[new_key]]
        for old_key in old_keys:
            old = b_units[("province", province_key_to_code[old_key])]
            if old is new:
                continue
            old.valid_to = REFORM_2025
            build.successions.append(Succession(old, new, REFORM_2025, "merge", source=source_link))
    for (level, _), old in b_units.items():
        if level == "province" and old.valid_to is None and old not in c_provinces.values():
            raise SystemExit(f"province {old.code} {old.name} has no successor in the 2025 table")

    # Communes.
    c_communes: dict[str, Unit] = {}
    for entry in snap_c:
        province = c_provinces[f"{entry['code']:02d}"]
        for ward in entry["wards"]:
            unit = build.add(Unit(code5(ward["code"]), ward["name"], "commune", province, REFORM_2025, None, source_c))
            c_communes[unit.code] = unit

    def old_unit(old_key: str) -> Unit | None:
        if old_key.endswith("_") and old_key in old_district_code:  # island districts became đặc khu
            return b_units.get(("district", old_district_code[old_key]))
        code = old_ward_code.get(old_key)
        return b_units.get(("commune", code)) if code else None

    by_name: dict[tuple[str, str], list[Unit]] = defaultdict(list)
    by_plain_name: dict[tuple[str, str], list[Unit]] = defaultdict(list)
    for unit in c_communes.values():
        by_name[(unit.parent.code, unicodedata.normalize("NFC", unit.name))].append(unit)
        by_plain_name[(unit.parent.code, plain(unit.name))].append(unit)

    def new_unit(province_key: str, ward_key: str) -> Unit | None:
        found = new_ward_name.get((province_key, ward_key))
        if found is None:
            return None
        code, name = found
        province_code = new_province_key_to_code[province_key]
        exact = by_name.get((province_code, unicodedata.normalize("NFC", name)), [])
        loose = by_plain_name.get((province_code, plain(name)), [])
        for candidates in (exact, loose, [u for u in loose if u.code == code]):
            if len(candidates) == 1:
                return candidates[0]
        return None

    for province_key, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_key, old_keys in wards.items():
            new = new_unit(province_key, new_key)
            if new is None:
                build.notes.append(f"2025 table: new unit {new_key} of {province_key} not found; skipped.")
                continue
            for old_key in old_keys:
                old = old_unit(old_key)
                if old is None:
                    build.notes.append(f"2025 table: old unit {old_key} not found in snapshot B; skipped.")
                    continue
                build.successions.append(Succession(old, new, REFORM_2025, "pending", source=source_link))
    for province_key, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, parts in olds.items():
            old = old_unit(old_key)
            if old is None:
                build.notes.append(f"2025 table: split unit {old_key} not found in snapshot B; skipped.")
                continue
            defaults = [part for part in parts if part["isDefaultNewWard"]]
            if len(defaults) != 1:
                build.notes.append(
                    f"2025 table: split unit {old.code} {old.name} has {len(defaults)} default "
                    "successors; none marked default."
                )
            for part in parts:
                new = new_unit(province_key, part["newWardKey"])
                if new is None:
                    build.notes.append(f"2025 table: successor {part['newWardKey']} of {old_key} not found.")
                    continue
                build.successions.append(
                    Succession(
                        old,
                        new,
                        REFORM_2025,
                        "split",
                        is_default=len(defaults) == 1 and part["isDefaultNewWard"],
                        source=source_link,
                        note="share of the old unit's population not published; area of the new unit: "
                        f"{part['newWardAreaKm2']} km²",
                    )
                )
    classify(build)


def classify(build: Build) -> None:
    """Name the kind of each non-split succession from the shape of the links."""
    by_successor: dict[int, list[Succession]] = defaultdict(list)
    by_predecessor: dict[int, list[Succession]] = defaultdict(list)
    for link in build.successions:
        by_successor[id(link.successor)].append(link)
        by_predecessor[id(link.predecessor)].append(link)
    for link in build.successions:
        if link.kind != "pending":
            continue
        absorbed = link.successor.valid_from is None or link.successor.valid_from < link.effective
        if absorbed or len(by_successor[id(link.successor)]) > 1:
            link.kind = "merge"
        elif plain(link.predecessor.name) != plain(link.successor.name):
            link.kind = "rename"
        else:
            link.kind = "re_parent"


def write(build: Build, digests: dict[str, str]) -> None:
    seen = Counter(unit.key for unit in build.units)
    duplicates = [key for key, count in seen.items() if count > 1]
    if duplicates:
        raise SystemExit(f"duplicate unit keys: {duplicates[:5]}")
    with open(HERE / "units.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["key", "code", "name", "unit_type", "level", "parent_key", "valid_from", "valid_to", "source"])
        for unit in build.units:
            writer.writerow(
                [
                    unit.key,
                    unit.code,
                    unit.name,
                    unit.unit_type,
                    unit.level,
                    unit.parent.key if unit.parent else "",
                    unit.valid_from.isoformat() if unit.valid_from else "",
                    unit.valid_to.isoformat() if unit.valid_to else "",
                    unit.source,
                ]
            )
    with open(HERE / "successions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["predecessor_key", "successor_key", "effective_date", "kind", "is_default", "share", "source", "note"]
        )
        for link in build.successions:
            writer.writerow(
                [
                    link.predecessor.key,
                    link.successor.key,
                    link.effective.isoformat(),
                    link.kind,
                    "1" if link.is_default else "0",
                    link.share,
                    link.source,
                    link.note,
                ]
            )
    counts = Counter((u.level, "current" if u.valid_to is None else "ended") for u in build.units)
    sources = {
        "generated_by": "seed/units/build.py",
        "packages": {
            label: {"name": n, "version": v, "data_as_of": d, "wheel_sha256": digests[label]}
            for label, (n, v, d) in PACKAGES.items()
        },
        "round_2023_2025": {f"{code:02d}": info for code, info in ROUND_2024.items()},
        "reform_2025": REFORM_2025_SOURCE,
        # The `source` column of successions.csv names one of these citations.
        "citations": {
            "reform-2025": f"vietnamadminunits 1.0.4 conversion table; {REFORM_2025_SOURCE}",
            **{
                f"round-2024-{code:02d}": f"{info['resolution']} ({info['signed']}), in force {info['effective']}"
                for code, info in ROUND_2024.items()
            },
        },
        "counts": {f"{level}/{state}": n for (level, state), n in sorted(counts.items())},
        "successions": dict(Counter(link.kind for link in build.successions)),
    }
    (HERE / "sources.json").write_text(json.dumps(sources, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    body = io.StringIO()
    body.write("# Generated notes: what the data could not tell\n\n")
    body.write("Written by `seed/units/build.py`; do not edit by hand.\n\n")
    for line in sorted(build.notes) or ["Nothing: every change was linked."]:
        body.write(f"- {line}\n")
    (HERE / "UNRESOLVED.md").write_text(body.getvalue(), encoding="utf-8")
    print(json.dumps(sources["counts"], indent=1), sources["successions"], f"{len(build.notes)} notes")


if __name__ == "__main__":
    main()
