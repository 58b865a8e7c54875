"""dated revocations and reviews, credential versions, one revision per superseded row; rate
limits leave the database

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 17:56:32.127239
"""

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import app.database

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Revocation days are Vietnamese calendar days (app.clock's default zone).
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def upgrade() -> None:
    op.drop_table("rate_limit_windows")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_at", app.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_assessments_supersedes_id"), ["supersedes_id"])

    with op.batch_alter_table("recognitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_on", sa.Date(), nullable=True))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credential_version", sa.Integer(), server_default="1", nullable=False))

    connection = op.get_bind()
    recognitions = sa.table(
        "recognitions",
        sa.column("id", sa.Integer),
        sa.column("revoked_at", app.database.UTCDateTime(timezone=True)),
        sa.column("revoked_on", sa.Date),
    )
    for row_id, revoked_at in connection.execute(
        sa.select(recognitions.c.id, recognitions.c.revoked_at).where(recognitions.c.revoked_at.is_not(None))
    ).all():
        connection.execute(
            recognitions.update()
            .where(recognitions.c.id == row_id)
            .values(revoked_on=revoked_at.astimezone(VIETNAM).date())
        )
    # The review time was not kept before: the last change of a reviewed or decided row is the
    # closest record of it (a decision changed the row later, so this errs towards later).
    assessments = sa.table(
        "assessments",
        sa.column("reviewed_by_id", sa.Integer),
        sa.column("state", sa.String),
        sa.column("updated_at", app.database.UTCDateTime(timezone=True)),
        sa.column("reviewed_at", app.database.UTCDateTime(timezone=True)),
    )
    connection.execute(
        assessments.update()
        .where(assessments.c.state.in_(("reviewed", "decided")), assessments.c.reviewed_at.is_(None))
        .values(reviewed_at=assessments.c.updated_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("credential_version")

    with op.batch_alter_table("recognitions", schema=None) as batch_op:
        batch_op.drop_column("revoked_on")

    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_assessments_supersedes_id"), type_="unique")
        batch_op.drop_column("reviewed_at")

    op.create_table(
        "rate_limit_windows",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("window_start", app.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_limit_windows")),
    )
