"""The production nginx front (deploy/production/nginx-xunjian.conf): `nginx -t` accepts it, and it keeps
the slow-client and per-address limits that match the collector's own."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from collector.config import ServerSettings
from tests.helpers.certs import make_cert

CONF = Path(__file__).resolve().parents[2] / "deploy" / "production" / "nginx-xunjian.conf"


def nginx() -> str:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if exe is None:
        if os.environ.get("XUNJIAN_REQUIRE_SERVICES") == "1":
            pytest.fail("nginx is not installed (scripts/system-packages.txt)")
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    return exe


def test_nginx_accepts_the_production_config(tmp_path: Path) -> None:
    crt, key = make_cert("xunjian.example.internal", dns=("xunjian.example.internal",)).write(tmp_path / "xunjian")
    site = CONF.read_text(encoding="utf-8")
    assert "/etc/nginx/tls/xunjian.crt" in site and "/etc/nginx/tls/xunjian.key" in site
    (tmp_path / "xunjian.conf").write_text(site.replace("/etc/nginx/tls/xunjian.crt", str(crt))
                                           .replace("/etc/nginx/tls/xunjian.key", str(key)), encoding="utf-8")
    # the file goes inside nginx.conf's http block, as in /etc/nginx/conf.d/
    main = tmp_path / "nginx.conf"
    main.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                    f"http {{\n    access_log off;\n    include {tmp_path}/xunjian.conf;\n}}\n", encoding="utf-8")
    proc = subprocess.run([nginx(), "-t", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "syntax is ok" in proc.stderr and "test is successful" in proc.stderr


def _seconds(directive: str, text: str) -> float:
    m = re.search(rf"^\s*{directive}\s+(\d+)s;", text, re.M)
    assert m, f"{directive} missing"
    return float(m.group(1))


def test_the_front_repeats_the_collectors_limits() -> None:
    text = CONF.read_text(encoding="utf-8")
    server = ServerSettings()
    assert _seconds("client_header_timeout", text) == server.header_timeout
    assert _seconds("client_body_timeout", text) == server.body_timeout
    m = re.search(r"^\s*limit_conn xunjian_conn (\d+);", text, re.M)
    assert m and int(m.group(1)) == server.max_connections_per_address
    assert re.search(r"^\s*proxy_set_header X-Forwarded-For \$remote_addr;", text, re.M)
    assert "limit_req zone=xunjian_login" in text
