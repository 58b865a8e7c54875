"""access events carry the key of their journal entry

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person_access_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_key", sa.String(length=32), nullable=True))
        batch_op.create_index("ux_person_access_events_event_key", ["event_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("person_access_events", schema=None) as batch_op:
        batch_op.drop_index("ux_person_access_events_event_key")
        batch_op.drop_column("event_key")
