"""The set of installed experts a run uses: the named experts plus their requires closure.

Resolved with the same resolver as installs, over installed experts only, so load order,
incompatibilities and max_chain are honoured exactly as they were at install time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hxpm.errors import NotFoundError
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store


@dataclass(frozen=True, slots=True)
class ExpertSet:
    base: BaseModel
    experts: tuple[InstalledExpert, ...]  # load order: requirements before dependents
    requested: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.experts)


def registered_base(store: Store, name: str | None) -> BaseModel:
    """``name`` or the default base; NotFoundError with the next step when there is none."""
    chosen = name or store.db.get_meta("default_base")
    if chosen is None:
        raise NotFoundError(
            "no base model is registered", hint="Register one with `hxpm base add NAME --path DIR`."
        )
    base = store.db.find_base(chosen)
    if base is None:
        raise NotFoundError(
            f"no base model named {chosen!r} is registered",
            hint=f"hxpm base add {chosen} --path DIR",
        )
    return base


def installed_set(store: Store, specs: Sequence[str], *, base: str | None = None) -> ExpertSet:
    """Resolve ``specs`` (NAME or NAME@RANGE) and their requires over installed experts."""
    # Imported here: `hxpm route` uses registered_base on its start-up path, not these.
    from hxpm.core.versions import Requirement, parse_requirement
    from hxpm.resolve.model import InMemorySource
    from hxpm.resolve.resolver import resolve
    from hxpm.services.candidates import InstalledPayload, candidate_from_installed
    from hxpm.services.query import resolve_installed_name

    base_model = registered_base(store, base)
    roots = []
    for spec in specs:
        req = parse_requirement(spec, field="--expert")
        roots.append(Requirement(resolve_installed_name(store, req.name), req.spec, None, spec))
    candidates = [
        candidate_from_installed(e) for e in store.db.installed() if e.base_model == base_model.name
    ]
    resolution = resolve(
        roots,
        InMemorySource(candidates),
        base_model=base_model.name,
        base_sha256=base_model.sha256 or None,
    )
    experts = []
    for c in resolution.experts:
        assert isinstance(c.payload, InstalledPayload)
        experts.append(c.payload.expert)
    return ExpertSet(base_model, tuple(experts), tuple(r.name for r in roots))
