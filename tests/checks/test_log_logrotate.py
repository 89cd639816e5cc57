"""The log check against the real logrotate while a writer appends thousands of lines a second.

The writer is a separate process logging through WatchedFileHandler (reopens the path when its
inode changes, as Java's and Python's rotating-aware handlers do); every line is a numbered ERROR
so the events counted can be compared with the lines written.
"""
from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import checks.log
from checks.base import StateStore
from checks.log import LogCheck
from checks.options import build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("logrotate") is None and not Path("/usr/sbin/logrotate").exists(),
                       reason="logrotate is not installed (scripts/system-packages.txt)"),
]

LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"

WRITER = r"""
import logging, logging.handlers, sys, time
h = logging.handlers.WatchedFileHandler(sys.argv[1], encoding="utf-8")
h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [main] c.x.VoucherSender - %(message)s"))
log = logging.getLogger("w"); log.addHandler(h); log.setLevel(logging.INFO)
n = 0; end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    for _ in range(50):
        n += 1
        log.error("voucher send failed seq=%d 凭证发送失败", n)
    time.sleep(0.01)
h.close()
print(n)
"""


def rotate_while_writing(tmp_path: Path, directives: str, seconds: float = 3.0) -> tuple[int, int, Path]:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.write_text("")
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{log} {{\n  rotate 1000\n  missingok\n  notifempty\n{directives}\n}}\n")
    options = build(LogCheck.Options, {"paths": [str(logs / "*.log")],
                                       "patterns": {"critical": ["ERROR"]}}, "test")
    check = LogCheck(options, state=StateStore(tmp_path / "state.json"))
    check.run()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    counted = 0
    next_rotation = time.monotonic() + 0.2
    rotations = 0
    while writer.poll() is None:
        counted += int(check.run().metrics[0].value)
        if time.monotonic() >= next_rotation:
            subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "logrotate.state"), str(conf)],
                           check=False, capture_output=True)
            rotations += 1
            next_rotation = time.monotonic() + 0.2
        time.sleep(0.02)
    written = int(writer.communicate()[0])
    for _ in range(3):
        counted += int(check.run().metrics[0].value)
    assert rotations >= 8
    assert written > 2000  # thousands of lines a second (fewer on a loaded machine)
    return written, counted, logs


def seqs_on_disk(logs: Path) -> list[int]:
    out: list[int] = []
    for p in logs.iterdir():
        if not p.is_file():
            continue
        data = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        out.extend(int(m) for m in re.findall(rb"seq=(\d+)", data))
    return out


def test_rename_rotation_misses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    written, counted, logs = rotate_while_writing(tmp_path, "  create 0644\n  compress\n  delaycompress")
    on_disk = seqs_on_disk(logs)
    assert sorted(on_disk) == list(range(1, written + 1))  # logrotate itself lost nothing
    assert any(p.suffix == ".gz" for p in logs.iterdir())  # compressed files were there, skipped
    assert counted == written


# A writer at 2,000 lines/s with its own file handling: O_APPEND writes of a batch every 10 ms,
# every 50th event with a Java trace under it (exception header, `at` lines: no extra events).
# It checks the path between batches and reopens it when the path's inode changed, at once or
# (`delay`) some seconds later, writing on to the renamed file meanwhile, as applications that
# reopen on a signal do. Each event line carries its sequence number.
SEQ_WRITER = r"""
import os, sys, time
path, seconds, delay = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
fd = os.open(path, flags, 0o644)
n = 0; start = time.monotonic(); end = start + seconds; moved_at = None
while time.monotonic() < end:
    out = []
    due = int((time.monotonic() - start) * 2000)  # 2,000 lines/s however late the last batch was
    while n < due:
        n += 1
        out.append(f"2026-11-25 10:00:00.000 ERROR [main] c.x.VoucherSender - 凭证发送失败 seq={n}\n")
        if n % 50 == 0:
            out.append("java.lang.IllegalStateException: 印章证书无效 ERROR\n\tat com.x.Seal.sign(Seal.java:1)\n"
                       "Caused by: java.io.IOException: ERROR\n\t... 3 more\n")
    os.write(fd, "".join(out).encode())
    try:
        moved = os.stat(path).st_ino != os.fstat(fd).st_ino
    except FileNotFoundError:
        moved = True
    if moved and moved_at is None:
        moved_at = time.monotonic()
    if moved_at is not None and time.monotonic() - moved_at >= delay:
        os.close(fd); fd = os.open(path, flags, 0o644); moved_at = None
    time.sleep(0.01)
os.close(fd)
print(n)
"""


