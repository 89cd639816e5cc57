"""What each sub-command does on one host: install, upgrade, rollback, uninstall, status.

Re-running is safe: a release whose bundle sha256 is already installed is not copied again, the config
and unit are rewritten only when their content changed, enrollment happens only when the host has no
token yet (or --re-enroll), and the agent is restarted only when something it reads changed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from shlex import quote as _q
from typing import Any, Callable

from deploy import service
from deploy.bundle import Bundle
from deploy.collector_api import CollectorClient
from deploy.errors import DeployError
from deploy.inventory import Host, Inventory, Paths
from deploy.output import HostReport, RolloutOutput, Secrets
from deploy.render import agent_config, agent_unit, sha256_text
from deploy.ssh import Connection

MARKER = ".xunjian-bundle.sha256"


@dataclass
class RunOptions:
    bundle: Bundle | None = None
    trust_on_first_use: bool = False
    verify_timeout: float = 90.0
    re_enroll: bool = False
    purge: bool = False
    keep: int = 3
    to_version: str | None = None


@dataclass
class Context:
    inv: Inventory
    opts: RunOptions
    out: RolloutOutput
    secrets: Secrets
    api: CollectorClient | None = None


@dataclass
class Facts:
    python: str = ""
    systemd: bool = False
    current: str = ""
    previous: str = ""
    releases: list[str] = field(default_factory=list)
    token: bool = False
    config_sha: str = ""


def _facts(conn: Connection, host: Host, paths: Paths) -> Facts:
    script = f"""
