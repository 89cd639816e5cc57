"""Tailing log files for the `log` check: which files (files), what is new (reader), what matches (matcher)."""
