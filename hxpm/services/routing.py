"""`hxpm route`: score installed experts for a prompt and name the set a run would use."""

from __future__ import annotations

from dataclasses import dataclass

from hxpm.routing.router import RouteCandidate, RouteDecision, route
from hxpm.services.expertset import ExpertSet, installed_set, registered_base
from hxpm.services.query import newest_first
from hxpm.store.records import InstalledExpert
from hxpm.store.store import Store


@dataclass(frozen=True, slots=True)
class Routed:
    decision: RouteDecision
    expert_set: ExpertSet | None  # None: the bare base answers


def route_candidates(store: Store, base: str) -> list[RouteCandidate]:
    """The newest installed version of every expert that has a variant for ``base``."""
    newest: dict[str, InstalledExpert] = {}
    for e in newest_first([e for e in store.db.installed() if e.base_model == base]):
        newest.setdefault(e.name, e)
    return [_candidate(e) for e in newest.values()]


def _candidate(e: InstalledExpert) -> RouteCandidate:
    m = e.manifest
    routing = m.get("routing") or {}
    constraints = m.get("constraints") or {}
    return RouteCandidate(
        name=e.name,
        version=e.version,
        keywords=tuple(routing.get("keywords") or ()),
        exclude_keywords=tuple(routing.get("exclude_keywords") or ()),
        priority=float(routing.get("priority", 0.5)),
        capabilities=tuple(m.get("capabilities") or ()),
        description=str(m.get("description") or ""),
        requires=tuple(str(r) for r in constraints.get("requires") or ()),
    )


def route_prompt(store: Store, prompt: str, *, base: str | None = None) -> Routed:
    base_model = registered_base(store, base)
    decision = route(prompt, route_candidates(store, base_model.name))
    if decision.chosen is None:
        return Routed(decision, None)
    return Routed(decision, installed_set(store, [decision.chosen], base=base_model.name))
