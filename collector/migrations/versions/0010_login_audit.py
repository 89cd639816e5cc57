"""login_audit: refused console logins (who, from where, when, why)

Revision ID: 0010_login_audit
Revises: 0009_calendar
Create Date: 2026-12-06 02:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_login_audit'
down_revision = '0009_calendar'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_audit',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('name', sa.String(length=64), nullable=False),
                    sa.Column('ip', sa.String(length=64), nullable=False),
                    sa.Column('user_agent', sa.String(length=300), nullable=False),
                    sa.Column('reason', sa.String(length=32), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('login_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_audit_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_audit_name'), ['name'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_audit_name'))
        batch_op.drop_index(batch_op.f('ix_login_audit_at'))
    op.drop_table('login_audit')
