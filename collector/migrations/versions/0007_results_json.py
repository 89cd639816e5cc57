"""results: metrics and details as json instead of jsonb (PostgreSQL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 00:30:00

Nothing queries inside a stored result's metrics or details: they are written once and read back whole.
jsonb parses each value into its binary form on insert (about a fifth of PostgreSQL's work per ingested
batch); json only checks the syntax and keeps the text. The change rewrites every results partition
once, so an upgrade takes time in proportion to the results kept (the retention period). SQLite stores
JSON as text either way: nothing to do there.
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE results ALTER COLUMN metrics TYPE json USING metrics::json, "
                   "ALTER COLUMN details TYPE json USING details::json")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE results ALTER COLUMN metrics TYPE jsonb USING metrics::jsonb, "
                   "ALTER COLUMN details TYPE jsonb USING details::jsonb")
