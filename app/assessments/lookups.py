"""The two hottest reads, served on the asyncio engine without a thread per request: a
subject's title status (ward portals, staff) and the public title check (citizens' phones).

They run the same SQL as everything else (the query builders of service.py and the registry)
and write nothing: reads of a person are journalled by the access log, and a digest found
under an earlier national-ID key is re-keyed by a background job.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import date
from functools import cache

from sqlalchemy import CompoundSelect, bindparam, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from app import clock
from app.assessments.schemas import TitleStatus
from app.assessments.service import status_items, status_query
from app.auth.principal import Principal
from app.exceptions import NotFound
from app.registry.models import Person
from app.registry.national_id import NationalIds
from app.registry.service import SUBJECT_TITLE, home_unit_ancestors_statement, sees_subject, sees_subjects
from app.rules import TitleCode

# (person id, key version found, digest under the current key, current key version)
Rekey = Callable[[int, int, str, int], None]
_BY_DIGEST = select(Person.id, Person.birth_date, Person.national_id_key_version).where(
    Person.national_id_hmac.in_(bindparam("digests", expanding=True))
)


VISIBLE = 0  # rank of the rows naming the units above the subject's home unit


@cache
def _status_and_ancestors(title: TitleCode) -> CompoundSelect:
    """status_query's rows and, with rank VISIBLE, the units above the subject's home unit (none
    when the subject does not exist): one round trip, and one SQL text whatever the caller's
    units (no IN list to render per request). The units come last so the result's column types
    are those of the recognitions."""
    ancestors = home_unit_ancestors_statement(title).subquery()
    units = select(literal(VISIBLE), ancestors.c.ancestor_id, *(null() for _ in range(8)))
    return union_all(*status_query(title).selects, units)


async def title_status(
    engine: AsyncEngine, principal: Principal, kind: str, subject_id: int, as_of: date
) -> list[TitleStatus]:
    """Every period of the subject's title, within the caller's jurisdiction (404 otherwise)."""
    title = SUBJECT_TITLE[kind]
    if not sees_subjects(principal):
        raise NotFound("Không tìm thấy đối tượng.")
    async with engine.connect() as connection:
        rows = (await connection.execute(_status_and_ancestors(title), {"subject_id": subject_id})).all()
    if not sees_subject(principal, (row[1] for row in rows if row[0] == VISIBLE)):
        raise NotFound("Không tìm thấy đối tượng.")
    return status_items(title, [row for row in rows if row[0] != VISIBLE], as_of)


async def public_title_check(
    engine: AsyncEngine, ids: NationalIds, national_id: str, birth_date: date, rekey: Rekey | None
) -> list[TitleStatus]:
    """Titles of the person with this national ID and date of birth, for the person's phone.

    An unknown ID, a wrong date of birth and a person without titles all give an empty list,
    and every path runs the same queries (the lookup by digest, then the status query, for id 0
    when there is no match), so neither the answer nor its timing tells them apart.
    """
    async with engine.connect() as connection:
        found = (await connection.execute(_BY_DIGEST, {"digests": ids.digests(national_id)})).first()
        matches = found is not None and hmac.compare_digest(str(found.birth_date), str(birth_date))
        subject = {"subject_id": found.id if matches else 0}
        rows = status_items(
            TitleCode.CITIZEN, (await connection.execute(status_query(TitleCode.CITIZEN), subject)).all(), clock.today()
        )
    if not matches:
        return []
    version = found.national_id_key_version
    if version is not None and version != ids.key_version and rekey is not None:
        rekey(found.id, version, ids.digest(national_id), ids.key_version)
    return [row for row in rows if row.state != "none"]
