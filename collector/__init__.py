"""The collector: ingest, hosts, anomaly → ticket, SLA clocks, reports, console, /metrics."""
