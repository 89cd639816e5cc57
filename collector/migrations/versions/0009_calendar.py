"""working calendar imported into the database; due times marked when computed on the fallback

Revision ID: 0009_calendar
Revises: 0008_agent_rejected
Create Date: 2026-12-06 02:40:00

calendar_imports keeps every import (who, when, the text as pasted); the newest row of a year is the
one in force, and the table's highest id is the generation every collector process compares with its
own to notice an import made elsewhere. tickets.calendar_fallback marks a response due time computed
on the Mon–Fri fallback (a year without holiday data).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0009_calendar'
down_revision = '0008_agent_rejected'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('calendar_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('source_text', sa.Text(), nullable=False),
    sa.Column('holidays', JSON, nullable=False),
    sa.Column('workdays', JSON, nullable=False),
    sa.Column('imported_by', sa.String(length=64), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tickets_recomputed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('calendar_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_imports_year'), ['year'], unique=False)
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_fallback', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('calendar_fallback')
    with op.batch_alter_table('calendar_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_imports_year'))
    op.drop_table('calendar_imports')
