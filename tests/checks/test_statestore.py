"""Check state on disk: atomic, written only when changed; soft state written late, never lost at a clean stop."""
from __future__ import annotations

import json
import os
from pathlib import Path

from checks.base import StateStore


def on_disk(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_durable_save_is_on_disk_at_once_and_an_unchanged_one_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "checks" / "log.json"  # the directory is made on first write
    store = StateStore(path)
    store.save({"offset": 10})
    assert on_disk(path) == {"offset": 10}
    inode = os.stat(path).st_ino
    store.save({"offset": 10})
    assert os.stat(path).st_ino == inode  # not replaced: nothing written
    store.save({"offset": 20})
    assert on_disk(path) == {"offset": 20} and os.stat(path).st_ino != inode
    assert [p.name for p in path.parent.iterdir()] == ["log.json"]  # no temporary file left


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
