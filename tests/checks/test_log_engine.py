"""The compiled multi-literal search (ahocorasick-rs, the `fast` extra) counts exactly what the
pure-Python path counts, and what `grep -c` counts, on a Java-style log and on hostile bytes; and
the check runs without it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from checks.base import StateStore
from checks.log import LogCheck
from checks.logtail import multisearch
from checks.logtail.matcher import MEMMEM_MIN, Matcher, compile_patterns
from checks.options import build

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from bench_log_scan import PATTERN_SETS, generate  # noqa: E402

needs_engine = pytest.mark.skipif(multisearch.engine() is None, reason="ahocorasick-rs (the fast extra) not installed")


def run_counts(path: Path, encoding: str, patterns: dict[str, list[str]], engine: bool,
               **opts: Any) -> tuple[int, int]:
    """(critical, warning) events of one check run over the whole file."""
    saved = multisearch._MODULE
    if not engine:
        multisearch._MODULE = None
    try:
        options = build(LogCheck.Options, {"paths": [str(path)], "from": "start", "encoding": encoding,
                                           "patterns": patterns, "max_bytes_per_run": path.stat().st_size + 1,
                                           **opts}, "test")
        out = LogCheck(options, state=StateStore(None)).run()
    finally:
        multisearch._MODULE = saved
    m = {x.name: x.value for x in out.metrics}
    return int(m["critical_events"]), int(m["warning_events"])


def grep_count(path: Path, encoding: str, args: list[str]) -> int:
    env = dict(os.environ, LC_ALL="C.UTF-8" if encoding == "utf-8" else "C")
    cmd = [b"grep", b"-c", *(a.encode(encoding) for a in args), os.fsencode(path)]
    return int(subprocess.run(cmd, capture_output=True, env=env).stdout or b"0")


@pytest.fixture(scope="module")
def java_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The benchmark's Java-style log (ERROR lines with stack traces, GBK or UTF-8), 3 MiB: several
    1 MiB blocks, each large enough for the compiled search."""
    d = tmp_path_factory.mktemp("java")
    out = {}
    for enc in ("utf-8", "gbk"):
        out[enc] = d / f"app-{enc}.log"
        generate(out[enc], 3 << 20, enc)
    return out


@needs_engine
@pytest.mark.skipif(shutil.which("grep") is None, reason="no grep")
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
@pytest.mark.parametrize("name", list(PATTERN_SETS))
def test_same_events_as_grep_with_and_without_the_engine(java_logs: dict[str, Path], encoding: str,
                                                         name: str) -> None:
    patterns, grep_args, _goal = PATTERN_SETS[name]
    path = java_logs[encoding]
    expected = grep_count(path, encoding, grep_args)
    assert expected > 300
    fast = run_counts(path, encoding, {"critical": patterns}, True)
    slow = run_counts(path, encoding, {"critical": patterns}, False)
    assert fast == slow == (expected, 0)


@needs_engine
def test_default_patterns_with_warnings_agree(java_logs: dict[str, Path]) -> None:
    pats = {"critical": ["ERROR", "FATAL", "凭证发送失败"], "warning": ["WARN", r"slow response \d{4}ms"]}
    for enc, path in java_logs.items():
        fast = run_counts(path, enc, pats, True)
        assert fast == run_counts(path, enc, pats, False)
        assert fast[0] > 300 and fast[1] > 300
        assert fast == run_counts(path, enc, pats, True, ignore_case=True)


