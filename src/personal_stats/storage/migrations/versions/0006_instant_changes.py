"""The change log keeps each completed instant a write added or took away (the peer index
follows them), and when a mentor was erased.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from personal_stats.storage.models import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activity_change") as table:
        table.add_column(sa.Column("erased_at", UtcDateTime(), nullable=True))
    op.create_index("ix_activity_change_erased_at", "activity_change", ["erased_at"])
    op.create_table(
        "instant_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.String(64), nullable=False),
        sa.Column("second", sa.BigInteger(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
    )
    op.create_index("ix_instant_change_version", "instant_change", ["version"])


def downgrade() -> None:
    op.drop_index("ix_instant_change_version", "instant_change")
    op.drop_table("instant_change")
    op.drop_index("ix_activity_change_erased_at", "activity_change")
    with op.batch_alter_table("activity_change") as table:
        table.drop_column("erased_at")
