"""`hxpm update [NAME...]` / `hxpm upgrade`: move installed experts to the newest allowed."""

from __future__ import annotations

from collections.abc import Sequence

from hxpm.core.versions import Version
from hxpm.services.plan import Plan, PlanOptions, plan_install
from hxpm.services.query import newest_first, resolve_installed_name
from hxpm.store.store import Store


def plan_update(
    store: Store,
    names: Sequence[str] = (),
    *,
    base: str | None = None,
    allow_prerelease: bool = False,
) -> Plan:
    """Re-resolve every expert you asked for; only ``names`` (or all, if none) may move."""
    requested = [
        e for e in store.db.installed() if e.requested and (base is None or e.base_model == base)
    ]
    roots = sorted({e.name for e in requested})
    moving = {resolve_installed_name(store, n) for n in names} if names else set(roots)
    roots = sorted(set(roots) | moving)
    locked: dict[str, Version] = {}
    for name in roots:
        if name not in moving:
            mine = newest_first([e for e in requested if e.name == name])
            locked[name] = Version.parse(mine[0].version)
    return plan_install(
        store,
        roots,
        PlanOptions(base=base, allow_prerelease=allow_prerelease, upgrade=True, locked=locked),
    )
