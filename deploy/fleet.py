"""Run one action on many hosts in parallel, with a concurrency limit; one host's failure stops no other."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from deploy.actions import Context, run_host
from deploy.inventory import Host
from deploy.output import HostReport


def run_fleet(ctx: Context, hosts: list[Host], action: str, parallel: int) -> list[HostReport]:
    """Reports in inventory order, whatever order the hosts finished in."""
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(hosts))),
                            thread_name_prefix="xunjian-deploy") as pool:
        return list(pool.map(lambda h: run_host(ctx, h, action), hosts))
