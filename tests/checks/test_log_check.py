"""The log check on real files: positions, rotation, truncation, encodings, multiline, caps."""
from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from checks.base import StateStore
from checks.log import LogCheck
from checks.model import Status
from checks.options import ConfigError, build
from checks.spec import parse_spec


def make(tmp_path: Path, readonly: bool = False, **opts: Any) -> LogCheck:
    opts.setdefault("paths", [str(tmp_path / "logs" / "*.log")])
    options = build(LogCheck.Options, opts, "test")
    return LogCheck(options, state=StateStore(tmp_path / "state.json", readonly=readonly))


def counts(check: LogCheck) -> tuple[int, int]:
    out = check.run()
    return int(metric(out, "critical_events")), int(metric(out, "warning_events"))


def metric(outcome: Any, name: str) -> float:
    return next(m.value for m in outcome.metrics if m.name == name)


def write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(text.encode(encoding) if isinstance(text, str) else text)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    p = tmp_path / "logs" / "app.log"
    write(p, "2026-11-25 10:00:00 ERROR old failure before the agent started\n")
    return p


def test_contract_five_errors_then_quiet(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    first = check.run()
    assert first.status == Status.OK and metric(first, "critical_events") == 0
    for n in range(5):
        write(log, f"2026-11-25 10:00:0{n} ERROR voucher send failed id={n}\n")
    out = check.run()
    assert out.status == Status.CRITICAL
    assert metric(out, "critical_events") == 5
    assert out.summary.startswith("发现 5 条严重错误, 0 条警告 (app.log)")
    assert len(out.details["samples"]) == 5 and "id=0" in out.details["samples"][0]["line"]
    assert out.details["files"][0]["critical"] == 5
    quiet = check.run()
    assert quiet.status == Status.OK and metric(quiet, "critical_events") == 0
    assert quiet.summary.startswith("未发现错误")


def test_from_start_reads_existing_content(tmp_path: Path, log: Path) -> None:
    assert counts(make(tmp_path, **{"from": "start"})) == (1, 0)


def test_spec_with_from_alias(tmp_path: Path) -> None:
    spec = parse_spec({"name": "voucher-log", "type": "log", "system": "voucher", "interval": "30s",
                       "paths": ["/opt/voucher/logs/*.log"], "encoding": "GBK", "from": "end",
                       "patterns": {"critical": ["ERROR", "凭证发送失败"], "warning": ["WARN"]}}, "checks[0]")
    assert spec.options.start_at == "end" and spec.options.encoding == "gbk"
    assert spec.options.max_bytes_per_run == 64 * 1024 * 1024


@pytest.mark.parametrize("raw, message", [
    ({"paths": ["/x"], "patterns": {"fatal": ["X"]}}, "unknown level"),
    ({"paths": ["/x"], "patterns": {"critical": ["(unclosed"]}}, "not a valid regex"),
    ({"paths": ["/x"], "encoding": "utf-16"}, "not ASCII-compatible"),
    ({"paths": ["/x"], "encoding": "klingon"}, "unknown encoding"),
    ({"paths": ["/x"], "from": "middle"}, "must be one of"),
    ({"paths": ["/x"], "max_line_length": "10B"}, "max_line_length"),
    ({"paths": ["/x"], "sample": 3}, "did you mean 'samples'"),
])
def test_bad_config_is_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(LogCheck.Options, raw, "checks[0]")


def test_gbk_pattern_and_trail_byte_false_positive(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "gbk.log"
    write(log, "启动\n", "gbk")
    check = make(tmp_path, encoding="gbk", patterns={"critical": ["ERROR", "凭证发送失败"], "warning": ["警告"]})
    check.run()
    write(log, "2026 凭证发送失败 单号=1\n2026 警告 签章慢\n", "gbk")
    # 0x81 0x45 is one GBK character whose second byte is 'E': the raw bytes contain "ERROR"
    write(log, b"2026 INFO \x81\x45RROR-free line\n")
    assert bytes([0x81, 0x45]).decode("gbk") + "RROR" not in "ERROR"
    out = check.run()
    assert (metric(out, "critical_events"), metric(out, "warning_events")) == (1, 1)
    assert out.details["samples"][0]["line"] == "2026 凭证发送失败 单号=1"


def test_gb18030_and_bad_bytes_never_crash(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "a.log"
    write(log, "")
    check = make(tmp_path, encoding="gb18030", patterns={"critical": ["凭证发送失败", r"失败\d+"]})
    check.run()
    write(log, b"\xff\xfe\x80 garbage \x81\n" + "凭证发送失败 \x80".encode("gb18030", "replace")
          + b"\xff\n" + "失败42\n".encode("gb18030"))
    assert counts(check) == (2, 0)
    utf = make(tmp_path / "u", paths=[str(log)], patterns={"critical": ["ERROR"]})
    utf.run()
    write(log, b"\xe5ERROR \xff\xfe\n\xc3\x28 ERROR\n")
    assert counts(utf) == (2, 0)


def test_java_stack_trace_is_one_event(tmp_path: Path, log: Path) -> None:
    trace = ("2026 ERROR c.x.VoucherSender - 凭证发送失败\n"
             "java.lang.IllegalStateException: ERROR sending\n"
             "\tat com.x.Sender.send(Sender.java:42)\n"
             "Caused by: java.io.IOException: ERROR broken pipe\n"
             "\t... 12 more\n"
             "2026 INFO next\n"
             "2026 WARN slow\n"
             "    at indented ERROR continuation of the WARN event\n")
    check = make(tmp_path)
    check.run()
    write(log, trace)
    # The exception header under the message line belongs to it (logback's log.error(msg, e))
    assert counts(check) == (2, 0)  # ERROR with its trace, WARN upgraded to critical by its trace
    flat = make(tmp_path / "flat", paths=[str(log)], multiline=False, **{"from": "start"})
    assert counts(flat) == (5, 1)


def test_trace_continues_into_next_run_counts_once(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    write(log, "2026 ERROR failed\n")
    assert counts(check) == (1, 0)
    write(log, "\tat a.b(C.java:1) ERROR\nCaused by: x ERROR\n")
    assert counts(check) == (0, 0)
    write(log, "2026 ERROR again\n")
    assert counts(check) == (1, 0)


def test_rename_rotation_reads_old_tail_and_new_file(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    write(log, "ERROR 1\n")
    assert counts(check) == (1, 0)
    write(log, "ERROR 2 written just before rotation\n")
    log.rename(log.with_name("app.log.1"))
    write(log, "ERROR 3 in the new file\n")
    out = check.run()
    assert metric(out, "critical_events") == 2
    assert {f.get("note") for f in out.details["files"]} >= {"rotated", "new"}
    log.with_name("app.log.1").rename(log.with_name("app.log-20261125"))
    assert counts(check) == (0, 0)


def test_rotation_while_live_file_briefly_missing(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    write(log, "ERROR before\n")
    log.rename(log.with_name("app.log.1"))
    out = check.run()  # between logrotate's rename and create: the tail is still followed
    assert metric(out, "critical_events") == 1
    write(log.with_name("app.log.1"), "ERROR late write to the old file\n")
    write(log, "ERROR new\n")
    assert counts(check) == (2, 0)


def test_copytruncate(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    write(log, "ERROR a\n")
    assert counts(check) == (1, 0)
    write(log, "ERROR b not read before the copy\n")
    shutil.copyfile(log, log.with_name("app.log.1"))
    with open(log, "r+b") as f:
        f.truncate(0)
    write(log, "ERROR c after truncation\n")
    out = check.run()
    assert metric(out, "critical_events") == 2  # b from the copy, c from the truncated file
    assert {f.get("note") for f in out.details["files"]} >= {"truncated", "copy"}
    assert counts(check) == (0, 0)


def test_truncated_and_grown_past_offset_is_read_from_zero(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    with open(log, "wb") as f:  # same inode, new content longer than the old offset
        f.write(b"ERROR x" + b"." * 500 + b"\n")
    assert counts(check) == (1, 0)


def test_touched_file_is_not_reread(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    before = StateStore(tmp_path / "state.json", readonly=True).load()
    os.utime(log, (time.time() + 5, time.time() + 5))
    assert counts(check) == (0, 0)
    assert StateStore(tmp_path / "state.json", readonly=True).load()["files"] == before["files"]


def test_copied_back_file_is_not_reread(tmp_path: Path, log: Path) -> None:
    write(log, "x" * 300 + "\n")
    check = make(tmp_path)
    check.run()
    backup = tmp_path / "backup.log"
    shutil.copy2(log, backup)
    log.unlink()
    assert counts(check) == (0, 0)  # deleted: nothing to read
    shutil.copy2(backup, log)       # back under its old name: new inode, same content
    assert os.stat(log).st_ino != os.stat(backup).st_ino
    assert counts(check) == (0, 0)
    write(log, "ERROR after copy back\n")
    assert counts(check) == (1, 0)


def test_deleted_then_new_file_is_read_from_start(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, missing_grace=0)
    check.run()
    log.unlink()
    out = check.run()
    assert out.status == Status.WARNING and "未找到日志文件" in out.summary
    write(log, "ERROR brand new file\n")
    assert counts(check) == (1, 0)
    write(log.with_name("other.log"), "WARN another new file\n")
    assert counts(check) == (0, 1)


def test_compressed_rotated_files_are_skipped(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, paths=[str(tmp_path / "logs" / "*")])
    check.run()
    with gzip.open(tmp_path / "logs" / "app.log.2.gz", "wb") as f:
        f.write(b"ERROR inside gz\n" * 10)
    (tmp_path / "logs" / "app.log.3.zst").write_bytes(b"ERROR fake zstd\n")
    out = check.run()
    assert metric(out, "critical_events") == 0 and metric(out, "files") == 1


def test_exclude_ignore_and_ignore_case(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, exclude=["debug-*.log"], ignore=[r"heartbeat"], ignore_case=True,
                 patterns={"critical": ["error"], "warning": ["warn(ing)?"]})
    check.run()
    write(log, "Error one\nERROR heartbeat lost (ignored)\nWarning two\nerror three\n")
    write(log.with_name("debug-1.log"), "ERROR excluded\n")
    assert counts(check) == (2, 1)


def test_regex_without_literal_and_alternation(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, patterns={"critical": ["ERROR|FATAL"], "warning": [r"\d{4,}ms"]})
    check.run()
    write(log, "FATAL a\nERROR b\nslow 12345ms\nfast 12ms\n中文 99999ms\n")
    assert counts(check) == (2, 2)


def test_thresholds_on_counts(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, critical_count="2", warning_count="5")
    check.run()
    write(log, "ERROR 1\nERROR 2\nWARN 1\n")
    out = check.run()
    assert out.status == Status.OK and metric(out, "critical_events") == 2
    write(log, "ERROR 1\nERROR 2\nERROR 3\n")
    assert check.run().status == Status.CRITICAL


def test_partial_last_line_waits_for_newline(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    write(log, "ERROR half a li")
    out = check.run()
    assert metric(out, "critical_events") == 0 and metric(out, "lag_bytes") == 15
    write(log, "ne\n")
    assert counts(check) == (1, 0)


def test_long_lines_are_cut_not_dropped(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, max_line_length="1KiB")
    check.run()
    write(log, "x" * 5000 + " ERROR at the end of a long line\n")
    out = check.run()
    assert metric(out, "critical_events") == 1
    assert len(out.details["samples"][0]["line"]) <= 301
    write(log, "ERROR " + "y" * 3000)  # unfinished and already too long: consumed now
    assert counts(check) == (1, 0)
    write(log, "y" * 3000 + " ERROR again in the same line\nWARN next\n")
    assert counts(check) == (0, 1)


def test_byte_cap_leaves_the_rest_for_next_run(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, max_bytes_per_run="64KiB")
    check.run()
    lines = "".join(f"2026-11-25 10:00:00 ERROR voucher send failed id={i:06d}\n" for i in range(4000))
    write(log, lines)
    total = len(lines.encode())
    out = check.run()
    assert metric(out, "bytes_read") <= 64 * 1024 and metric(out, "lag_bytes") > 0
    assert "积压" in out.summary
    seen = int(metric(out, "critical_events"))
    while True:
        out = check.run()
        seen += int(metric(out, "critical_events"))
        if metric(out, "lag_bytes") == 0:
            break
    assert seen == 4000 and total > 3 * 64 * 1024


def test_silence(tmp_path: Path, log: Path) -> None:
    old = time.time() - 600
    os.utime(log, (old, old))
    check = make(tmp_path, silence="5m")
    out = check.run()
    assert out.status == Status.WARNING
    assert "日志 10 分钟无新内容，服务可能挂起" in out.summary
    write(log, "INFO alive\n")
    assert check.run().status == Status.OK


def test_read_only_store_does_not_move_positions(tmp_path: Path, log: Path) -> None:
    agent = make(tmp_path)
    agent.run()
    saved = (tmp_path / "state.json").read_bytes()
    write(log, "ERROR one\nERROR two\n")
    probe = make(tmp_path, readonly=True)
    assert counts(probe) == (2, 0)
    assert counts(probe) == (2, 0)
    assert (tmp_path / "state.json").read_bytes() == saved
    assert counts(agent) == (2, 0)


def test_corrupt_state_starts_afresh(tmp_path: Path, log: Path) -> None:
    (tmp_path / "state.json").write_text('{"v": 1, "files": [{"path": 3}], "gone": "x"}')
    check = make(tmp_path)
    assert check.run().status == Status.OK
    write(log, "ERROR x\n")
    assert counts(check) == (1, 0)


def test_rotated_twice_between_runs(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    write(log, "ERROR 1 in the first file\n")
    log.rename(log.with_name("app.log.1"))
    write(log, "ERROR 2 in a file never seen as the live one\n")
    log.with_name("app.log.1").rename(log.with_name("app.log.2"))
    log.rename(log.with_name("app.log.1"))
    write(log, "ERROR 3 in the live file\n")
    assert counts(check) == (3, 0)
    assert counts(check) == (0, 0)


def test_copy_seen_before_truncation_is_not_reread(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    write(log, "ERROR a\n")
    shutil.copyfile(log, log.with_name("app.log.1"))  # logrotate copied, has not truncated yet
    assert counts(check) == (1, 0)
    with open(log, "r+b") as f:
        f.truncate(0)
    write(log, "ERROR b\n")
    assert counts(check) == (1, 0)
    assert counts(check) == (0, 0)


def test_required_literals() -> None:
    from checks.logtail.matcher import required_literals
    assert required_literals("ERROR|FATAL") == ["ERROR", "FATAL"]
    assert required_literals(r"凭证.*失败") == ["凭证"]
    assert required_literals(r"(timeout|refused) after \d+ms") == [" after "]
    assert required_literals(r"\d{3}") is None
    assert required_literals("(a|\\d)") is None


def test_memmem_and_bytes_find_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    from checks.logtail import matcher as m
    rnd = random.Random(7)
    words = ["ERROR", "WARN", "INFO", "凭证发送失败", "\tat x", "error", "ERR", "失败"]
    data = "".join(" ".join(rnd.choice(words) for _ in range(rnd.randrange(1, 6))) + "\n"
                   for _ in range(15000)).encode()
    assert len(data) >= m.MEMMEM_MIN and m._memmem() is not None  # large enough for memmem
    for icase in (False, True):
        pats = m.compile_patterns({"critical": ["ERROR", "凭证发送失败"], "warning": ["WARN"]}, "utf-8", icase)
        fast = m.Matcher(pats, [], "utf-8").candidates(data, len(data))
        monkeypatch.setattr(m, "_MEMMEM", None)
        slow = m.Matcher(pats, [], "utf-8").candidates(data, len(data))
        monkeypatch.undo()
        assert fast == slow and len(fast) > 2500


def test_crlf_lines_and_anchored_patterns(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, patterns={"critical": [r"failed$"], "warning": [r"^WARN\b"]})
    check.run()
    write(log, "voucher send failed\r\nWARN slow\r\nnot failed here either\r\nagain failed\r\n")
    out = check.run()
    assert (metric(out, "critical_events"), metric(out, "warning_events")) == (2, 1)
    assert not out.details["samples"][0]["line"].endswith("\r")


def test_gbk_ignore_case(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "gbk.log"
    write(log, "")
    check = make(tmp_path, encoding="gb18030", ignore_case=True, patterns={"critical": ["error", "凭证发送失败"]})
    check.run()
    write(log, "凭证 Error 失败\n凭证发送失败\n".encode("gb18030") + b"INFO \x81\x45rror lowered trail byte\n")
    assert counts(check) == (2, 0)


def test_dated_rename_followed_through_the_glob(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, paths=[str(tmp_path / "logs" / "app*.log")])
    check.run()
    write(log, "ERROR before the roll\n")
    log.rename(log.with_name("app.2026-11-25.log"))  # logback TimeBasedRollingPolicy
    write(log.with_name("app.2026-11-25.log"), "ERROR late write to the old file\n")
    write(log, "ERROR in the new file\n")
    assert counts(check) == (3, 0)
    assert counts(check) == (0, 0)
