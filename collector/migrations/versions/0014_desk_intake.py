"""hotline desk: contact person/phone, hand-off, support level, 7×24 support windows

Revision ID: 0014_desk_intake
Revises: 0013_templates
Create Date: 2026-12-06 06:10:00

tickets gain the intake's contact person and phone, the hand-off to another department (status
handed_off), the highest support step given (phone/remote/onsite) and the 7×24 window a case was
reported in (its kind and end copied for the due time). support_windows holds those windows; they are
not maintenance windows (those suppress tickets).
"""
from alembic import op
import sqlalchemy as sa

revision = '0014_desk_intake'
down_revision = '0013_templates'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('support_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=128), nullable=False),
    sa.Column('host', sa.String(length=128), nullable=False),
    sa.Column('system', sa.String(length=16), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_by', sa.String(length=64), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('support_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_windows_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_windows_ends_at'), ['ends_at'], unique=False)
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        for name, length in (('contact_person', 64), ('contact_phone', 40), ('handed_to', 128),
                             ('support_level', 16), ('window_kind', 16)):
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('handoff_note', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('handed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('window_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('window_ends_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_tickets_window_id'), ['window_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_window_id'))
        for name in ('window_ends_at', 'window_id', 'handed_at', 'handoff_note', 'window_kind', 'support_level',
                     'handed_to', 'contact_phone', 'contact_person'):
            batch_op.drop_column(name)
    with op.batch_alter_table('support_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_windows_ends_at'))
        batch_op.drop_index(batch_op.f('ix_support_windows_starts_at'))
    op.drop_table('support_windows')
