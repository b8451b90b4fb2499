"""Initial schema: activity types, mentors, activities and their indexes.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from personal_stats.storage.models import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_type",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("code", sa.String(length=64), nullable=False, unique=True),
        sa.Column("name", sa.String(), nullable=False),
    )
    op.create_table(
        "mentor",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
    )
    op.create_table(
        "activity",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("mentor_id", sa.String(length=64), sa.ForeignKey("mentor.id"), nullable=False),
        sa.Column(
            "activity_type_id",
            sa.String(length=64),
            sa.ForeignKey("activity_type.id"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
    )
    op.create_index("ix_activity_mentor_started", "activity", ["mentor_id", "started_at"])
    op.create_index("ix_activity_status_started", "activity", ["status", "started_at", "mentor_id"])


def downgrade() -> None:
    op.drop_table("activity")
    op.drop_table("mentor")
    op.drop_table("activity_type")
