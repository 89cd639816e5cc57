"""The check library: the bottom layer, shared by agent, alerts and collector.

Imports none of the project's other packages (tests/test_layering.py keeps it so).
"""
from checks.model import Metric, Result, Status, System, worst

__all__ = ["Metric", "Result", "Status", "System", "worst"]
