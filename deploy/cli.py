"""`xunjian-deploy`: build an offline bundle, roll the agent out to a fleet over SSH, report per host.

    xunjian-deploy bundle [--out DIR] [--python 3.9] [--platform manylinux2014_x86_64]
    xunjian-deploy install   -i inventory.yaml --bundle FILE [--hosts a,b] [--parallel N] [--prefix P]
    xunjian-deploy upgrade   -i inventory.yaml --bundle FILE
    xunjian-deploy rollback  -i inventory.yaml [--to VERSION]
    xunjian-deploy uninstall -i inventory.yaml [--purge]
    xunjian-deploy status    -i inventory.yaml

Exit code: 0 when every host succeeded (status: every host running), 1 otherwise, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from collections.abc import Sequence

from deploy.actions import Context, RunOptions
from deploy.bundle import build_bundle, open_bundle
from deploy.collector_api import CollectorClient
from deploy.errors import DeployError
from deploy.fleet import run_fleet
from deploy.inventory import load_inventory
from deploy.output import RolloutOutput, Secrets

HOST_ACTIONS = ("install", "upgrade", "rollback", "uninstall", "status")


def _version() -> str:
    try:
        return importlib.metadata.version("xunjian")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xunjian-deploy", description="巡检代理批量部署（SSH）")
    p.add_argument("--version", action="version", version=f"xunjian-deploy {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bundle", help="构建离线安装包")
    b.add_argument("--out", default="dist", help="输出目录（默认 dist）")
    b.add_argument("--python", help="目标主机 Python 版本，如 3.9（默认本机）")
    b.add_argument("--platform", help="目标平台标签，如 manylinux2014_x86_64（默认本机）")
    b.add_argument("--source", help="项目源码目录（默认本项目）")
    b.add_argument("--find-links", help="本地 wheel 目录（离线构建）")
    for name in HOST_ACTIONS:
        a = sub.add_parser(name, help={"install": "安装", "upgrade": "升级（保留旧版本）",
                                       "rollback": "回滚到上一版本", "uninstall": "卸载",
                                       "status": "查看状态"}[name])
        a.add_argument("-i", "--inventory", required=True, help="清单文件 (YAML)")
        a.add_argument("--hosts", help="只处理这些主机（逗号分隔）")
        a.add_argument("--parallel", type=int, default=10, help="并发主机数（默认 10）")
        a.add_argument("--prefix", help="安装路径前缀（测试用，覆盖清单中的 prefix）")
        a.add_argument("--trust-on-first-use", action="store_true",
                       help="接受并记录未知主机密钥（已变更的密钥始终拒绝）")
        a.add_argument("--quiet", action="store_true", help="不输出过程信息，只输出结果表")
        if name in ("install", "upgrade"):
            a.add_argument("--bundle", required=True, help="xunjian-deploy bundle 生成的安装包")
            a.add_argument("--re-enroll", action="store_true", help="重新注册（轮换代理令牌）")
            a.add_argument("--keep", type=int, default=3, help="保留的版本数（默认 3）")
        if name in ("install", "upgrade", "rollback"):
            a.add_argument("--verify-timeout", type=float, default=90.0,
                           help="等待首个结果到达采集端的秒数（默认 90）")
        if name == "rollback":
            a.add_argument("--to", dest="to_version", help="回滚到指定版本（默认上一版本）")
        if name == "uninstall":
            a.add_argument("--purge", action="store_true", help="同时删除状态目录")
    return p


def _bundle(args: argparse.Namespace, out: RolloutOutput) -> int:
    b = build_bundle(args.out, source=args.source, python_version=args.python, platform_tag=args.platform,
                     find_links=args.find_links)
    out.line(f"{b.path}\nsha256 {b.sha256}\n版本 {b.version}，Python {b.python}，平台 {b.manifest['platform']}，"
             f"{len(b.manifest['wheels'])} 个 wheel")
    for extra in b.manifest.get("extras", []):
        out.line(f"已包含可选加速组件 {extra}")
    for extra, why in b.manifest.get("extras_left_out", {}).items():
        out.line(f"未包含可选加速组件 {extra}（该 Python/平台没有可用的 wheel，agent 将使用纯 Python 实现）: {why}")
    return 0


def _hosts(args: argparse.Namespace, out: RolloutOutput, secrets: Secrets) -> int:
    inv = load_inventory(args.inventory, prefix=args.prefix)
    for ep in [*(h.endpoint for h in inv.hosts), *inv.jump_hosts.values()]:
        if ep.password_env:
            secrets.add(os.environ.get(ep.password_env))
    opts = RunOptions(trust_on_first_use=args.trust_on_first_use,
                      verify_timeout=getattr(args, "verify_timeout", 90.0),
                      re_enroll=getattr(args, "re_enroll", False), purge=getattr(args, "purge", False),
                      keep=getattr(args, "keep", 3), to_version=getattr(args, "to_version", None))
    if args.command in ("install", "upgrade"):
        opts.bundle = open_bundle(args.bundle)
    api = None
    key = os.environ.get(inv.collector.api_key_env, "")
    secrets.add(key)
    if args.command in ("install", "upgrade") or key:
        api = CollectorClient(inv.collector.url, inv.collector.api_key())
    ctx = Context(inv=inv, opts=opts, out=out, secrets=secrets, api=api)
    hosts = inv.select(args.hosts.split(",") if args.hosts else None)
    reports = run_fleet(ctx, hosts, args.command, args.parallel)
    out.table(reports)
    return 1 if any(r.failed for r in reports) else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    secrets = Secrets()
    out = RolloutOutput(secrets, quiet=getattr(args, "quiet", False))
    try:
        if args.command == "bundle":
            return _bundle(args, out)
        return _hosts(args, out, secrets)
    except DeployError as e:
        out.error(f"错误: {e}")
        return 2
    except KeyboardInterrupt:
        out.error("已中断")
        return 130


if __name__ == "__main__":
    sys.exit(main())
