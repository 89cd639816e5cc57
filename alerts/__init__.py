"""Alerting: rules that turn results into tickets, and notifications about them (imports only checks)."""
