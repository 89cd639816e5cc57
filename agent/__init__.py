"""The Xunjian agent: runs checks on a client server and forwards results to the collector.

Imports only `checks` and light dependencies (psutil, PyYAML, schedule, stdlib) so it stays
lighter than node_exporter; see docs/benchmarks.md.
"""
__version__ = "0.1.0"
