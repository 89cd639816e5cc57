"""inspection templates: versions, rollout state, audit, served configs; hosts' reported config version

Revision ID: 0013_templates
Revises: 0012_results_id
Create Date: 2026-12-06 06:10:00

templates holds one row per name with its rollout state (current and previous version, the share of
hosts on the current one); template_versions every applied version, never changed; template_audit
every change with its diff; template_generation one counter row moved by every change (the collector
processes' cache key); template_configs maps an effective config version served to agents to the
template versions it is made of. hosts gain what the agent reports about its central config.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0013_templates'
down_revision = '0012_results_id'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('previous_version', sa.Integer(), nullable=True),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('template_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('yaml_text', sa.Text(), nullable=False),
    sa.Column('match', JSON, nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('checks', JSON, nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['template_id'], ['templates.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('template_id', 'version')
    )
    op.create_index('ix_template_versions_template_id', 'template_versions', ['template_id'], unique=False)
    op.create_table('template_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_version', sa.Integer(), nullable=True),
    sa.Column('to_version', sa.Integer(), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('diff', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_template_audit_template', 'template_audit', ['template'], unique=False)
    op.create_table('template_generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.execute("INSERT INTO template_generation (id, value) VALUES (1, 0)")
    op.create_table('template_configs',
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('sources', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('config_version', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('config_refused_version', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('config_refused_error', sa.String(length=1024), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.drop_column('config_refused_error')
        batch_op.drop_column('config_refused_version')
        batch_op.drop_column('config_version')
    op.drop_table('template_configs')
    op.drop_table('template_generation')
    op.drop_index('ix_template_audit_template', table_name='template_audit')
    op.drop_table('template_audit')
    op.drop_index('ix_template_versions_template_id', table_name='template_versions')
    op.drop_table('template_versions')
    op.drop_table('templates')
