"""The check library: the bottom layer, shared by agent, alerts and collector.

Imports none of the project's other packages (tests/test_layering.py keeps it so).
"""
