"""entries_at_depth: the store's lock-free walk of its installed trees (verify and clean read
it while other processes install and uninstall; docs/store.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

from hxpm.store.fsutil import entries_at_depth


def _tree(root: Path) -> None:
    for rel in ("a/1.0/base/0123", "a/1.0/base/4567", "b/2.0/base/89ab", "c/0.1"):
        (root / rel).mkdir(parents=True)
    (root / "a/1.0/base/stray.txt").write_text("left by hand")
    (root / "b/2.0/README").write_text("a file where a directory is expected")


def test_it_finds_what_glob_finds(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert entries_at_depth(tmp_path, 4) == sorted(tmp_path.glob("*/*/*/*"))
    assert len(entries_at_depth(tmp_path, 4)) == 4  # three trees and the stray file


def test_a_directory_gone_mid_walk_is_skipped_not_raised(tmp_path: Path) -> None:
    _tree(tmp_path)
    # what a concurrent uninstall leaves: the walk reaches names that no longer exist
    shutil.rmtree(tmp_path / "b")
    assert entries_at_depth(tmp_path / "b", 3) == []
    assert entries_at_depth(tmp_path / "a/1.0/base/stray.txt", 1) == []
    assert [p.name for p in entries_at_depth(tmp_path, 4)] == ["0123", "4567", "stray.txt"]
