"""accounts created in bulk: one-time activation codes (no password until activated)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 02:45:00

An account waiting for activation keeps an unusable password marker in `users.password_hash`
(the column stays NOT NULL: making it nullable would rebuild `users` on SQLite, and dropping the
old table there runs the ON DELETE CASCADE of every account's units and tokens).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.database

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activation_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("import_job_id", sa.Integer(), nullable=True),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_at", app.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", app.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", app.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", app.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_job_id"],
            ["import_jobs.id"],
            name=op.f("fk_activation_codes_import_job_id_import_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"], ["users.id"], name=op.f("fk_activation_codes_issued_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_activation_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_activation_codes_code_hash")),
    )
    with op.batch_alter_table("activation_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activation_codes_import_job_id"), ["import_job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activation_codes_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    # Accounts still waiting for activation keep their unusable marker: they cannot sign in
    # without this revision either (the marker is no Argon2 hash).
    with op.batch_alter_table("activation_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activation_codes_user_id"))
        batch_op.drop_index(batch_op.f("ix_activation_codes_import_job_id"))

    op.drop_table("activation_codes")
