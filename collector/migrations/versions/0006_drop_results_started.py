"""results: drop ix_results_started, which the primary key (started_at, id) already provides

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 16:50:00

Every query by time alone (retention, newest results, rollups) can use the primary key's index, whose
first column is started_at; the extra index only cost a B-tree insert per stored result (about a sixth
of PostgreSQL's work per ingested batch).
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_results_started', table_name='results')


def downgrade() -> None:
    op.create_index('ix_results_started', 'results', ['started_at'], unique=False)
