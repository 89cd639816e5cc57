"""Command line: `xunjian-agent run|check|validate`."""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from agent import __version__


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="xunjian-agent", description="巡检 Xunjian agent")
    parser.add_argument("--version", action="version", version=f"xunjian-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the agent (foreground)")
    p.add_argument("--config", "-c", required=True)
    p = sub.add_parser("check", help="run every enabled check once and show the results")
    p.add_argument("--config", "-c", required=True)
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p = sub.add_parser("validate", help="check a config file without running it")
    p.add_argument("file")
    args = parser.parse_args(argv)

    from agent.config import load_config
    from checks.options import ConfigError

    if args.command == "validate":
        try:
            cfg = load_config(args.file)
        except ConfigError as e:
            print(f"配置无效: {e}", file=sys.stderr)
            return 2
        print(f"配置有效: {len(cfg.checks)} 项检查")
        return 0

    if args.command == "check":
        try:
            cfg = load_config(args.config, read_token=False)
        except ConfigError as e:
            print(f"配置无效: {e}", file=sys.stderr)
            return 3
        from agent.console import check_command

        return check_command(cfg, args.json)

    from agent.logsetup import setup_logging

    setup_logging()
    from agent.daemon import run_agent

    try:
        return run_agent(args.config)
    except ConfigError as e:
        import logging

        logging.getLogger("agent").error("configuration refused: %s", e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
