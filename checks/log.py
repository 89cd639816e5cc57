"""The `log` check: count error and warning events written to log files since the previous run
(options and an example: docs/checks-log.md).

Positions are kept per file in the check's StateStore; rotation, truncation and new files are
handled in checks.logtail.files, the scanning in checks.logtail.reader/matcher.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional

from checks.base import Check, Outcome
from checks.logtail.access import LOCAL, FileAccess
from checks.logtail.files import FileState, Reconciler, discover, discover_moved
from checks.logtail.matcher import (
    CRITICAL,
    PATTERN_FLAGS,
    SEVERITIES,
    WARNING,
    Matcher,
    check_encoding,
    compile_patterns,
)
from checks.logtail.reader import FileReader, Tally
from checks.model import Metric, Status, worst
from checks.options import Duration, Size, Threshold
from checks.thresholds import evaluate

STATE_VERSION = 1
LIVE_KEEP = 256
LIVE_KEEP_SECONDS = 7 * 86400.0
MAX_FILE_DETAILS = 20
ANY_EVENT = Threshold("0")  # the range of fine counts: a single event alerts
MAX_BYTES_PER_RUN = Size(64 * 1024 * 1024)
MAX_LINE_LENGTH = Size(8 * 1024)
MISSING_GRACE = Duration(60)
ENCODING_WARN_BYTES = 16  # undecodable bytes in a file's sample before it is reported


def _default_patterns() -> dict[str, list[str]]:
    return {"critical": ["ERROR", "FATAL"], "warning": ["WARN"]}


@dataclass
class LogOptions:
    """Options of a log check."""

    ALIASES: ClassVar[dict[str, str]] = {"from": "start_at"}

    paths: list[str]
    patterns: dict[str, list[str]] = field(default_factory=_default_patterns)
    ignore: list[str] = field(default_factory=list)     # regexes: matching lines are not events
    exclude: list[str] = field(default_factory=list)    # globs on path or file name
    encoding: str = "utf-8"
    start_at: Literal["end", "start"] = "end"           # `from:` first sight of a file at start
    ignore_case: bool = False
    multiline: bool = True                              # stack trace lines join the event above
    critical_count: Threshold = ANY_EVENT                # Nagios range of fine critical_events
    warning_count: Threshold = ANY_EVENT                 # Nagios range of fine warning_events
    max_bytes_per_run: Size = MAX_BYTES_PER_RUN
    max_line_length: Size = MAX_LINE_LENGTH
    samples: int = 5
    silence: Optional[Duration] = None                  # no new line for this long -> WARNING
    allow_missing: bool = False                         # no file matched -> OK instead of WARNING
    missing_grace: Duration = MISSING_GRACE             # no WARNING while a rotated file is being replaced
    event_start: Optional[str] = None                   # regex of an event's first line; others continue it
    olddir: list[str] = field(default_factory=list)     # logrotate olddir: where rotated files go

    def validate(self) -> None:
        if not self.paths:
            raise ValueError("paths: at least one file or glob")
        bad = [k for k in self.patterns if k not in SEVERITIES]
        if bad:
            raise ValueError(f"patterns: unknown level {bad[0]!r} (use critical, warning)")
        if not any(self.patterns.values()):
            raise ValueError("patterns: at least one pattern")
        for text in [*(p for ps in self.patterns.values() for p in ps), *self.ignore,
                     *([self.event_start] if self.event_start is not None else [])]:
            try:
                re.compile(text)
            except re.error as e:
                raise ValueError(f"pattern {text!r} is not a valid regex: {e}") from None
        self.encoding = check_encoding(self.encoding)
        if self.event_start is not None:  # matched on the raw bytes of each line
            try:
                re.compile(self.event_start.encode(self.encoding))
            except (UnicodeEncodeError, re.error) as e:
                raise ValueError(f"event_start: cannot be matched on {self.encoding} bytes: {e}") from None
        if not 256 <= self.max_line_length <= 1024 * 1024:
            raise ValueError("max_line_length: between 256B and 1MiB")
        if self.max_bytes_per_run < 64 * 1024:
            raise ValueError("max_bytes_per_run: at least 64KiB")
        if not 0 <= self.samples <= 10:  # details stay well under the 16 KiB wire limit
            raise ValueError("samples: between 0 and 10")
        if self.missing_grace < 0:
            raise ValueError("missing_grace: must not be negative")
        if self.silence is not None and self.silence <= 0:
            raise ValueError("silence: must be positive")


class LogCheck(Check):
    type = "log"
    Options = LogOptions

    def __init__(self, options: LogOptions, *, state: Any = None, access: FileAccess = LOCAL) -> None:
        super().__init__(options, state=state)
        self.access = access  # local files by default; the agentless poller passes an SSH one
        o = options
        flags = PATTERN_FLAGS | (re.IGNORECASE if o.ignore_case else 0)
        matcher = Matcher(compile_patterns(o.patterns, o.encoding, o.ignore_case),
                          [re.compile(p, flags) for p in o.ignore], o.encoding)
        self.reader = FileReader(matcher, multiline=o.multiline, max_line=int(o.max_line_length),
                                 access=access, event_start=o.event_start)

    def run(self) -> Outcome:
        o: LogOptions = self.options
        saved = self.state.load()
        known = saved.get("v") == STATE_VERSION
        files = _states(saved.get("files")) if known else []
        gone = _states(saved.get("gone")) if known else []
        live_raw = saved.get("live") if known and isinstance(saved.get("live"), dict) else {}
        live = {p: t for p, t in live_raw.items() if isinstance(t, (int, float))}
        fresh = not known or saved.get("paths") != list(o.paths)
        prev_size = {fs.key: fs.size for fs in files}

        last_live = max(live.values(), default=None)  # when a watched file was last there
        cands = discover(o.paths, o.exclude, tuple(live), self.access, tuple(o.olddir))
        if any(fs.key not in cands for fs in files):  # moved away: perhaps into an olddir
            discover_moved([*live, *(c.path for c in cands.values() if c.primary)], o.exclude, cands,
                           self.access)
        # Live paths are remembered for a while after they vanish: their rotated siblings may
        # still hold unread lines (between logrotate's rename and create, after a deletion).
        now = time.time()
        live.update({c.path: now for c in cands.values() if c.primary})
        live = dict(sorted((kv for kv in live.items() if now - kv[1] < LIVE_KEEP_SECONDS),
                           key=lambda kv: -kv[1])[:LIVE_KEEP])
        seen = _keys(saved.get("seen")) if known else set()
        rec = Reconciler(files, gone, fresh_start=fresh, from_start=o.start_at == "start", seen=seen,
                         access=self.access)
        active, gone = rec.run(cands)
        active.sort(key=lambda f: (f.primary, f.mtime))  # rotated (older) content first

        tally = Tally(o.samples)
        budget = int(o.max_bytes_per_run)
        bytes_read = 0
        errors: dict[str, str] = {}
        active_now = False
        per_read: dict[str, int] = {}
        for fs in active:
            try:
                n = self.reader.read(fs, budget, tally)
            except FileNotFoundError:
                continue  # rotated away between discovery and reading: found again next run
            except OSError as e:
                errors[fs.path] = e.strerror or str(e)
                continue
            per_read[fs.path] = n
            budget -= n
            bytes_read += n
            if n or fs.size != prev_size.get(fs.key, fs.size):
                active_now = True

        primaries = [fs for fs in active if fs.primary]
        if fresh and not known:
            last_new = max((fs.mtime for fs in primaries), default=now)
        else:
            last_new = saved.get("last_new") if isinstance(saved.get("last_new"), (int, float)) else now
        if active_now:
            last_new = now
        lag = sum(max(0, fs.size - fs.offset) for fs in active)
        bad_encoding = _bad_encoding(active, tally.bad_bytes)
        # Between a rename and the new file's creation the log is briefly absent: not a fault.
        rotating = not primaries and last_live is not None and now - last_live < o.missing_grace

        self.state.save({
            "v": STATE_VERSION, "paths": list(o.paths), "last_new": last_new,
            "files": [fs.to_dict() for fs in active], "gone": [g.to_dict() for g in gone],
            "live": live, "seen": sorted(map(list, rec.seen_now)),
        })
        outcome = self._outcome(o, tally, active, primaries, errors, per_read, bytes_read, lag,
                                now - last_new, any(fs.behind for fs in active), fresh and not known,
                                rotating)
        return _with_encoding_warning(outcome, o.encoding, bad_encoding)

    def _outcome(self, o: LogOptions, tally: Tally, active: list[FileState], primaries: list[FileState],
                 errors: dict[str, str], per_read: dict[str, int], bytes_read: int, lag: int,
                 quiet_for: float, capped: bool, first_run: bool, rotating: bool = False) -> Outcome:
        crit, warn = tally.counts[CRITICAL], tally.counts[WARNING]
        statuses = [evaluate(crit, None, o.critical_count), evaluate(warn, o.warning_count, None)]
        parts: list[str] = []
        if crit or warn:
            names = [os.path.basename(p) for p, c in tally.per_file.items() if c[1] or c[2]]
            where = ", ".join(names[:3]) + (f" 等 {len(names)} 个文件" if len(names) > 3 else "")
            parts.append(f"发现 {crit} 条严重错误, {warn} 条警告 ({where})")
        if not primaries and rotating:
            parts.append(f"日志文件轮转中, 暂未出现: {', '.join(o.paths)}")
        elif not primaries:
            if not o.allow_missing:
                statuses.append(Status.WARNING)
            parts.append(f"未找到日志文件: {', '.join(o.paths)}")
        elif errors and len(errors) >= len(active):
            statuses.append(Status.UNKNOWN)
            path, err = next(iter(errors.items()))
            parts.append(f"无法读取日志文件 {path}: {err}")
        if o.silence is not None and primaries and quiet_for >= o.silence:
            statuses.append(Status.WARNING)
            parts.append(f"日志 {int(quiet_for // 60)} 分钟无新内容，服务可能挂起")
        if capped and lag:
            parts.append(f"积压 {_size(lag)} 未读 (每次最多读取 {_size(o.max_bytes_per_run)})")
        if not parts:
            parts.append(f"未发现错误 (新增 {_size(bytes_read)}, {len(primaries)} 个文件)")
        if first_run and not (crit or warn):
            parts.append("首次运行, 从文件末尾开始" if o.start_at == "end" else "首次运行, 从文件开头读取")

        metrics = [
            Metric("critical_events", crit, "", crit=str(o.critical_count), min=0),
            Metric("warning_events", warn, "", warn=str(o.warning_count), min=0),
            Metric("bytes_read", bytes_read, "B", min=0),
            Metric("files", len(primaries), "", min=0),
            Metric("lag_bytes", lag, "B", min=0),
        ]
        if o.silence is not None:
            metrics.append(Metric("silence_seconds", round(max(quiet_for, 0.0), 1), "s",
                                  warn=f"{o.silence:g}", min=0))
        file_info = []
        for fs in sorted(active, key=lambda f: (not f.primary, f.path))[:MAX_FILE_DETAILS]:
            c = tally.per_file.get(fs.path, [0, 0, 0])
            info: dict[str, Any] = {"path": fs.path, "offset": fs.offset, "size": fs.size,
                                    "read": per_read.get(fs.path, 0), "critical": c[2], "warning": c[1]}
            if fs.note:
                info["note"] = fs.note
            if fs.path in errors:
                info["error"] = errors[fs.path]
            file_info.append(info)
        details: dict[str, Any] = {"samples": tally.sample_list(), "files": file_info}
        if len(active) > MAX_FILE_DETAILS:
            details["files_omitted"] = len(active) - MAX_FILE_DETAILS
        return Outcome(worst(statuses), "; ".join(parts), metrics, details)


def _bad_encoding(active: list[FileState], bad_bytes: dict[str, list[int]]) -> list[tuple[str, int, int]]:
    """Files whose samples (this run's added to earlier runs') now hold enough bytes their
    encoding cannot decode, and that were not reported before: (path, bad, sampled)."""
    out = []
    for fs in active:
        bad, sampled = bad_bytes.get(fs.path, (0, 0))
        if fs.enc_warned or not sampled:
            continue
        fs.enc_bad, fs.enc_sampled = fs.enc_bad + bad, fs.enc_sampled + sampled
        if fs.enc_bad >= ENCODING_WARN_BYTES:
            fs.enc_warned = True
            out.append((fs.path, fs.enc_bad, fs.enc_sampled))
    return out


def _with_encoding_warning(outcome: Outcome, encoding: str, bad: list[tuple[str, int, int]]) -> Outcome:
    if not bad:
        return outcome
    notes = [f"日志文件 {path} 含无法按 {encoding} 解码的字节 (抽查 {_size(sampled)}, "
             f"{bad_n / sampled:.1%} 无法解码), 请检查 encoding 配置"
             for path, bad_n, sampled in bad]
    details = dict(outcome.details, encoding_errors=[
        {"path": path, "bad_bytes": bad_n, "sampled_bytes": sampled} for path, bad_n, sampled in bad])
    return Outcome(worst([outcome.status, Status.WARNING]), "; ".join([outcome.summary, *notes]),
                   outcome.metrics, details)


def _states(raw: Any) -> list[FileState]:
    out = []
    for d in raw or []:
        fs = FileState.from_dict(d) if isinstance(d, dict) else None
        if fs is not None:
            out.append(fs)
    return out


def _keys(raw: Any) -> set[tuple[int, int]]:
    out = set()
    for k in raw if isinstance(raw, list) else []:
        if isinstance(k, list) and len(k) == 2 and all(isinstance(x, int) for x in k):
            out.add((k[0], k[1]))
    return out


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover
