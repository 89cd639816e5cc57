"""results: index (host_id, started_at) for a host's results in time order without a check filter

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:56:00

Without it, "results of host X since yesterday" walks every host's rows of the period (10,000 hosts:
a million rows a day). On PostgreSQL the index is created on every monthly partition; this blocks
writes to `results` while it builds (seconds per million rows): run the upgrade in a quiet moment.
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_results_host_started', 'results', ['host_id', 'started_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_results_host_started', table_name='results')
