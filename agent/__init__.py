"""The Xunjian agent: runs checks on a client server and forwards results to the collector.

Imports only `checks`, the standard library and light dependencies (PyYAML for its config, psutil
only where there is no /proc), never the collector's stack; see docs/agent.md and
docs/benchmarks.md for its footprint.
"""
__version__ = "0.1.0"
