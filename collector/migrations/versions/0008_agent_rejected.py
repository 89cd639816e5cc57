"""hosts: rejected_total, the results an agent's collector refused for good (from the agent block)

Revision ID: 0008_agent_rejected
Revises: 0007
Create Date: 2026-12-06 02:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_agent_rejected'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("rejected_total", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("rejected_total")
