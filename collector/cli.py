"""xunjian-collector: serve, enroll agents, add users, migrate the database.

The last line of `agent enroll` is the agent token alone, and of `user add` the API key alone,
so scripts can take them with `| tail -n 1`.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Optional

from collector.config import load_settings


def _session(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from collector import migrate
    from collector.db import make_engine, make_sessionmaker

    settings = load_settings(args.config, db_url=args.db)
    engine = make_engine(settings.db_url)
    migrate.upgrade(engine)
    return make_sessionmaker(engine)(), settings


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.db:
        os.environ["XUNJIAN_DB_URL"] = args.db
    if args.config:
        os.environ["XUNJIAN_CONFIG"] = args.config
    settings = load_settings(args.config, db_url=args.db)
    host = args.host or settings.host
    port = args.port or settings.port
    # Migrate once here, before workers start, so they never race on the schema.
    from collector import migrate
    from collector.db import make_engine

    engine = make_engine(settings.db_url)
    migrate.upgrade(engine)
    engine.dispose()
    scheme = "https" if args.ssl_certfile else "http"
    print(f"巡检 collector: {scheme}://{host}:{port}/  (API /api/v1, metrics /metrics, database "
          f"{_safe_url(settings.db_url)})", flush=True)
    from collector.serving import GuardedHttpTools

    # GuardedHttpTools: uvicorn's httptools protocol with a head deadline and connection caps (slowloris).
    uvicorn.run("collector.asgi:app_factory", factory=True, host=host, port=port, workers=args.workers,
                log_level=args.log_level, proxy_headers=True, timeout_keep_alive=30, http=GuardedHttpTools,
                forwarded_allow_ips=settings.server.trusted_proxies,
                limit_concurrency=args.limit_concurrency, ssl_certfile=args.ssl_certfile,
                ssl_keyfile=args.ssl_keyfile)
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_enroll(args: argparse.Namespace) -> int:
    from collector.hosts import service

    db, _ = _session(args)
    with db:
        labels = dict(kv.split("=", 1) for kv in args.label or [])
        host, token = service.enroll(db=db, name=args.hostname, unit=args.unit or "", room=args.room or "",
                                     labels=labels)
        db.commit()
    print(f"已注册主机 {host.name} (单位: {host.unit or '-'}, 房间: {host.room or '-'})。代理令牌只显示这一次:",
          file=sys.stderr)
    print(token)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from collector.users import service

    password: Optional[str] = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    db, _ = _session(args)
    with db:
        user, key = service.add(db=db, name=args.name, role=args.role, display_name=args.display_name or "",
                                number=args.number or "", password=password)
        db.commit()
    print(f"已创建用户 {user.name} (角色 {user.role})。API 密钥只显示这一次:", file=sys.stderr)
    print(key)
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    import getpass

    from collector.console.auth import end_all_for
    from collector.security import hash_password
    from collector.users import service

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("新密码: ")
        if getpass.getpass("再输入一次: ") != password:
            raise ValueError("两次输入的密码不一致")
    if len(password) < 8:
        raise ValueError("密码至少 8 个字符")
    db, _ = _session(args)
    with db:
        user = service.get_by_name(db=db, name=args.name)
        if user is None:
            raise ValueError(f"用户 {args.name} 不存在")
        user.password_hash = hash_password(password)
        ended = end_all_for(db=db, user_id=user.id)  # a changed password logs the user out everywhere
        db.commit()
    print(f"已设置用户 {args.name} 的控制台密码 (结束了 {ended} 个会话)。", file=sys.stderr)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from collector import migrate
    from collector.db import make_engine

    settings = load_settings(args.config, db_url=args.db)
    engine = make_engine(settings.db_url)
    migrate.upgrade(engine)
    print(f"数据库已升级到 {migrate.current(engine)}")
    return 0


def cmd_report_monthly(args: argparse.Namespace) -> int:
    from collector.reports.cli import monthly

    db, settings = _session(args)
    with db:
        return monthly(db=db, settings=settings, month=args.month, unit=args.unit or "", fmt=args.format,
                       out=args.out)


def cmd_calendar_import(args: argparse.Namespace) -> int:
    from collector.calendar.cli import import_cmd

    db, settings = _session(args)
    with db:
        return import_cmd(db=db, settings=settings, path=args.file, year=args.year, dry_run=args.dry_run,
                          actor=args.actor)


def cmd_calendar_show(args: argparse.Namespace) -> int:
    from collector.calendar.cli import show_cmd

    db, settings = _session(args)
    with db:
        return show_cmd(db=db, settings=settings, year=args.year, as_json=args.json)


def cmd_report_forms(args: argparse.Namespace) -> int:
    from collector.reports.cli import forms

    db, settings = _session(args)
    with db:
        return forms(db=db, settings=settings, month=args.month, unit=args.unit or "", out=args.out)


def cmd_template(args: argparse.Namespace) -> int:
    from collector.templates import cli

    db, _ = _session(args)
    with db:
        if args.template_cmd == "apply":
            return cli.apply_cmd(db, args.file, args.percent, args.actor, args.dry_run)
        if args.template_cmd == "list":
            return cli.list_cmd(db, args.json)
        if args.template_cmd == "show":
            return cli.show_cmd(db, args.name)
        return cli.rollback_cmd(db, args.name, args.actor)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xunjian-collector", description="巡检 Xunjian collector")
    p.add_argument("--version", action="version", version="xunjian-collector 0.1.0")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="database URL (default $XUNJIAN_DB_URL or sqlite:///xunjian.db)")
    common.add_argument("--config", help="collector YAML config (default $XUNJIAN_CONFIG)")
    common.add_argument("--debug", action="store_true", help="log everything; a failure prints its traceback")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve", parents=[common], help="run the collector (API, console, /metrics)")
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--limit-concurrency", type=int, default=None)
    s.add_argument("--log-level", default="info")
    s.add_argument("--ssl-certfile", help="serve HTTPS with this PEM certificate (chain); see docs/tls.md")
    s.add_argument("--ssl-keyfile", help="the certificate's PEM private key")
    s.set_defaults(fn=cmd_serve)

    a = sub.add_parser("agent", help="agents").add_subparsers(dest="agent_cmd", required=True)
    e = a.add_parser("enroll", parents=[common], help="enroll a host; prints its agent token last")
    e.add_argument("hostname")
    e.add_argument("--unit", help="客户单位")
    e.add_argument("--room", help="房间号")
    e.add_argument("--label", action="append", help="KEY=VALUE (repeatable)")
    e.set_defaults(fn=cmd_enroll)

    u = sub.add_parser("user", help="operators").add_subparsers(dest="user_cmd", required=True)
    ua = u.add_parser("add", parents=[common], help="add a user; prints an API key last")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=["admin", "engineer", "viewer"])
    ua.add_argument("--display-name", help="姓名")
    ua.add_argument("--number", help="编号")
    ua.add_argument("--password-stdin", action="store_true", help="read a console password from stdin")
    ua.set_defaults(fn=cmd_user_add)
    up = u.add_parser("passwd", parents=[common], help="set a user's console password")
    up.add_argument("name")
    up.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    up.set_defaults(fn=cmd_user_passwd)

    d = sub.add_parser("db", help="database").add_subparsers(dest="db_cmd", required=True)
    du = d.add_parser("upgrade", parents=[common], help="apply migrations")
    du.set_defaults(fn=cmd_db_upgrade)

    r = sub.add_parser("report", help="reports").add_subparsers(dest="report_cmd", required=True)
    rm = r.add_parser("monthly", parents=[common], help="系统服务月报 of one month to a file")
    rm.add_argument("--month", required=True, help="YYYY-MM")
    rm.add_argument("--unit", help="客户单位 (default: every unit)")
    rm.add_argument("--format", choices=["xlsx", "pdf", "html", "docx"], default="xlsx")
    rm.add_argument("--out", required=True, help="output file")
    rm.set_defaults(fn=cmd_report_monthly)
    rf = r.add_parser("forms", parents=[common], help="every 系统服务单 of one month (by 热线时间), one per page, PDF")
    rf.add_argument("--month", required=True, help="YYYY-MM")
    rf.add_argument("--unit", help="客户单位 (default: every unit)")
    rf.add_argument("--out", required=True, help="output PDF file")
    rf.set_defaults(fn=cmd_report_forms)

    c = sub.add_parser("calendar", help="the working calendar (holidays, 调休)").add_subparsers(
        dest="calendar_cmd", required=True)
    ci = c.add_parser("import", parents=[common], help="import a year: the State Council notice as published, "
                      "or a YAML schedule; prints what it read, then stores it")
    ci.add_argument("file", help="a text file, or - for stdin")
    ci.add_argument("--year", type=int, help="the year, when the notice's title is not pasted")
    ci.add_argument("--dry-run", action="store_true", help="print what would be imported, store nothing")
    ci.add_argument("--actor", help="who imports (default cli:<login name>), kept in the audit record")
    ci.set_defaults(fn=cmd_calendar_import)
    cs = c.add_parser("show", parents=[common], help="a year as the SLA clocks see it")
    cs.add_argument("--year", type=int, required=True)
    cs.add_argument("--json", action="store_true")
    cs.set_defaults(fn=cmd_calendar_show)

    t = sub.add_parser("template", help="inspection templates pulled by agents (docs/templates.md)").add_subparsers(
        dest="template_cmd", required=True)
    ta = t.add_parser("apply", parents=[common], help="apply a template file (a new version, or a new share)")
    ta.add_argument("file", help="a template YAML file, or starter:NAME for a shipped one")
    ta.add_argument("--percent", type=int, default=100, help="share of matching hosts (1-100, default 100)")
    ta.add_argument("--actor", help="who applies (default cli:<login name>), kept in the audit")
    ta.add_argument("--dry-run", action="store_true", help="validate only, store nothing")
    ta.set_defaults(fn=cmd_template)
    tl = t.add_parser("list", parents=[common], help="templates with their version and share")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(fn=cmd_template)
    ts = t.add_parser("show", parents=[common], help="one template: rollout, hosts per version, refusals, audit")
    ts.add_argument("name")
    ts.set_defaults(fn=cmd_template)
    tr = t.add_parser("rollback", parents=[common], help="every host of the template back to its previous version")
    tr.add_argument("name")
    tr.add_argument("--actor", help="who rolls back (default cli:<login name>)")
    tr.set_defaults(fn=cmd_template)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    from collector.clierrors import log_level, one_line, quiet_libraries

    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    logging.basicConfig(level=log_level(args.cmd, debug), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    quiet_libraries(debug)
    try:
        return int(args.fn(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if debug:
            raise
        print(f"xunjian-collector: {one_line(e)}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1


if __name__ == "__main__":
    sys.exit(main())
