"""Command line: `xunjian-agent run|check|validate`.

Parsed by hand, not with argparse: the agent is a long-running daemon and argparse (with gettext
and textwrap) would stay in its memory for nothing.
"""
from __future__ import annotations

import os
import sys
from typing import Optional

from agent import __version__

USAGE = """usage: xunjian-agent [--version] COMMAND ...

巡检 Xunjian agent

commands:
  run --config FILE              run the agent in the foreground
  check --config FILE [--json]   run every enabled check once, show the results and exit
                                 with the Nagios code of the worst status
  validate FILE                  check a config file without running it; with
                                 collector.central, list the effective checks
                                 (local + last good central version) and their source
  poll --config FILE [--once]    agentless: inspect the config's targets over SSH
                                 (docs/agentless.md); --once runs every check once
"""


class UsageError(Exception):
    pass


def parse_args(argv: list[str]) -> tuple[str, dict[str, object]]:
    """Returns (command, options) for the three commands; raises UsageError."""
    if not argv:
        raise UsageError("a command is required")
    command, rest = argv[0], argv[1:]
    opts: dict[str, object] = {}
    if command == "validate":
        if len(rest) != 1 or rest[0].startswith("-"):
            raise UsageError("validate takes exactly one FILE")
        opts["file"] = rest[0]
        return command, opts
    if command not in ("run", "check", "poll"):
        raise UsageError(f"unknown command {command!r}")
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg in ("--config", "-c"):
            if i + 1 >= len(rest):
                raise UsageError(f"{arg} needs a FILE")
            opts["config"] = rest[i + 1]
            i += 2
            continue
        if arg.startswith("--config="):
            opts["config"] = arg.split("=", 1)[1]
        elif arg == "--json" and command == "check":
            opts["json"] = True
        elif arg == "--once" and command == "poll":
            opts["once"] = True
        else:
            raise UsageError(f"unexpected argument {arg!r}")
        i += 1
    if "config" not in opts:
        raise UsageError(f"{command} needs --config FILE")
    return command, opts


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    if args and args[0] in ("-V", "--version"):
        print(f"xunjian-agent {__version__}")
        return 0
    try:
        command, opts = parse_args(args)
    except UsageError as e:
        print(f"{USAGE}\nxunjian-agent: {e}", file=sys.stderr)
        return 2

    from agent.config import load_config
    from checks.options import ConfigError

    if command == "validate":
        try:
            cfg = load_config(str(opts["file"]))
        except ConfigError as e:
            print(f"配置无效: {e}", file=sys.stderr)
            return 2
        print(f"配置有效: {len(cfg.checks)} 项检查")
        if cfg.collector.central:
            from agent.central import describe

            print("\n".join(describe(cfg)))
        return 0

    if command == "check":
        try:
            cfg = load_config(str(opts["config"]), read_token=False)
        except ConfigError as e:
            print(f"配置无效: {e}", file=sys.stderr)
            return 3
        if cfg.collector.central:  # the checks the agent would run: with the last good central version
            from agent.central import effective

            cfg, lines = effective(cfg)
            print("\n".join(lines[1:]), file=sys.stderr)
        from agent.check_once import check_command

        return check_command(cfg, bool(opts.get("json")))

    import logging

    from agent.logconfig import setup_logging

    setup_logging()  # for `poll` also paramiko's records
    from agent.filemodes import private_umask

    private_umask()  # spool, state and lock files 0600 whatever the umask we were started with
    from agent.daemon import run_agent

    try:
        if command == "poll":
            from agent.agentless.poller import run_poller

            return run_poller(str(opts["config"]), once=bool(opts.get("once")))
        return run_agent(str(opts["config"]))
    except ConfigError as e:
        logging.getLogger("agent").error("configuration refused: %s", e)
        return 2


def entry() -> None:
    """The `xunjian-agent` program: main(), then out at once. A thread stuck in a check (its
    run abandoned at its timeout) or a library's non-daemon thread must not hold the process
    after its work is done: output is flushed and the interpreter's exit (which would wait
    for them) skipped. The spool and check state are closed by then."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
