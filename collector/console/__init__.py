"""The web console for the operations team: server-rendered pages in Chinese under /console.

`install(app)` adds the routes, the security headers and the HTML error pages. Console pages use a
cookie session (table console_sessions); the JSON API keeps requiring `Authorization: Bearer`.
"""
from __future__ import annotations

from collector.console.setup import install

__all__ = ["install"]
