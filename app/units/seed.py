"""Load the administrative-unit seed (seed/units/*.csv, made by seed/units/build.py)."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.migrate import PROJECT_ROOT
from app.text import plain
from app.units.models import AdministrativeUnit, UnitAncestor, UnitSuccession

SEED_DIR = PROJECT_ROOT / "seed" / "units"
BATCH = 5000


def _date(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


def load_units(session: Session, seed_dir: Path = SEED_DIR) -> str:
    """Insert every unit, succession and ancestor row of the seed; skipped if units exist."""
    if session.scalar(
        select(func.count()).select_from(AdministrativeUnit).where(AdministrativeUnit.source != "village")
    ):
        return "Administrative units already loaded."
    with open(seed_dir / "units.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(seed_dir / "successions.csv", encoding="utf-8", newline="") as handle:
        links = list(csv.DictReader(handle))
    citations = json.loads((seed_dir / "sources.json").read_text(encoding="utf-8"))["citations"]

    parent_of = {row["key"]: row["parent_key"] or None for row in rows}

    def depth(key: str) -> int:
        return 0 if parent_of[key] is None else 1 + depth(parent_of[key])

    ids: dict[str, int] = {}
    table = AdministrativeUnit.__table__
    for level_depth in sorted({depth(row["key"]) for row in rows}):
        batch = [row for row in rows if depth(row["key"]) == level_depth]
        for start in range(0, len(batch), BATCH):
            chunk = batch[start : start + BATCH]
            params = [
                {
                    "code": row["code"],
                    "name": row["name"],
                    "search_name": plain(row["name"]),
                    "unit_type": row["unit_type"],
                    "level": row["level"],
                    "parent_id": ids[row["parent_key"]] if row["parent_key"] else None,
                    "valid_from": _date(row["valid_from"]),
                    "valid_to": _date(row["valid_to"]),
                    "source": row["source"],
                }
                for row in chunk
            ]
            result = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), params)
            for row, (new_id,) in zip(chunk, result.all(), strict=True):
                ids[row["key"]] = new_id

    ancestors = []
    for key, unit_id in ids.items():
        ancestor, step = key, 0
        while ancestor is not None:
            ancestors.append({"unit_id": unit_id, "ancestor_id": ids[ancestor], "depth": step})
            ancestor, step = parent_of[ancestor], step + 1
    for start in range(0, len(ancestors), BATCH):
        session.execute(insert(UnitAncestor.__table__), ancestors[start : start + BATCH])

    successions = [
        {
            "predecessor_id": ids[link["predecessor_key"]],
            "successor_id": ids[link["successor_key"]],
            "effective_date": date.fromisoformat(link["effective_date"]),
            "kind": link["kind"],
            "is_default": link["is_default"] == "1",
            "share": Decimal(link["share"]) if link["share"] else None,
            "source": citations[link["source"]],
            "note": link["note"],
        }
        for link in links
    ]
    for start in range(0, len(successions), BATCH):
        session.execute(insert(UnitSuccession.__table__), successions[start : start + BATCH])
    session.flush()
    return f"Loaded {len(ids)} administrative units and {len(successions)} successions."
