"""Periodic jobs (offline agents, SLA timers, rollups, reports), run once per period across processes."""
