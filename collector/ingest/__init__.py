"""The ingest hot path: raw batch bytes → validated records → stored rows, check states and tickets
(the flow, statement by statement: docs/ingest.md)."""