py=$({_q(host.python)} -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || py=
echo "python=$py"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then echo systemd=1; else echo systemd=0; fi
echo "current=$(basename "$(readlink {_q(paths.current)} 2>/dev/null)" 2>/dev/null)"
echo "previous=$(basename "$(readlink {_q(paths.previous)} 2>/dev/null)" 2>/dev/null)"
for d in {_q(paths.releases)}/*/; do
  [ -f "$d{MARKER}" ] && echo "release=$(basename "$d")=$(cat "$d{MARKER}")"
done
[ -s {_q(paths.token_file)} ] && echo token=1
echo "config_sha=$(sha256sum {_q(paths.config_file)} 2>/dev/null | cut -d' ' -f1)"
true
"""
    f = Facts()
    for line in conn.run(script).stdout.splitlines():
        key, _, value = line.partition("=")
        if key == "python":
            f.python = value
        elif key == "systemd":
            f.systemd = value == "1"
        elif key == "current":
            f.current = value
        elif key == "previous":
            f.previous = value
        elif key == "release":
            f.releases.append(value)
        elif key == "token":
            f.token = True
        elif key == "config_sha":
            f.config_sha = value
    return f


def _release_sha(facts: Facts, version: str) -> str:
    for entry in facts.releases:
        name, _, sha = entry.partition("=")
        if name == version:
            return sha
    return ""


class _Staging:
    """A private (0700) temp dir on the host owned by the login user, so sftp can write into it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.path = ""

    def __enter__(self) -> str:
        sudo, self.conn.sudo = self.conn.sudo, False
        try:
            self.path = self.conn.run("mktemp -d /tmp/xunjian-deploy.XXXXXXXX").stdout.strip()
        finally:
            self.conn.sudo = sudo
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self.path.startswith("/tmp/xunjian-deploy."):
            try:
                self.conn.run(f"rm -rf {_q(self.path)}", check=False)
            except Exception:  # the session died: keep the original error, not this one
                pass


def _install_release(conn: Connection, ctx: Context, host: Host, staging: str, bundle: Bundle) -> None:
    paths = ctx.inv.paths
    rel = f"{paths.releases}/{bundle.version}"
    ctx.out.progress(host.name, f"上传安装包 {bundle.path.name}")
    conn.upload(bundle.path, f"{staging}/bundle.tar.gz")
    ctx.out.progress(host.name, f"安装版本 {bundle.version} 到 {rel}")
    wheels = f"{staging}/{bundle.top}/wheels"
    conn.run(f"""
set -e
echo "{bundle.sha256}  {staging}/bundle.tar.gz" | sha256sum -c --quiet - ||
  {{ echo "安装包 sha256 校验失败" >&2; exit 1; }}
tar -xzf {_q(staging)}/bundle.tar.gz -C {_q(staging)}
mkdir -p {_q(paths.releases)}
rm -rf {_q(rel)}
{_q(host.python)} -m venv --without-pip {_q(rel)}
pipwhl=$(ls {_q(wheels)}/pip-*.whl | head -n 1)
{_q(rel)}/bin/python "$pipwhl/pip" install -q --no-index --disable-pip-version-check \\
  --root-user-action=ignore --find-links {_q(wheels)} {_q(bundle.manifest["requirement"])} pip
{_q(rel)}/bin/xunjian-agent --version >/dev/null
cp {_q(f"{staging}/{bundle.top}/manifest.json")} {_q(rel)}/manifest.json
echo {bundle.sha256} > {_q(rel)}/{MARKER}
""", timeout=900)


def _switch_current(conn: Connection, paths: Paths, version: str, previous: str) -> None:
    """Point `current` at the release atomically (rename over the old link); remember the old one."""
    script = f"""
set -e
cd {_q(paths.install)}
ln -sfn releases/{_q(version)} .current.tmp && mv -Tf .current.tmp current
"""
    if previous and previous != version:
        script += f"ln -sfn releases/{_q(previous)} .previous.tmp && mv -Tf .previous.tmp previous\n"
    conn.run(script)


def _prune(conn: Connection, paths: Paths, keep: int, protect: list[str]) -> None:
    """Keep the newest `keep` releases (and always current and previous)."""
    keep_names = " ".join(_q(p) for p in protect if p)
    conn.run(f"""
cd {_q(paths.releases)} 2>/dev/null || exit 0
n=0
for d in $(ls -1t); do
  n=$((n+1))
  case " {keep_names} " in *" $d "*) continue;; esac
  [ $n -gt {int(keep)} ] && rm -rf -- "$d"
done
true
""", check=False)


def _write_file(conn: Connection, staging: str, data: str, dest: str, mode: int) -> None:
    name = dest.rsplit("/", 1)[-1]
    conn.upload_bytes(data.encode("utf-8"), f"{staging}/{name}", mode)
    directory = dest.rsplit("/", 1)[0]
    conn.run(f"mkdir -p {_q(directory)} && chmod 0750 {_q(directory)} && "
             f"install -m {mode:04o} {_q(staging)}/{name} {_q(dest)}.tmp && mv -f {_q(dest)}.tmp {_q(dest)}")


def _verify(ctx: Context, host: Host, conn: Connection, after_id: Any, systemd: bool) -> str:
    assert ctx.api is not None
    ctx.out.progress(host.name, f"等待首个检查结果到达采集端（最多 {ctx.opts.verify_timeout:.0f}s）")
    item = ctx.api.wait_for_new_result(host.name, after_id, ctx.opts.verify_timeout)
    if item is None:
        tail = service.log_tail(conn, ctx.inv.paths, systemd)
        raise DeployError(f"代理已启动，但 {ctx.opts.verify_timeout:.0f}s 内采集端未收到结果"
                          + (f"；日志末尾: {tail[-300:]}" if tail else ""))
    return f"结果已到达（{item.get('check', '?')} @ {item.get('started_at', '?')}）"


def _restart_and_verify(conn: Connection, ctx: Context, host: Host, systemd: bool, running: bool) -> str:
    """Stop the old agent first so its last flush is in before we note the latest result, then start."""
    paths = ctx.inv.paths
    if running:
        service.stop(conn, paths, systemd)
    latest = ctx.api.latest_result(host.name) if ctx.api else None
    how = service.start(conn, paths, systemd, restart=False)
    note = ("已重启" if running else "已启动") + f"（{how}）"
    if ctx.api is None:
        return note
    return note + "；" + _verify(ctx, host, conn, latest.get("id") if latest else None, systemd)


def deploy(conn: Connection, ctx: Context, host: Host, upgrade: bool) -> tuple[str, str, str]:
    """install / upgrade: returns (result, version, message)."""
    bundle = ctx.opts.bundle
    assert bundle is not None and ctx.api is not None
    paths = ctx.inv.paths
    facts = _facts(conn, host, paths)
    notes: list[str] = []
    if not facts.python:
        raise DeployError(f"主机上找不到 {host.python}")
    if facts.python != bundle.python:
        raise DeployError(f"主机 Python 为 {facts.python}，安装包为 {bundle.python}："
                          f"请用 xunjian-deploy bundle --python {facts.python} 构建")
    if upgrade and not facts.current:
        raise DeployError("尚未安装，请先执行 install")
    changed = False
    release_bin = f"{paths.releases}/{bundle.version}/bin/xunjian-agent"
    with _Staging(conn) as staging:
        if _release_sha(facts, bundle.version) == bundle.sha256:
            notes.append(f"版本 {bundle.version} 已存在，跳过复制")
        else:
            _install_release(conn, ctx, host, staging, bundle)
            notes.append(f"已安装 {bundle.version}")
            changed = True  # also when a rebuilt bundle replaced the running release's files
        # Validate with the release about to run it, before enrolling or switching anything.
        text = agent_config(host, ctx.inv.collector, paths)
        config_changed = sha256_text(text) != facts.config_sha
        if config_changed:
            # The same config against a stand-in token file: the real token may not exist yet.
            probe = agent_config(host, ctx.inv.collector, paths, token_file=f"{staging}/probe.token")
            conn.upload_bytes(b"validation-only\n", f"{staging}/probe.token", 0o600)
            conn.upload_bytes(probe.encode("utf-8"), f"{staging}/probe.yaml", 0o600)
            check = conn.run(f"{_q(release_bin)} validate {_q(staging)}/probe.yaml", check=False)
            if check.code != 0:
                detail = (check.stderr.strip() or check.stdout.strip())[-400:]
                raise DeployError(f"代理配置校验失败: {detail}")
        if not facts.token or ctx.opts.re_enroll:
            ctx.out.progress(host.name, "向采集端注册")
            token = ctx.api.enroll(host.name, host.labels)
            ctx.secrets.add(token)
            _write_file(conn, staging, token + "\n", paths.token_file, 0o600)
            notes.append("已注册")
            changed = True
        if config_changed:
            _write_file(conn, staging, text, paths.config_file, 0o640)
            conn.run(f"mkdir -p {_q(paths.state)} && chmod 0750 {_q(paths.state)}")
            notes.append("配置已更新")
            changed = True
        if facts.current != bundle.version:
            _switch_current(conn, paths, bundle.version, facts.current)
            if facts.current:
                notes.append(f"{facts.current} → {bundle.version}（保留旧版本）")
            changed = True
        if facts.systemd and service.install_unit(conn, agent_unit(paths), staging):
            changed = True
    running = service.is_running(conn, paths, facts.systemd)
    if running and not changed:
        _prune(conn, paths, ctx.opts.keep, [bundle.version, facts.previous])
        return "无变化", bundle.version, "；".join([*notes, "运行中，无需重启"])
    try:
        notes.append(_restart_and_verify(conn, ctx, host, facts.systemd, running))
    except DeployError as e:
        if not facts.current or facts.current == bundle.version:
            raise
        # A new release that does not start or report goes back to the one that did.
        _revert(conn, paths, facts)
        service.start(conn, paths, facts.systemd, restart=True)
        raise DeployError(f"{e}；已自动回滚到 {facts.current}（{bundle.version} 保留在 releases/ 中）") from None
    _prune(conn, paths, ctx.opts.keep, [bundle.version, facts.current])
    return "成功", bundle.version, "；".join(notes)


def _revert(conn: Connection, paths: Paths, facts: Facts) -> None:
    """Put `current` and `previous` back as they were before this run."""
    _switch_current(conn, paths, facts.current, "")
    if facts.previous:
        conn.run(f"cd {_q(paths.install)} && ln -sfn releases/{_q(facts.previous)} .previous.tmp && "
                 "mv -Tf .previous.tmp previous")
    else:
        conn.run(f"rm -f {_q(paths.previous)}")


def rollback(conn: Connection, ctx: Context, host: Host) -> tuple[str, str, str]:
    paths = ctx.inv.paths
    facts = _facts(conn, host, paths)
    if not facts.current:
        raise DeployError("尚未安装，无法回滚")
    target = ctx.opts.to_version or facts.previous
    if not target:
        raise DeployError("没有可回滚的上一版本")
    if not _release_sha(facts, target):
        raise DeployError(f"主机上没有完整的版本 {target}")
    if target == facts.current:
        return "无变化", target, f"当前已是 {target}"
    _switch_current(conn, paths, target, facts.current)
    running = service.is_running(conn, paths, facts.systemd)
    note = _restart_and_verify(conn, ctx, host, facts.systemd, running)
    return "成功", target, f"{facts.current} → {target}；{note}"


def _safe(path: str) -> str:
    if not path.startswith("/") or path.rstrip("/").count("/") < 2:
        raise DeployError(f"拒绝删除过浅的路径 {path!r}")
    return _q(path)


def uninstall(conn: Connection, ctx: Context, host: Host) -> tuple[str, str, str]:
    paths = ctx.inv.paths
    facts = _facts(conn, host, paths)
    service.stop(conn, paths, facts.systemd)
    if facts.systemd:
        service.remove_unit(conn)
    conn.run(f"""
rm -rf {_safe(paths.install)}
rm -f {_q(paths.config_file)} {_q(paths.token_file)} {_q(paths.pidfile)}
rmdir {_q(paths.config)} 2>/dev/null || true
""")
    msg = "已停止并删除程序与配置"
    if ctx.opts.purge:
        conn.run(f"rm -rf {_safe(paths.state)}")
        msg += "；状态目录已清除"
    else:
        msg += f"；保留状态目录 {paths.state}"
    if not facts.current:
        return "无变化", "", "未安装；" + msg
    return "成功", facts.current, msg


def status(conn: Connection, ctx: Context, host: Host) -> tuple[str, str, str]:
    paths = ctx.inv.paths
    facts = _facts(conn, host, paths)
    if not facts.current:
        return "未安装", "", "未安装"
    running = service.is_running(conn, paths, facts.systemd)
    parts = [("运行中" if running else "未运行") + ("（systemd）" if facts.systemd else "（nohup）")]
    if facts.previous:
        parts.append(f"上一版本 {facts.previous}")
    if ctx.api is not None:
        try:
            item = ctx.api.latest_result(host.name)
            parts.append(f"最近结果 {item.get('started_at')}" if item else "采集端尚无结果")
        except DeployError as e:
            parts.append(str(e))
    return ("运行中" if running else "已停止"), facts.current, "；".join(parts)


ACTIONS: dict[str, Callable[[Connection, Context, Host], tuple[str, str, str]]] = {
    "install": lambda c, ctx, h: deploy(c, ctx, h, upgrade=False),
    "upgrade": lambda c, ctx, h: deploy(c, ctx, h, upgrade=True),
    "rollback": rollback,
    "uninstall": uninstall,
    "status": status,
}


def run_host(ctx: Context, host: Host, action: str) -> HostReport:
    """Run one action on one host; every failure becomes that host's row, never an exception."""
    started = time.monotonic()
    ctx.out.progress(host.name, f"{action} 开始（{host.endpoint.user}@{host.endpoint.address}:"
                                f"{host.endpoint.port}）")
    try:
        with Connection(host.endpoint, tofu=ctx.opts.trust_on_first_use, sudo=host.sudo) as conn:
            result, version, message = ACTIONS[action](conn, ctx, host)
    except DeployError as e:
        result, version, message = "失败", "", str(e)
    except Exception as e:  # a bug or an unexpected library error must not stop the other hosts
        result, version, message = "失败", "", f"意外错误 {type(e).__name__}: {e}"
    report = HostReport(host.name, action, result, version, time.monotonic() - started, message)
    ctx.out.progress(host.name, f"{action} {result}: {message}")
    return report
