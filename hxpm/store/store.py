"""The store facade: paths + state database + write lock + crash recovery."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hxpm.store.fsutil import entries_at_depth, prune_empty_parents, remove_tree
from hxpm.store.lock import store_lock
from hxpm.store.paths import StorePaths
from hxpm.store.state import StateDB


class Store:
    """One per command. Reads need no lock; every change happens inside ``writing()``."""

    def __init__(self, paths: StorePaths) -> None:
        self.paths = paths
        self.db = StateDB(paths)

    @classmethod
    def from_env(cls) -> Store:
        return cls(StorePaths.from_env())

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the write lock; first clear what a crashed writer may have left."""
        with store_lock(self.paths.lock_file):
            self.recover()
            yield

    def recover(self) -> list[Path]:
        """Remove stale staging and orphan expert dirs. Caller must hold the write lock."""
        removed: list[Path] = []
        if self.paths.tmp.is_dir():
            for entry in sorted(self.paths.tmp.iterdir()):
                remove_tree(entry)
                removed.append(entry)
        for orphan in self.orphan_dirs():
            remove_tree(orphan)
            prune_empty_parents(orphan.parent, self.paths.experts)
            removed.append(orphan)
        return removed

    def orphan_dirs(self, known: set[Path] | None = None) -> list[Path]:
        """Installed-tree directories that no database row points to (``known``: the
        paths of the rows the caller already read, so both come from one snapshot)."""
        if not self.paths.experts.is_dir():
            return []
        if known is None:
            known = {e.path for e in self.db.installed()}
        # name/version/base/tree digest; a tree removed while we walk is no orphan
        return [p for p in entries_at_depth(self.paths.experts, 4) if p not in known]
