"""targets say whether their sentence is the document's words, and where it was read;
province-level targets use the title code `province`

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sentence_kind", sa.String(length=16), server_default="verbatim", nullable=False))
        batch_op.add_column(sa.Column("quoted_from", sa.Text(), nullable=True))
    # "thành phố học tập" / "tỉnh học tập" targets were entered as `city`; the title is `province`.
    op.execute("UPDATE targets SET title = 'province' WHERE title = 'city'")


def downgrade() -> None:
    op.execute("UPDATE targets SET title = 'city' WHERE title = 'province'")
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_column("quoted_from")
        batch_op.drop_column("sentence_kind")
