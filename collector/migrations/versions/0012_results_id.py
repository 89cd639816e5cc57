"""results: an index led by id, so that one result id is stored once whatever its started_at

Revision ID: 0012_results_id
Revises: 0011_job_failures
Create Date: 2026-12-06 02:40:00

The primary key is (started_at, id) because PostgreSQL partitions `results` by month of started_at, and a
unique index of a partitioned table must hold the partition key. Ingest therefore looks an id up before
it stores it (collector.ingest.store), within the two days around started_at that the id's own UUIDv7
time allows (collector.ingest.records): this index makes that a probe. SQLite has no partitions: there
the index is unique (older duplicates of an id are removed first, the first stored kept). On PostgreSQL
the index is built on every partition and blocks writes to `results` meanwhile: upgrade in a quiet moment.
"""
from alembic import op

revision = '0012_results_id'
down_revision = '0011_job_failures'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # started_at too: a look-up is `id = X AND started_at BETWEEN …`, one probe of this index
        op.create_index('ix_results_id', 'results', ['id', 'started_at'], unique=False)
    else:
        op.execute("DELETE FROM results WHERE rowid NOT IN (SELECT min(rowid) FROM results GROUP BY id)")
        op.create_index('ix_results_id', 'results', ['id'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_results_id', table_name='results')
