"""Alembic migration scripts of the schema."""
