"""Starting and stopping the agent on a host: systemd where it is PID 1, else setsid/nohup + pidfile.

Containers (and the test machine) have no systemd; there the agent is started detached with a pidfile
in the state directory, and the host's row says so.
"""
from __future__ import annotations

from shlex import quote as _q

from deploy.errors import DeployError
from deploy.inventory import Paths
from deploy.ssh import Connection

UNIT_NAME = "xunjian-agent.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT_NAME}"
NOHUP_NOTE = "systemd 非 PID 1，改用 setsid/nohup，pid 文件"


def pid_functions(paths: Paths) -> str:
    """Shell functions: `agent_pid` prints the live agent's pid (matching this config) or fails."""
    return f"""
PIDF={_q(paths.pidfile)}
agent_pid() {{
  p=$(cat "$PIDF" 2>/dev/null) || return 1
  [ -n "$p" ] && [ -d "/proc/$p" ] || return 1
  [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" != Z ] || return 1
  tr '\\0' ' ' < "/proc/$p/cmdline" | grep -qF -- {_q(paths.config_file)} || return 1
  echo "$p"
}}
"""


def is_running(conn: Connection, paths: Paths, systemd: bool) -> bool:
    if systemd:
        return conn.run(f"systemctl is-active --quiet {UNIT_NAME}", check=False).code == 0
    return conn.run(pid_functions(paths) + "agent_pid >/dev/null", check=False).code == 0


def stop(conn: Connection, paths: Paths, systemd: bool) -> None:
    if systemd:
        conn.run(f"systemctl stop {UNIT_NAME} 2>/dev/null || true")
        return
    conn.run(pid_functions(paths) + """
if p=$(agent_pid); then
  kill -TERM "$p"
  i=0
  while agent_pid >/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
  agent_pid >/dev/null && kill -KILL "$p"
fi
rm -f "$PIDF"
""")


def start(conn: Connection, paths: Paths, systemd: bool, restart: bool) -> str:
    """(Re)start the agent; returns how it was started, for the host's row."""
    if systemd:
        verb = "restart" if restart else "start"
        conn.run(f"systemctl daemon-reload && systemctl enable --quiet {UNIT_NAME} && "
                 f"systemctl {verb} {UNIT_NAME}")
        return "systemd"
    if restart:
        stop(conn, paths, systemd=False)
    agent = f"{paths.current}/bin/xunjian-agent"
    started = conn.run(pid_functions(paths) + f"""
agent_pid >/dev/null && exit 0
mkdir -p {_q(paths.state)}
cd /
setsid nohup {_q(agent)} run --config {_q(paths.config_file)} >>{_q(paths.logfile)} 2>&1 </dev/null &
echo $! > "$PIDF"
sleep 1
agent_pid >/dev/null && exit 0
rm -f "$PIDF"
tail -n 3 {_q(paths.logfile)}
exit 1
""", check=False)
    if started.code != 0:
        tail = " / ".join(line.strip() for line in started.stdout.strip().splitlines())
        raise DeployError(f"代理启动后立即退出，日志末尾: {tail[-400:]}")
    return f"{NOHUP_NOTE} {paths.pidfile}"


def install_unit(conn: Connection, unit_text: str, staging: str) -> bool:
    """Write the unit if it changed; True when it did."""
    current = conn.run(f"cat {UNIT_PATH} 2>/dev/null", check=False).stdout
    if current == unit_text:
        return False
    conn.upload_bytes(unit_text.encode("utf-8"), f"{staging}/unit", 0o644)
    conn.run(f"install -m 0644 {_q(staging)}/unit {UNIT_PATH}.tmp && mv -f {UNIT_PATH}.tmp {UNIT_PATH}")
    return True


def remove_unit(conn: Connection) -> None:
    conn.run(f"""
if [ -f {UNIT_PATH} ]; then
  systemctl disable --now --quiet {UNIT_NAME} 2>/dev/null || true
  rm -f {UNIT_PATH}
  systemctl daemon-reload
fi
""")


def log_tail(conn: Connection, paths: Paths, systemd: bool, lines: int = 5) -> str:
    cmd = (f"journalctl -u {UNIT_NAME} -n {lines} --no-pager -o cat" if systemd
           else f"tail -n {lines} {_q(paths.logfile)}")
    return conn.run(cmd + " 2>/dev/null", check=False).stdout.strip()