def counted_seqs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sequence numbers of the events the check counts, one entry per count."""
    seqs: list[int] = []

    class Recording(checks.log.Tally):  # type: ignore[name-defined,misc]
        def __init__(self, sample_limit: int) -> None:
            super().__init__(10**9)

        def sample(self, fs: Any, sev: int, text: str) -> None:
            m = re.search(r"seq=(\d+)", text)
            seqs.append(int(m.group(1)) if m else -1)

    monkeypatch.setattr(checks.log, "Tally", Recording)
    return seqs


# (scenario, logrotate directives, seconds between rotations, writer's reopen delay)
SCENARIOS = [
    pytest.param("  create 0644\n  compress\n  delaycompress", 0.3, 0.0, id="create-compress-delaycompress"),
    pytest.param("  copytruncate", 0.3, 0.0, id="copytruncate"),
    pytest.param("  create 0644\n  olddir old", 0.3, 0.0, id="olddir"),
    pytest.param("  nocreate\n  olddir old\n  compress\n  delaycompress", 0.3, 0.0, id="olddir-compress"),
    pytest.param("  create 0644\n  dateext\n  dateformat -%Y%m%d-%s", 1.1, 0.0, id="dateext"),
    pytest.param("  nocreate", 2.0, 1.0, id="delayed-create"),
]


@pytest.mark.parametrize(("directives", "every", "delay"), SCENARIOS)
def test_every_line_counted_once_under_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               directives: str, every: float, delay: float) -> None:
    seqs = counted_seqs(monkeypatch)
    logs = tmp_path / "logs"
    (logs / "old").mkdir(parents=True)
    log = logs / "app.log"
    log.write_text("")
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{log} {{\n  rotate 1000\n  missingok\n  notifempty\n{directives}\n}}\n")
    check = LogCheck(build(LogCheck.Options, {"paths": [str(log)], "patterns": {"critical": ["ERROR"]}},
                           "test"), state=StateStore(tmp_path / "state.json"))
    check.run()
    seconds = max(4.0, every * 5)
    writer = subprocess.Popen([sys.executable, "-c", SEQ_WRITER, str(log), str(seconds), str(delay)],
                              stdout=subprocess.PIPE, text=True)
    statuses: list[str] = []
    rotations = 0
    next_rotation = time.monotonic() + every
    while writer.poll() is None:
        statuses.append(check.run().summary)
        if time.monotonic() >= next_rotation:
            r = subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "logrotate.state"), str(conf)],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            rotations += 1
            next_rotation = time.monotonic() + every
        time.sleep(0.02)
    written = int(writer.communicate()[0])
    for _ in range(3):
        statuses.append(check.run().summary)
    on_disk = seqs_on_disk(logs) + seqs_on_disk(logs / "old")
    counted = [s for s in seqs if s > 0]
    lost = sorted(set(on_disk) - set(counted))
    doubled = sorted({s for s in counted if counted.count(s) > 1}) if len(set(counted)) != len(counted) else []
    print(f"{' '.join(directives.split())}: written={written} on_disk={len(set(on_disk))} counted={len(counted)} "
          f"rotations={rotations} lost={len(lost)} doubled={len(doubled)}")
    assert rotations >= 3 and written >= 1900 * seconds
    assert -1 not in seqs  # no trace line counted as an event of its own
    assert (lost[:5], doubled[:5]) == ([], [])
    assert not set(counted) - set(range(1, written + 1))
    if "copytruncate" not in directives:
        assert sorted(on_disk) == list(range(1, written + 1))  # logrotate itself lost nothing
        assert len(counted) == written
    assert not any("未找到日志文件" in s for s in statuses)


def test_copytruncate_loss_is_bounded_and_nothing_counted_twice(tmp_path: Path) -> None:
    written, counted, logs = rotate_while_writing(tmp_path, "  copytruncate")
    on_disk = set(seqs_on_disk(logs))
    lost_by_logrotate = written - len(on_disk)  # written between copy and truncate
    missed = written - counted
    print(f"copytruncate: written={written} on_disk={len(on_disk)} counted={counted} "
          f"lost_by_logrotate={lost_by_logrotate} missed_by_check={missed}")
    assert counted <= written  # nothing counted twice
    # The check reads copies (app.log.1) from where it stood: it misses at most what logrotate lost.
    assert missed <= lost_by_logrotate
