"""console pages at fleet size: host list order, problem hosts, a channel's latest deliveries

Revision ID: 0015_desk_pages
Revises: 0014_desk_intake
Create Date: 2026-12-06 06:20:00

`hosts (unit, name)` is the host list's order, so a page is read off the index; `check_states (status,
host_id)` finds the hosts with a check not OK without reading every state, `(system, status, host_id)` the
hosts running a system (and not OK in it); `outbox (channel, id)` gives a
channel's latest messages, and `outbox.last_attempt_at` says when a failed one was last tried.
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_desk_pages'
down_revision = '0014_desk_intake'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_hosts_unit_name', 'hosts', ['unit', 'name'], unique=False)
    op.create_index('ix_check_states_status_host', 'check_states', ['status', 'host_id'], unique=False)
    op.create_index('ix_check_states_system_status_host', 'check_states', ['system', 'status', 'host_id'],
                    unique=False)
    op.create_index('ix_outbox_channel_id', 'outbox', ['channel', 'id'], unique=False)
    op.add_column('outbox', sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('last_attempt_at')
    op.drop_index('ix_outbox_channel_id', table_name='outbox')
    op.drop_index('ix_check_states_system_status_host', table_name='check_states')
    op.drop_index('ix_check_states_status_host', table_name='check_states')
    op.drop_index('ix_hosts_unit_name', table_name='hosts')
