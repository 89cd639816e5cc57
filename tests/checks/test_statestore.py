"""Check state on disk: atomic, written only when changed; soft state written late, never lost at a clean stop."""
from __future__ import annotations

import json
import os
from pathlib import Path

from checks.base import StateStore


def on_disk(path: Path) -> dict[str, object]:
    """The state a new agent would read: the file's last line."""
    return json.loads(path.read_text(encoding="utf-8").splitlines()[-1])


def test_durable_save_is_on_disk_at_once_and_an_unchanged_one_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "checks" / "log.json"  # the directory is made on first write
    store = StateStore(path)
    store.save({"offset": 10})
    assert on_disk(path) == {"offset": 10}
    inode, size = os.stat(path).st_ino, os.stat(path).st_size
    store.save({"offset": 10})
    assert os.stat(path).st_size == size  # nothing written
    store.save({"offset": 20})
    assert on_disk(path) == {"offset": 20} and os.stat(path).st_ino == inode  # appended, not replaced
    assert StateStore(path).load() == {"offset": 20}
    assert [p.name for p in path.parent.iterdir()] == ["log.json"]  # no temporary file left


def test_appended_states_are_written_whole_again_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    store = StateStore(path)
    store.JOURNAL_MAX = 200
    for n in range(40):
        store.save({"offset": n})
        assert path.stat().st_size <= 200 and on_disk(path) == {"offset": n}
    assert 1 < len(path.read_text(encoding="utf-8").splitlines()) < 20


def test_a_line_a_crash_left_unfinished_leaves_the_state_before_it(tmp_path: Path) -> None:
    """A power cut in the middle of an append: the last whole line is the state, and the next
    process writes the file whole (so its own appends never follow the broken line)."""
    path = tmp_path / "log.json"
    first = StateStore(path)
    first.save({"offset": 1})
    first.save({"offset": 2})
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"offset": 3, "fi')
    second = StateStore(path)
    assert second.load() == {"offset": 2}
    assert StateStore(path, readonly=True).load() == {"offset": 2}
    second.save({"offset": 4})
    assert path.read_text(encoding="utf-8") == '{"offset": 4}\n'
    second.save({"offset": 5})
    assert StateStore(path).load() == {"offset": 5}


def test_a_state_file_of_the_earlier_single_object_form_is_read(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    path.write_text('{"files": [], "v": 1}', encoding="utf-8")  # no newline at the end
    store = StateStore(path)
    assert store.load() == {"files": [], "v": 1}
    store.save({"files": [], "v": 2})
    store.save({"files": [], "v": 3})
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == [
        {"files": [], "v": 2}, {"files": [], "v": 3}]


def test_soft_state_waits_in_memory_until_flush(tmp_path: Path) -> None:
    path = tmp_path / "system.json"
    store = StateStore(path)
    store.save({"cpu": 1}, durable=False)  # the first one is written (nothing on disk yet)
    store.save({"cpu": 2}, durable=False)
    assert on_disk(path) == {"cpu": 1}
    assert store.load() == {"cpu": 2}
    reader = StateStore(path, readonly=True)  # `xunjian-agent check` reads what is on disk
    assert reader.load() == {"cpu": 1}
    store.flush()
    assert on_disk(path) == {"cpu": 2} and reader.load() == {"cpu": 2}


def test_soft_state_is_written_again_after_its_period(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    store = StateStore(path)
    store.SOFT_WRITE_EVERY = 0.0
    store.save({"n": 1}, durable=False)
    store.save({"n": 2}, durable=False)
    assert on_disk(path) == {"n": 2}


def test_load_hands_out_copies(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "d.json")
    store.save({"samples": [[1, 2]]})
    got = store.load()
    got["samples"].append([3, 4])  # type: ignore[union-attr]
    assert store.load() == {"samples": [[1, 2]]}


def test_a_corrupt_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{not json", encoding="utf-8")
    store = StateStore(path)
    assert store.load() == {}
    store.save({"ok": True})
    assert on_disk(path) == {"ok": True}
