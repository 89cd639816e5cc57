"""Every matching event counted exactly once: cut lines, chunk boundaries, Java exception headers,
`event_start`, a log briefly missing during rotation, olddir, and files not in their encoding."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from checks.base import StateStore
from checks.log import LogCheck
from checks.logtail.reader import CHUNK
from checks.model import Status
from checks.options import ConfigError, build


def make(tmp_path: Path, **opts: Any) -> LogCheck:
    opts.setdefault("paths", [str(tmp_path / "logs" / "*.log")])
    return LogCheck(build(LogCheck.Options, opts, "test"), state=StateStore(tmp_path / "state.json"))


def counts(check: LogCheck) -> tuple[int, int]:
    out = check.run()
    m = {x.name: x.value for x in out.metrics}
    return int(m["critical_events"]), int(m["warning_events"])


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    p = tmp_path / "logs" / "app.log"
    write(p, b"2026-11-25 10:00:00 INFO start\n")
    return p


# (encoding, pattern): the pattern is split after each of its bytes in turn.
CUT_CASES = [("utf-8", "ERROR"), ("gbk", "凭证发送失败"), ("utf-8", "凭证发送失败"),
             ("gb18030", "凭证发送失败"), ("utf-8", r"slow response \d{4}ms")]


@pytest.mark.parametrize(("encoding", "pattern"), CUT_CASES)
def test_pattern_across_the_max_line_cut_counts_once(tmp_path: Path, log: Path, encoding: str,
                                                    pattern: str) -> None:
    word = (pattern.replace(r"\d{4}", "1234")).encode(encoding)
    for split in range(1, len(word)):
        check = make(tmp_path / f"s{split}", paths=[str(log)], encoding=encoding,
                     patterns={"critical": [pattern]}, max_line_length="8KiB")
        check.run()
        write(log, b"x" * 9000 + word[:split])  # over 8 KiB, unfinished: consumed and cut
        first = counts(check)
        write(log, word[split:] + b" tail\n")
        assert (first[0] + counts(check)[0], split) == (1, split)
        write(log, b"x" * 9000 + word + b" and " + word + b" in one long line")  # a hit before the cut
        write(log, b" then " + word + b" after it\n")
        assert counts(check)[0] + counts(check)[0] == 1


@pytest.mark.parametrize(("encoding", "pattern"), CUT_CASES)
@pytest.mark.parametrize("shift", [-3, -1, 0, 1])
def test_pattern_across_the_read_chunk_boundary_in_one_long_line(tmp_path: Path, encoding: str,
                                                                 pattern: str, shift: int) -> None:
    log = tmp_path / "logs" / "app.log"
    word = (pattern.replace(r"\d{4}", "1234")).encode(encoding)
    head = b"2026-11-25 10:00:00 INFO <xml>"
    pad = CHUNK - len(head) - len(word) // 2 + shift  # the word straddles byte CHUNK of the line
    write(log, head + b"a" * pad + word + b"b" * (CHUNK // 2) + b"</xml>\nnext line\n")
    check = make(tmp_path, paths=[str(log)], encoding=encoding, patterns={"critical": [pattern]},
                 **{"from": "start"})
    assert counts(check) == (1, 0)
    assert counts(check) == (0, 0)


def test_an_event_cut_and_matching_on_both_sides_counts_once_at_its_worst(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, max_line_length="1KiB")
    check.run()
    write(log, b"WARN " + b"y" * 2000)
    assert counts(check) == (0, 1)
    write(log, b"y" * 2000 + b" ERROR WARN\n")
    assert counts(check) == (1, 0)  # upgraded: the warning was reported by the earlier run


JAVA_TRACE = ("2026-11-25 10:00:00.123 ERROR [main] c.x.SealService - 签章服务异常\n"
              "java.lang.IllegalStateException: 印章证书无效\n"
              "\tat com.x.seal.SealService.sign(SealService.java:88)\n"
              "\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
              "Caused by: java.security.cert.CertificateExpiredException: ERROR certificate expired\n"
              "\t... 12 more\n")

# (lines written, patterns, options, expected (critical, warning))
MULTILINE_CASES = [
    pytest.param(JAVA_TRACE, ["ERROR", "Exception"], {}, (1, 0), id="logback-error-with-exception"),
    pytest.param("2026 ERROR x\norg.springframework.web.util.NestedServletException\n", ["ERROR", "Exception"],
                 {}, (1, 0), id="header-without-message"),
    pytest.param("2026 ERROR x\ncom.x.Fault$InnerError: ERROR\r\n", ["ERROR"], {}, (1, 0), id="inner-class-crlf"),
    pytest.param("2026 INFO ok\njava.lang.OutOfMemoryError: Java heap space\n", ["OutOfMemoryError"], {},
                 (1, 0), id="header-under-a-quiet-line-still-counts"),
    pytest.param("2026 ERROR a\nERROR: not a class name\n", ["ERROR"], {}, (2, 0), id="plain-error-line"),
    pytest.param("2026 ERROR a\nException in thread main\n", ["ERROR", "Exception"], {}, (2, 0),
                 id="not-a-qualified-name"),
    pytest.param(JAVA_TRACE, ["ERROR", "Exception"], {"multiline": False}, (3, 0), id="multiline-off"),
    pytest.param("[2026-11-25 10:00:00] ERROR a\nmore ERROR text\n<xml>ERROR</xml>\n[2026-11-25 10:00:01] ERROR b\n",
                 ["ERROR"], {"event_start": r"\[\d{4}-"}, (2, 0), id="event-start"),
    pytest.param("[2026] WARN a\nERROR inside the warning's body\n[2026] INFO b\n", ["ERROR"],
                 {"event_start": r"\[\d{4}\]", "patterns": {"critical": ["ERROR"], "warning": ["WARN"]}},
                 (1, 0), id="event-start-upgrade"),
]


@pytest.mark.parametrize(("text", "patterns", "opts", "expected"), MULTILINE_CASES)
def test_multiline_events(tmp_path: Path, log: Path, text: str, patterns: list[str],
                          opts: dict[str, Any], expected: tuple[int, int]) -> None:
    opts = {"patterns": {"critical": patterns}, **opts}
    check = make(tmp_path, **opts)
    check.run()
    write(log, text.encode())
    assert counts(check) == expected


def test_event_start_continues_into_the_next_run(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, event_start=r"\d{4}-\d\d-\d\d ")
    check.run()
    write(log, b"2026-11-25 10:00:00 ERROR a\n")
    assert counts(check) == (1, 0)
    write(log, b"ERROR detail of the same event\n2026-11-25 10:00:01 ERROR b\n")
    assert counts(check) == (1, 0)


@pytest.mark.parametrize(("opts", "message"), [
    ({"event_start": "[unclosed"}, "not a valid regex"),
    ({"event_start": "^€ ", "encoding": "gbk"}, "event_start: cannot be matched on gbk bytes"),
    ({"missing_grace": "-1s"}, "missing_grace"),
])
def test_bad_options_are_refused(tmp_path: Path, opts: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make(tmp_path, **opts)


def test_log_missing_inside_the_grace_after_a_rename(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    write(log, b"ERROR before the rotation\n")
    log.rename(log.with_name("app.log.1"))
    (log.parent / "app.log.1").rename(log.parent / "app.log.1")
    out = check.run()
    assert out.status == Status.CRITICAL and "未找到日志文件" not in out.summary  # the tail is read
    out = check.run()
    assert out.status == Status.OK and "轮转中" in out.summary
    write(log, b"ERROR in the new file\n")
    assert counts(check) == (1, 0)
    strict = make(tmp_path / "strict", missing_grace=0)
    strict.run()
    log.rename(log.with_name("app.log.2"))
    out = strict.run()
    assert out.status == Status.WARNING and "未找到日志文件" in out.summary


def test_no_file_ever_is_still_a_warning(tmp_path: Path) -> None:
    out = make(tmp_path).run()
    assert out.status == Status.WARNING and "未找到日志文件" in out.summary


@pytest.mark.parametrize("olddir", [None, "old", "ABS"])
def test_rotation_into_olddir_reads_the_tail(tmp_path: Path, log: Path, olddir: str | None) -> None:
    target = tmp_path / "archive" if olddir == "ABS" else log.parent / "old"
    opts: dict[str, Any] = {}
    if olddir:
        opts["olddir"] = [str(target) if olddir == "ABS" else olddir]
    check = make(tmp_path, **opts)
    check.run()
    write(log, b"ERROR one\n")
    assert counts(check) == (1, 0)
    write(log, b"ERROR two, written before the rotation\n")
    target.mkdir()
    log.rename(target / "app.log.1")
    write(log, b"ERROR three, in the new file\n")
    assert counts(check) == (2, 0)
    # Rotated twice between two runs: only a configured olddir is searched for unknown files.
    write(log, b"ERROR four\n")
    for word in (b"five", b"six"):
        for n in (2, 1):
            if (target / f"app.log.{n}").exists():
                (target / f"app.log.{n}").rename(target / f"app.log.{n + 1}")
        log.rename(target / "app.log.1")
        write(log, b"ERROR " + word + b"\n")
    assert counts(check) == ((3, 0) if olddir else (2, 0))


def test_unrelated_files_in_subdirectories_are_not_read(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    write(log.parent / "backup" / "app.log.1", b"ERROR some old copy from elsewhere\n")
    assert counts(check) == (0, 0)


def test_file_not_in_its_encoding_is_reported_once(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, encoding="gbk", patterns={"critical": ["凭证发送失败"]})
    check.run()
    write(log, "2026 凭证发送失败 单号=1\n".encode("gbk") * 20)
    out = check.run()
    assert out.status == Status.CRITICAL and "无法解码" not in out.summary
    write(log, "2026 升级后改为 UTF-8 输出: 凭证发送失败 单号=2 回执【已处理】\n".encode() * 20)
    out = check.run()
    assert out.status == Status.WARNING
    assert f"日志文件 {log} 含无法按 gbk 解码的字节" in out.summary
    bad = out.details["encoding_errors"][0]
    assert bad["path"] == str(log) and 0 < bad["bad_bytes"] < bad["sampled_bytes"]
    assert f"{bad['bad_bytes'] / bad['sampled_bytes']:.1%}" in out.summary
    write(log, "2026 仍是 UTF-8 凭证【未处理】\n".encode() * 20)
    out = check.run()
    assert out.status == Status.OK and "无法解码" not in out.summary  # once per file


def test_utf8_file_with_gbk_lines_is_reported(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path)
    check.run()
    write(log, "2026 INFO 凭证接收成功 单号=1\n".encode("gbk") * 10)
    out = check.run()
    assert out.status == Status.WARNING and "utf-8" in out.summary
    assert os.path.basename(out.details["encoding_errors"][0]["path"]) == "app.log"


def test_encoding_checked_in_long_lines_and_big_reads(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, encoding="gbk")
    check.run()
    write(log, b"x" * (3 * CHUNK) + b"\n")  # a big ASCII read first: samples find nothing
    assert check.run().status == Status.OK
    # One 34 KiB UTF-8 line (UTF-8 often decodes as GBK pairs: only some of it is undecodable)
    write(log, ("<报文>" + "凭证发送失败，回执【已处理】单号=１２３" * 600 + "</报文>\n").encode())
    out = check.run()
    assert out.status == Status.WARNING and "无法按 gbk 解码" in out.summary


def test_log_missing_after_the_grace_is_a_warning(tmp_path: Path, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    check = make(tmp_path, missing_grace="30s")
    check.run()
    log.rename(log.with_name("app.log.1"))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 29)
    assert check.run().status == Status.OK
    monkeypatch.setattr(time, "time", lambda: real() + 31)
    out = check.run()
    assert out.status == Status.WARNING and "未找到日志文件" in out.summary


def test_a_few_bad_bytes_a_run_add_up(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, encoding="gbk")
    check.run()
    statuses = []
    for n in range(12):  # one line a run, 2 undecodable bytes each: reported once they add up to 16
        write(log, b"2026 INFO \x80 \xff id=%d\n" % n)
        statuses.append(check.run().status)
    assert statuses == [Status.OK] * 7 + [Status.WARNING] + [Status.OK] * 4


def test_an_event_start_that_never_matches_cannot_swallow_the_log(tmp_path: Path, log: Path) -> None:
    check = make(tmp_path, event_start="NEVER")
    check.run()
    line = b"2026-11-25 10:00:00 ERROR voucher send failed " + b"x" * 150 + b"\n"
    write(log, line * 4000)  # 800 KiB of continuation lines
    first = counts(check)[0]
    write(log, line * 4000)
    assert 3 <= first <= 4 and 3 <= counts(check)[0] <= 4  # one event per 256 KiB at least
