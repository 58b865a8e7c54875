"""Field-by-field differences between two criteria versions.

Lists of things with an `id` (criteria, indicators, levels, overrides, subject groups) are
compared by id, and documents by number, so inserting an indicator shows as one addition, not
as every later one changed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.rules.model import CriteriaVersion


class Change(BaseModel):
    path: str
    change: str  # added | removed | changed
    old: Any = None
    new: Any = None


def _walk(old: Any, new: Any, path: str, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            child = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(Change(path=child, change="added", new=new[key]))
            elif key not in new:
                out.append(Change(path=child, change="removed", old=old[key]))
            else:
                _walk(old[key], new[key], child, out)
    elif (key := _key(old, new)) is not None:
        old_ids = {item[key]: item for item in old}
        new_ids = {item[key]: item for item in new}
        for item_id in [*old_ids, *[i for i in new_ids if i not in old_ids]]:
            child = f"{path}[{item_id}]"
            if item_id not in new_ids:
                out.append(Change(path=child, change="removed", old=old_ids[item_id]))
            elif item_id not in old_ids:
                out.append(Change(path=child, change="added", new=new_ids[item_id]))
            else:
                _walk(old_ids[item_id], new_ids[item_id], child, out)
    elif old != new:
        out.append(Change(path=path, change="changed", old=old, new=new))


def _key(old: Any, new: Any) -> str | None:
    """The field that identifies the items of two lists, if both are lists of such items."""
    if not (isinstance(old, list) and isinstance(new, list) and (old or new)):
        return None
    for key in ("id", "number"):
        if all(isinstance(item, dict) and key in item for item in [*old, *new]):
            values = [item[key] for item in old]
            if len(values) == len(set(values)):
                return key
    return None


def diff_versions(old: CriteriaVersion, new: CriteriaVersion) -> list[Change]:
    changes: list[Change] = []
    _walk(old.model_dump(mode="json"), new.model_dump(mode="json"), "", changes)
    return changes
