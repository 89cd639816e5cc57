"""The optional local Prometheus endpoint, text exposition format written by hand."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from agent import __version__

log = logging.getLogger(__name__)


def _esc(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**kv: str) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in kv.items()) + "}" if kv else ""


def render(agent: Any) -> str:
    """All metrics of a running `agent.daemon.Agent` as Prometheus text."""
    stats, spool = agent.stats, agent.spool
    out: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            out.append(f"{name}{labels} {value:g}" if isinstance(value, float) else f"{name}{labels} {value}")

    family("xunjian_agent_up", "gauge", "1 while the agent runs.", [("", 1)])
    family("xunjian_agent_info", "gauge", "Agent version and host name.",
           [(_labels(version=__version__, host=agent.cfg.host), 1)])
    family("xunjian_agent_check_status", "gauge",
           "Last status of each check (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).",
           [(_labels(check=c, system=s), v) for (c, s), v in sorted(stats.check_status.items())])
    family("xunjian_agent_check_duration_seconds", "gauge", "Duration of the last run of each check.",
           [(_labels(check=c), float(v)) for c, v in sorted(stats.check_duration.items())])
    family("xunjian_agent_checks_skipped_total", "counter",
           "Turns skipped because the previous run of the check was still running.",
           [(_labels(check=c), v) for c, v in sorted(stats.skipped.items())])
    family("xunjian_agent_spool_results", "gauge", "Results waiting in the spool.", [("", spool.depth)])
    family("xunjian_agent_spool_bytes", "gauge", "Bytes of results waiting in the spool (stored, compressed).",
           [("", spool.bytes)])
    family("xunjian_agent_spool_disk_bytes", "gauge", "Bytes the spool takes on disk (database and WAL).",
           [("", spool.disk_bytes)])
    family("xunjian_agent_spool_degraded", "gauge", "1 while the spool cannot write to disk.",
           [("", int(spool.degraded))])
    family("xunjian_agent_results_dropped_total", "counter", "Results dropped (spool full or too old).",
           [("", spool.dropped_total)])
    family("xunjian_agent_results_sent_total", "counter", "Results acknowledged by the collector.",
           [("", stats.results_total)])
    family("xunjian_agent_results_rejected_total", "counter", "Results the collector refused for good.",
           [("", agent.sender.rejected.total)])
    family("xunjian_agent_send_errors_total", "counter", "Failed sends by reason.",
           [(_labels(reason=r), v) for r, v in sorted(stats.send_errors.items())])
    family("xunjian_agent_last_send_success_timestamp_seconds", "gauge",
           "Unix time of the last request the collector acknowledged.", [("", float(stats.last_send_ok))])
    return "\n".join(out) + "\n"


def serve(listen: tuple[str, int], render_fn: Callable[[], str]) -> Any:
    """Start the endpoint in a daemon thread; returns the server (call .shutdown() to stop)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = render_fn().encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes are not worth a log line

    server = ThreadingHTTPServer(listen, Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    host, port = server.server_address[:2]
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server
