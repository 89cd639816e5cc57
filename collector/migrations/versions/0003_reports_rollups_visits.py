"""monthly report: daily result rollups, return visits (用户回访), stored reports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 14:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('result_rollups',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('host_id', sa.Integer(), nullable=False),
    sa.Column('check', sa.String(length=128), nullable=False),
    sa.Column('system', sa.String(length=16), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Integer(), nullable=False),
    sa.Column('warning', sa.Integer(), nullable=False),
    sa.Column('critical', sa.Integer(), nullable=False),
    sa.Column('unknown', sa.Integer(), nullable=False),
    sa.Column('observed_seconds', sa.Float(), nullable=False),
    sa.Column('bad_seconds', sa.Float(), nullable=False),
    sa.Column('observed_work_seconds', sa.Float(), nullable=False),
    sa.Column('bad_work_seconds', sa.Float(), nullable=False),
    sa.Column('critical_events', sa.Float(), nullable=False),
    sa.Column('warning_events', sa.Float(), nullable=False),
    sa.Column('disk', JSON, nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', 'host_id', 'check')
    )
    op.create_index('ix_result_rollups_host_check_day', 'result_rollups', ['host_id', 'check', 'day'], unique=False)
    op.create_index('ix_result_rollups_type_day', 'result_rollups', ['type', 'day'], unique=False)

    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('unit', sa.String(length=128), nullable=False),
    sa.Column('customer_name', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('answers', JSON, nullable=False),
    sa.Column('satisfaction', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('engineer_name', sa.String(length=64), nullable=False),
    sa.Column('engineer_number', sa.String(length=32), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_visits_date', 'visits', ['date'], unique=False)
    op.create_index('ix_visits_unit', 'visits', ['unit'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('unit', sa.String(length=128), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('generated_by', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('month', 'unit', 'format', name='uq_reports_month_unit_format')
    )


def downgrade() -> None:
    op.drop_table('reports')
    op.drop_index('ix_visits_unit', table_name='visits')
    op.drop_index('ix_visits_date', table_name='visits')
    op.drop_table('visits')
    op.drop_index('ix_result_rollups_type_day', table_name='result_rollups')
    op.drop_index('ix_result_rollups_host_check_day', table_name='result_rollups')
    op.drop_table('result_rollups')
