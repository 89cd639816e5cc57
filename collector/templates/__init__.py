"""Inspection templates: named, versioned sets of checks assigned to hosts by labels and pulled by agents
(`GET /api/v1/agent/config`), published in stages and rolled back in one step (docs/templates.md)."""
