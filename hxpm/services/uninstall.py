"""Uninstall: refuse to break installed dependents, drop rows, then remove the trees."""

from __future__ import annotations

from dataclasses import dataclass

from hxpm.core.manifest import Manifest
from hxpm.core.versions import Version
from hxpm.errors import ResolutionError
from hxpm.services.query import find_installed
from hxpm.store.fsutil import prune_empty_parents, remove_tree
from hxpm.store.records import InstalledExpert
from hxpm.store.store import Store


@dataclass(frozen=True, slots=True)
class UninstallResult:
    removed: tuple[InstalledExpert, ...]
    broken: tuple[str, ...] = ()  # dependents left without a requirement (with --force)


def uninstall(
    store: Store, spec: str, *, base: str | None = None, force: bool = False
) -> UninstallResult:
    """Remove ``NAME`` (every installed version) or ``NAME@VERSION``/``NAME@RANGE``."""
    with store.writing():
        hits = [e for e in find_installed(store, spec) if base is None or e.base_model == base]
        broken = broken_dependents(store, hits)
        if broken and not force:
            raise ResolutionError(
                f"removing {', '.join(f'{e.name} {e.version}' for e in hits)} would break "
                + "; ".join(broken),
                hint="Uninstall the dependents first, or pass --force to remove anyway.",
                details={"dependents": list(broken)},
            )
        _remove(store, hits)
    return UninstallResult(tuple(hits), tuple(broken))


def _remove(store: Store, experts: list[InstalledExpert]) -> None:
    with store.db.transaction() as conn:
        for e in experts:
            store.db.delete_installed(conn, e)
    # After the commit a crash leaves orphan dirs, which the next writer sweeps.
    for e in experts:
        remove_tree(e.path)
        prune_empty_parents(e.path.parent, store.paths.experts)


def broken_dependents(store: Store, removing: list[InstalledExpert]) -> list[str]:
    """Installed experts that require something only ``removing`` provides."""
    gone = {(e.name, e.version, e.base_model) for e in removing}
    remaining = [e for e in store.db.installed() if (e.name, e.version, e.base_model) not in gone]
    out = []
    for e in remaining:
        manifest = Manifest.from_dict(e.manifest, source=f"store: {e.name}")
        for req in manifest.requires:
            if any(
                r.name == req.name
                and r.base_model == e.base_model
                and req.allows(Version.parse(r.version), allow_prerelease=True)
                for r in remaining
            ):
                continue
            if any(g[0] == req.name for g in gone):
                out.append(f"{e.name} {e.version} requires {req}")
    return out
