"""Property test: random writes, rotations, truncations and check runs against a reference model.

The model: every complete line written after the check started is counted exactly once, by the
first run after it was written, unless the file holding it was truncated or deleted before any
run could read it (those lines are gone from disk: nobody can count them). Stack-trace lines
belong to the event above them in the same file: a `Caused by: ... ERROR` line makes an INFO event
critical, upgrades a WARN event (moving its count if not reported yet), and adds nothing to an
ERROR event.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from checks.base import StateStore
from checks.log import LogCheck
from checks.options import build

SEV = {"ERROR": 2, "WARN": 1, "INFO": 0}
KINDS = [*SEV, "TRACE", "TRACE_ERR"]
Delta = tuple[int, int]  # (critical, warning) this line adds when it is read


class LogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="xunjian-logprop-"))
        self.log = self.dir / "app.log"
        self.seq = 0
        self.unread_live: list[Delta] = []   # complete lines in the live file, unread
        self.unread_other: list[Delta] = []  # ... in rotated files (still on disk, so still counted)
        self.partial: tuple[bytes, str] | None = None  # rest of the unfinished line, its kind
        self.ev_sev = 0          # severity counted for the live file's current event
        self.ev_reported = True  # that count was reported by a run already
        self.ops: list[str] = []  # what happened, for the failure message

    @initialize(lines=st.integers(0, 5))
    def start(self, lines: int) -> None:
        self._append(b"".join(self._line("ERROR", 0) for _ in range(lines)))
        self._reset_event()  # the check starts at the end: what follows starts its own event
        options = build(LogCheck.Options, {"paths": [str(self.dir / "*.log")]}, "prop")
        self.check = LogCheck(options, state=StateStore(self.dir / "state" / "s.json"))
        out = self.check.run()
        assert out.metrics[0].value == 0  # first sight: from the end

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _line(self, kind: str, pad: int) -> bytes:
        self.seq += 1
        if kind == "TRACE":
            return f"\tat c.x.Voucher.send(Sender.java:{self.seq})\n".encode()
        if kind == "TRACE_ERR":
            return f"Caused by: java.io.IOException: ERROR seq={self.seq}\n".encode()
        return f"{self.seq:08d} {kind} voucher {'x' * pad}\n".encode()

    def _delta(self, kind: str) -> Delta:
        """What a line adds to the counts once complete, given the event it belongs to."""
        if kind == "TRACE":
            return (0, 0)
        if kind == "TRACE_ERR":
            if self.ev_sev == 2:
                return (0, 0)
            delta = (1, -1) if self.ev_sev == 1 and not self.ev_reported else (1, 0)
            if self.ev_sev == 0:
                self.ev_reported = False
            self.ev_sev = 2
            return delta
        sev = SEV[kind]
        self.ev_sev, self.ev_reported = sev, False
        return (int(sev == 2), int(sev == 1))

    def _reset_event(self) -> None:
        self.ev_sev, self.ev_reported = 0, True

    def _append(self, data: bytes) -> None:
        with open(self.log, "ab") as f:
            f.write(data)

    def _flush(self) -> None:
        """The writer finishes its line before anything else happens to the file."""
        if self.partial is not None:
            rest, kind = self.partial
            self._append(rest)
            self.unread_live.append(self._delta(kind))
            self.partial = None

    def _shift(self) -> None:
        rotated = sorted((int(p.name.rsplit(".", 1)[1]) for p in self.dir.glob("app.log.*")), reverse=True)
        for n in rotated:
            (self.dir / f"app.log.{n}").rename(self.dir / f"app.log.{n + 1}")

    @rule(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=30),
          pad=st.integers(0, 400))
    def write(self, kinds: list[str], pad: int) -> None:
        self.ops.append(f"write({kinds!r}, {pad!r})")
        self._flush()
        self._append(b"".join(self._line(k, pad) for k in kinds))
        self.unread_live.extend(self._delta(k) for k in kinds)

    @rule(kind=st.sampled_from(KINDS), cut=st.integers(1, 20))
    def write_partial(self, kind: str, cut: int) -> None:
        self.ops.append(f"write_partial({kind!r}, {cut!r})")
        self._flush()
        line = self._line(kind, 10)
        self._append(line[:cut])
        self.partial = (line[cut:], kind)

    @rule(create=st.booleans())
    def rotate_rename(self, create: bool) -> None:
        self.ops.append(f"rotate_rename({create!r})")
        self._flush()
        if not self.log.exists():
            return
        self._shift()
        self.log.rename(self.dir / "app.log.1")
        if create:
            self.log.touch()
        self.unread_other += self.unread_live
        self.unread_live = []
        self._reset_event()

    @precondition(lambda self: self.log.exists())
    @rule()
    def rotate_copytruncate(self) -> None:
        self.ops.append("rotate_copytruncate()")
        self._flush()
        self._shift()
        shutil.copyfile(self.log, self.dir / "app.log.1")
        with open(self.log, "r+b") as f:
            f.truncate(0)
        self.unread_other += self.unread_live
        self.unread_live = []
        self._reset_event()

    @precondition(lambda self: self.log.exists())
    @rule()
    def rotate_copy(self) -> None:
        """logrotate's `copy`: the live file keeps its content, a copy appears beside it."""
        self.ops.append("rotate_copy()")
        self._flush()
        self._shift()
        shutil.copyfile(self.log, self.dir / "app.log.1")
        # Unread lines are now on disk twice; whichever copy survives, they count once.
        self.unread_other += self.unread_live
        self.unread_live = []

    @precondition(lambda self: self.log.exists())
    @rule(delete=st.booleans())
    def truncate_or_delete(self, delete: bool) -> None:
        self.ops.append(f"truncate_or_delete({delete!r})")
        self._flush()
        if delete:
            self.log.unlink()
        else:
            with open(self.log, "r+b") as f:
                f.truncate(0)
        self.unread_live = []  # lost before anyone read them
        self._reset_event()

    @rule()
    def run_check(self) -> None:
        self.ops.append("run_check()")
        out = self.check.run()
        got = (out.metrics[0].value, out.metrics[1].value)
        pending = self.unread_live + self.unread_other
        want = (sum(d[0] for d in pending), sum(d[1] for d in pending))
        assert got == want, (got, want, self.ops, out.details)
        self.unread_live, self.unread_other = [], []
        self.ev_reported = True  # an unfinished line changes the event only once complete

    @invariant()
    def state_is_small(self) -> None:
        path = self.dir / "state" / "s.json"
        assert not path.exists() or path.stat().st_size < 64 * 1024


LogMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
TestLogModel = LogMachine.TestCase


PIECES = [b"ERROR", b" ", b"a", b"0", b"9", b"E", b"RROR", b"\n", b"\t", b"\x81", b"\x30", b"\xff", b"\x80",
          "凭证发送失败".encode("gbk"), "凭证发送失败".encode("gb18030"), "失败".encode("gbk"),
          "\u0080".encode("gb18030"), "丒".encode("gbk"), bytes([0x81, 0x45]), bytes([0xB0, 0x41])]


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=60),
       encoding=st.sampled_from(["gbk", "gb18030", "utf-8"]))
def test_matcher_agrees_with_decoding_every_line(pieces: list[bytes], encoding: str) -> None:
    """The byte search (and its no-decode shortcuts) finds exactly the lines whose decoded text
    contains a pattern."""
    from checks.logtail.matcher import Matcher, compile_patterns

    data = b"".join(pieces) + b"\n"
    patterns = {"critical": ["ERROR", "凭证发送失败"], "warning": ["失败"]}
    matcher = Matcher(compile_patterns(patterns, encoding, False), [], encoding)
    hits = matcher.candidates(data, len(data))
    got: dict[int, int] = {}
    for ls, known in hits.items():
        le = data.find(b"\n", ls)
        sev, _ = matcher.classify(data[ls:le], known)
        if sev:
            got[ls] = sev
    want: dict[int, int] = {}
    pos = 0
    for line in data.split(b"\n")[:-1]:
        text = line.decode(encoding, "replace")
        sev = 2 if ("ERROR" in text or "凭证发送失败" in text) else 1 if "失败" in text else 0
        if sev:
            want[pos] = sev
        pos += len(line) + 1
    assert got == want
