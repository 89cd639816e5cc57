"""Micro-benchmark: candidate multi-literal searchers on a log, in-process, CPU time.

    .venv/bin/python bench/bench_log_engines.py /tmp/xunjian-bench-log.log [--repeat 5]

Each engine reads the file in 1 MiB `pread`s (as checks/logtail/reader.py does) and collects the
start of every line holding `ERROR` or `凭证发送失败` (the issue-20 literal set). `grep -c -F` on
the same file is timed in the same go (user + sys of the child). Engines that are not installed are
skipped. Best of --repeat, alternating, so all see the same load.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NEEDLES = [b"ERROR", "凭证发送失败".encode()]
CHUNK = 1 << 20


def blocks(path: str) -> Iterator[tuple[bytes, int]]:
    """Read like the check: 1 MiB preads, each searched up to its last newline (timed too)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        pos = 0
        while True:
            data = os.pread(fd, CHUNK, pos)
            if not data:
                break
            end = data.rfind(b"\n") + 1 or len(data)
            yield data, end
            pos += end
    finally:
        os.close(fd)


def read_only(path: str) -> int:
    return sum(end for _b, end in blocks(path))


def matcher(path: str, engine: bool = True) -> int:
    """checks.logtail.matcher's candidate lines, with or without its compiled engine."""
    from checks.logtail import multisearch
    from checks.logtail.matcher import Matcher, compile_patterns

    saved = multisearch._MODULE
    if not engine:
        multisearch._MODULE = None
    try:
        m = Matcher(compile_patterns({"critical": ["ERROR", "凭证发送失败"]}, "utf-8", False), [], "utf-8")
        return sum(len(m.candidates(b, end)) for b, end in blocks(path))
    finally:
        multisearch._MODULE = saved


def fallback(path: str) -> int:
    return matcher(path, engine=False)


def aho_rs(path: str) -> int:
    """Both literals alone in one automaton (aho-corasick then picks a memchr2 first-byte filter)."""
    import ahocorasick_rs as ac

    auto = ac.BytesAhoCorasick(NEEDLES, matchkind=ac.MatchKind.LeftmostFirst)
    n = 0
    for b, end in blocks(path):
        rfind = b.rfind
        hits: dict[int, int] = {}
        for _idx, start, _end in auto.find_matches_as_indexes(b[:end] if end < len(b) else b):
            hits[rfind(b"\n", 0, start) + 1] = 2
        n += len(hits)
    return n


def re2_lines(path: str) -> int:
    import re2

    rx = re2.compile(rb"(?m)^[^\n]*(?:ERROR|\xe5\x87\xad\xe8\xaf\x81\xe5\x8f\x91\xe9\x80\x81\xe5\xa4\xb1\xe8\xb4\xa5)")
    n = 0
    for b, end in blocks(path):
        n += sum(1 for _ in rx.finditer(b, 0, end))
    return n


def re2_raw(path: str) -> int:
    """The extension's own Match, skipping the pure-Python wrapper's per-match objects."""
    import re2

    rx = re2.compile(rb"(?m)^[^\n]*(?:ERROR|\xe5\x87\xad\xe8\xaf\x81\xe5\x8f\x91\xe9\x80\x81\xe5\xa4\xb1\xe8\xb4\xa5)")
    raw = rx._regexp
    anchor = re2._Anchor.UNANCHORED
    n = 0
    for b, end in blocks(path):
        pos = 0
        while True:
            spans = raw.Match(anchor, b, pos, end)
            if spans[0][0] == -1:
                break
            n += 1
            pos = spans[0][1] + 1
    return n


def pyaho(path: str) -> int:
    import ahocorasick

    auto = ahocorasick.Automaton()
    for i, nd in enumerate(NEEDLES):
        auto.add_word(nd.decode("latin-1"), i)
    auto.make_automaton()
    n = 0
    for b, end in blocks(path):
        text = b[:end].decode("latin-1")
        hits = set()
        for end, _i in auto.iter(text):
            hits.add(text.rfind("\n", 0, end) + 1)
        n += len(hits)
    return n


ENGINES: dict[str, Callable[[str], int]] = {
    "read only": read_only, "matcher fallback (memmem x2)": fallback, "matcher ahocorasick-rs": matcher,
    "ahocorasick-rs unpadded": aho_rs,
    "google-re2 finditer": re2_lines, "google-re2 raw Match": re2_raw, "pyahocorasick": pyaho,
}


def grep_cpu(path: str) -> tuple[float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["grep", "-c", "-F", "-e", "ERROR", "-e", "凭证发送失败", path],
                         capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, int(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", help="comma-separated engine names")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(ENGINES)
    best: dict[str, float] = {}
    counts: dict[str, int] = {}
    for _ in range(args.repeat):
        g, counts["grep -c -F"] = grep_cpu(args.path)
        best["grep -c -F"] = min(best.get("grep -c -F", 1e9), g)
        for name in names:
            try:
                c0 = time.process_time()
                counts[name] = ENGINES[name](args.path)
                best[name] = min(best.get(name, 1e9), time.process_time() - c0)
            except ImportError:
                continue
    print(f"load average {os.getloadavg()[0]:.1f}")
    for name, t in best.items():
        print(f"{name:32s} {t * 1000:8.1f} ms CPU  lines {counts[name]}")


if __name__ == "__main__":
    main()
