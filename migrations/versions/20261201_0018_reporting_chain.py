"""the yearly reporting chain: periods, deadlines per level and scope, and each unit's report

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 03:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.database

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", app.database.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.database.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "reporting_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_periods")),
        sa.UniqueConstraint("year", "kind", name=op.f("uq_reporting_periods_year_kind")),
    )
    op.create_table(
        "reporting_deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("scope_unit_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["period_id"], ["reporting_periods.id"], name=op.f("fk_reporting_deadlines_period_id_reporting_periods")
        ),
        sa.ForeignKeyConstraint(
            ["scope_unit_id"],
            ["administrative_units.id"],
            name=op.f("fk_reporting_deadlines_scope_unit_id_administrative_units"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_reporting_deadlines_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_deadlines")),
        sa.UniqueConstraint("period_id", "level", "scope_unit_id", name="uq_reporting_deadline_scope"),
    )
    op.create_index(op.f("ix_reporting_deadlines_period_id"), "reporting_deadlines", ["period_id"])
    op.create_table(
        "unit_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("figures", sa.Text(), nullable=True),
        sa.Column("typed", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("submitted_at", app.database.UTCDateTime(), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", app.database.UTCDateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["period_id"], ["reporting_periods.id"], name=op.f("fk_unit_reports_period_id_reporting_periods")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["administrative_units.id"], name=op.f("fk_unit_reports_unit_id_administrative_units")
        ),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["users.id"], name=op.f("fk_unit_reports_submitted_by_id_users")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_unit_reports_decided_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_reports")),
        sa.UniqueConstraint("period_id", "unit_id", name=op.f("uq_unit_reports_period_id_unit_id")),
    )
    op.create_index(op.f("ix_unit_reports_period_id"), "unit_reports", ["period_id"])
    op.create_index(op.f("ix_unit_reports_unit_id"), "unit_reports", ["unit_id"])


def downgrade() -> None:
    op.drop_table("unit_reports")
    op.drop_table("reporting_deadlines")
    op.drop_table("reporting_periods")
