"""Deferrable activity references, so that an import may hold activities before their mentor.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCES = {"mentor_id": "mentor", "activity_type_id": "activity_type"}
# SQLite's references have no names; batch mode names them by this convention to drop them.
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    _set_deferrable(deferrable=True)


def downgrade() -> None:
    _set_deferrable(deferrable=False)


def _set_deferrable(*, deferrable: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        clause = "DEFERRABLE INITIALLY IMMEDIATE" if deferrable else "NOT DEFERRABLE"
        for column in REFERENCES:
            op.execute(f"ALTER TABLE activity ALTER CONSTRAINT activity_{column}_fkey {clause}")
        return
    # SQLite cannot alter a constraint: batch mode rebuilds the table with new ones.
    with op.batch_alter_table("activity", naming_convention=NAMING, recreate="always") as batch:
        for column, table in REFERENCES.items():
            name = f"fk_activity_{column}_{table}"
            batch.drop_constraint(name, type_="foreignkey")
            options = {"deferrable": True, "initially": "IMMEDIATE"} if deferrable else {}
            batch.create_foreign_key(name, table, [column], ["id"], **options)  # type: ignore[arg-type]