HOSTILE = [b"\x00", b"\xff", b"\xfe", b"\xfd\xfc", b"\xe5", b"\xe5\x87", b"\x81\x45", b"\xb0\x41",
           "凭证发送失败".encode(), "凭证发送失败".encode("gbk"), "失败".encode("gbk"), b"ERROR", b"ERRORERROR",
           b"ERRO", b"RROR", b"error", b"WARN", b"\r", b"\t", b"at ", b" ", b"1234ms", b"slow response ",
           b"\xef\xbf\xbd", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xc0\xaf"]


def hostile_block(seed: int, lines: int) -> bytes:
    import random

    rnd = random.Random(seed)
    out = [b"".join(rnd.choice(HOSTILE) for _ in range(rnd.randrange(0, 9))) + b"\n" for _ in range(lines)]
    return b"".join(out)


@needs_engine
@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "gb18030"])
@pytest.mark.parametrize("icase", [False, True])
def test_hostile_bytes_same_lines(encoding: str, icase: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """NUL, invalid UTF-8, lone surrogates as bytes, GBK in UTF-8 and the padding literals' own bytes
    next to the needles: the engine finds the same lines at the same severities. (A severity known
    from the hit itself may differ where two literals overlap, `ERRO`/`RROR` after a GBK lead byte:
    one hit is hidden, and the line is confirmed by its regexes instead.)"""
    data = hostile_block(["utf-8", "gbk", "gb18030"].index(encoding) * 2 + icase, 40000)
    assert len(data) > 2 * MEMMEM_MIN
    sets = [{"critical": ["ERROR", "凭证发送失败"], "warning": ["WARN"]},
            {"critical": [r"(?i)\b(error|fatal|panic)\b"]},
            {"critical": [r"slow response \d{4}ms", "失败"], "warning": ["RROR", "ERRO"]}]
    for pats in sets:
        compiled = compile_patterns(pats, encoding, icase)
        fast = classified(Matcher(compiled, [], encoding), data)
        monkeypatch.setattr(multisearch, "_MODULE", None)
        slow = classified(Matcher(compiled, [], encoding), data)
        monkeypatch.undo()
        assert fast == slow, pats
        assert len(fast) > 100


def classified(m: Matcher, data: bytes) -> dict[int, int]:
    """Line start -> severity of every matching line, as checks.logtail.reader decides it."""
    out = {}
    for ls, known in m.candidates(data, len(data)).items():
        le = data.find(b"\n", ls)
        sev = m.classify(data[ls:le], known)[0]
        if sev:
            out[ls] = sev
    return out


@needs_engine
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_hostile_file_same_events(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "hostile.log"
    path.write_bytes(hostile_block(5, 60000))
    pats = {"critical": ["ERROR", "凭证发送失败"], "warning": ["WARN", "ERRO"]}
    fast = run_counts(path, encoding, pats, True)
    assert fast == run_counts(path, encoding, pats, False)
    assert fast[0] > 1000


@needs_engine
def test_overlapping_literals_of_two_severities_keep_the_worse() -> None:
    """`ERRO` (warning) and `RORD` (critical) overlap in `ERRORD`: one leftmost-first pass would
    report only the warning; they are searched apart, so the line is critical."""
    data = b"x ERRORD y\n" * 40000
    compiled = compile_patterns({"critical": ["RORD"], "warning": ["ERRO"]}, "utf-8", False)
    m = Matcher(compiled, [], "utf-8")
    hits = m.candidates(data, len(data))
    assert set(hits.values()) == {2} and len(hits) == 40000
    assert len(m._searchers()[0]) == 2  # two searchers


def test_overlap_rules() -> None:
    assert multisearch.can_overlap(b"ERRO", b"RORD") and multisearch.can_overlap(b"ERROR", b"ROR")
    assert not multisearch.can_overlap(b"ERROR", b"FATAL")
    assert multisearch.self_overlaps(b"abab") and not multisearch.self_overlaps(b"slow response ")
    assert multisearch.groups([b"ERROR", b"WARN", b"FATAL"], [2, 1, 2]) == [[0, 1, 2]]
    assert multisearch.groups([b"ERRO", b"RORD", b"ROR"], [1, 2, 1]) == [[0, 2], [1]]
    assert multisearch.groups([b"a\nb", b"x"], [2, 2]) == [[0], [1]]  # a newline: a searcher of its own
    needles = [b"ERROR", "凭证发送失败".encode()]
    pad = multisearch.padding(needles)
    assert pad and not set(b"".join(pad)) & set(b"".join(needles))
    assert len({n[0] for n in needles + pad}) >= multisearch.MIN_FIRST_BYTES
    assert multisearch.padding([b"ERROR"]) == []


def test_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(multisearch.ENV_OFF, "1")
    monkeypatch.setattr(multisearch, "_MODULE", False)
    assert multisearch.engine() is None


def test_the_check_runs_without_the_package(tmp_path: Path) -> None:
    """A host without the `fast` extra: ahocorasick_rs cannot be imported; big and small reads
    still count every event, through memmem/bytes.find."""
    path = tmp_path / "app.log"
    path.write_bytes(b"2026-11-25 INFO ok\n" * 30000 + "ERROR 凭证发送失败 x\n".encode() * 7
                     + b"WARN slow\n" * 3 + b"\x00\xff ERROR\n")
    code = f"""
import sys
sys.modules["ahocorasick_rs"] = None  # import raises ImportError, as on a host without it
from checks.base import StateStore
from checks.log import LogCheck
from checks.logtail import multisearch
from checks.options import build
opts = build(LogCheck.Options, {{"paths": [{str(path)!r}], "from": "start",
             "patterns": {{"critical": ["ERROR", "凭证发送失败"], "warning": ["WARN"]}}}}, "t")
out = LogCheck(opts, state=StateStore(None)).run()
m = {{x.name: x.value for x in out.metrics}}
assert multisearch.engine() is None
print(int(m["critical_events"]), int(m["warning_events"]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["8", "3"]
