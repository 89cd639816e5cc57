"""The ingest hot path: raw batch bytes → validated records → stored rows, check states and tickets.

`records` validates against the one wire model (collector.results.wire) without building a dataclass
per result, and names each refused result's index and field; `store`
inserts idempotently (COPY + INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING on PostgreSQL, one
multi-row INSERT … RETURNING on SQLite); `evaluate` advances check states and tickets with one query
for states, one for active tickets and one upsert; `auth` caches token → host briefly.
"""
