"""job failures counted; monthly reports that failed, kept with their reason until made

Revision ID: 0011_job_failures
Revises: 0010_login_audit
Create Date: 2026-12-06 02:30:00

`job_runs.failures` counts every failed run of a job (exported as xunjian_job_failures_total, read
from the database so each collector process answers the same). `report_failures` holds one row per
(month, unit) whose automatic report failed, shown in the console until a later try succeeds.
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_job_failures'
down_revision = '0010_login_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('job_runs', sa.Column('failures', sa.Integer(), nullable=False, server_default='0'))
    op.create_table('report_failures',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('unit', sa.String(length=128), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'unit')
    )


def downgrade() -> None:
    op.drop_table('report_failures')
    with op.batch_alter_table('job_runs') as batch:
        batch.drop_column('failures')
