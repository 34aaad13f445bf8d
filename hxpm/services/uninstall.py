"""Uninstall: drop the rows in one transaction, then remove the trees."""

from __future__ import annotations

from dataclasses import dataclass

from hxpm.services.query import find_installed
from hxpm.store.fsutil import prune_empty_parents, remove_tree
from hxpm.store.records import InstalledExpert
from hxpm.store.store import Store


@dataclass(frozen=True, slots=True)
class UninstallResult:
    removed: tuple[InstalledExpert, ...]


def uninstall(store: Store, spec: str, *, base: str | None = None) -> UninstallResult:
    """Remove ``NAME`` (every installed version) or ``NAME@VERSION``/``NAME@RANGE``."""
    with store.writing():
        hits = [e for e in find_installed(store, spec) if base is None or e.base_model == base]
        with store.db.transaction() as conn:
            for e in hits:
                store.db.delete_installed(conn, e)
        # After the commit a crash leaves orphan dirs, which the next writer sweeps.
        for e in hits:
            remove_tree(e.path)
            prune_empty_parents(e.path.parent, store.paths.experts)
    return UninstallResult(tuple(hits))
