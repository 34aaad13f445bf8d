"""Resolve requirements to a set of experts in load order (docs/architecture.md §7).

``resolve`` runs resolvelib over :class:`ExpertProvider`, then checks what resolvelib does not
know about: cycles in ``requires`` (an expert cannot load after itself) and each expert's
``max_chain``. Every failure is a :class:`ResolutionError` (exit 3) carrying a
:class:`ConflictReport` as ``details["report"]``; raw resolvelib exceptions never escape.

Set ``HXPM_RESOLVER_DEBUG=1`` to log every pin, rejection and backtrack to the
``hxpm.resolve`` logger.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep

from hxpm.core.versions import Requirement, Version
from hxpm.errors import DependencyCycleError, MaxChainError, ResolutionError
from hxpm.resolve._pinned import MemoResolver
from hxpm.resolve.explain import (
    ConflictReport,
    build_conflict_report,
    cycle_report,
    max_chain_report,
    render_text,
)
from hxpm.resolve.model import USER, Candidate, CandidateSource, Resolution
from hxpm.resolve.provider import ExpertProvider, Need, Pick

if TYPE_CHECKING:
    from resolvelib.resolvers import Result
    from resolvelib.structs import RequirementInformation

    Causes = Collection[RequirementInformation[Need, Pick]]

#: Rounds (pins plus backtracks) before giving up; pip uses the same bound.
MAX_ROUNDS = 200_000

log = logging.getLogger("hxpm.resolve")


class _Reporter(BaseReporter[Need, Pick, str]):
    """Remembers what a report needs: the latest conflict (for a give-up after too many
    rounds) and, per name, the expert whose requirement last brought it in."""

    def __init__(self) -> None:
        self.last_causes: Causes = ()
        self.pulled_in_by: dict[str, Pick | None] = {}

    def adding_requirement(self, requirement: Need, parent: Pick | None) -> None:
        if not requirement.negative:
            self.pulled_in_by[requirement.name] = parent

    def resolving_conflicts(self, causes: Causes) -> None:
        self.last_causes = list(causes)


class _DebugReporter(_Reporter):
    def resolving_conflicts(self, causes: Causes) -> None:
        super().resolving_conflicts(causes)
        log.debug("backtracking because of %s", causes)

    def rejecting_candidate(self, criterion: Any, candidate: Any) -> None:
        log.debug("rejecting %r: %r", candidate, criterion)

    def pinning(self, candidate: Any) -> None:
        log.debug("pinning %r", candidate)


def resolve(
    roots: Sequence[Requirement],
    source: CandidateSource,
    *,
    base_model: str,
    base_sha256: str | None = None,
    allow_prerelease: bool = False,
    prefer_installed: bool = True,
    locked: Mapping[str, Version] | None = None,
) -> Resolution:
    """Choose one version of every expert the ``roots`` need, for ``base_model``.

    Args:
        roots: what the user asked for; a requirement with a Git ``source`` matches by name
            (the caller puts that repository's candidates into ``source``).
        source: every known candidate per name (store, indexes, Git sources).
        base_model: only candidates with a variant for this exact name are eligible.
        base_sha256: when given, a variant recording another base digest is not eligible.
        allow_prerelease: also choose pre-releases that no range names.
        prefer_installed: try an installed version first when it fits (no churn); False
            upgrades to the newest fitting version.
        locked: names pinned to exact versions (a lock file, or update logic); a pinned
            version may be yanked.

    Returns:
        The chosen experts in load order, and who required each.

    Raises:
        ResolutionError: no set satisfies every requirement (``details["report"]`` explains).
        DependencyCycleError: the chosen experts require each other in a cycle.
        MaxChainError: an expert's resolved closure is larger than its ``max_chain``.
    """
    provider = ExpertProvider(
        source,
        base_model=base_model,
        base_sha256=base_sha256,
        allow_prerelease=allow_prerelease,
        prefer_installed=prefer_installed,
        locked=locked,
    )
    reporter = _DebugReporter() if os.environ.get("HXPM_RESOLVER_DEBUG") else _Reporter()
    provider.prefetch(roots)
    needs = [provider.need(r) for r in roots]
    try:
        result = MemoResolver(provider, reporter).resolve(needs, max_rounds=MAX_ROUNDS)
    except ResolutionImpossible as exc:
        report = build_conflict_report(exc.causes, provider, pulled_in_by=reporter.pulled_in_by)
        raise _conflict_error(report) from None
    except ResolutionTooDeep as exc:
        report = build_conflict_report(
            reporter.last_causes,
            provider,
            pulled_in_by=reporter.pulled_in_by,
            too_deep_after=exc.round_count,
        )
        raise _conflict_error(report) from None
    chosen = {
        name: pick.candidate for name, pick in result.mapping.items() if pick.candidate is not None
    }
    ordered = _load_order(chosen, base_model)
    _check_max_chain(ordered, chosen, base_model)
    return Resolution(tuple(ordered), MappingProxyType(_required_by(result, chosen)))


def _conflict_error(report: ConflictReport) -> ResolutionError:
    # The hints are part of the message (as pip prints "To fix this you could try to"), so
    # ``hint`` stays empty; JSON readers find them in details["report"]["hints"].
    return ResolutionError(render_text(report), details={"report": report.to_dict()})


def _required_by(
    result: Result[Need, Pick, str], chosen: Mapping[str, Candidate]
) -> dict[str, tuple[str, ...]]:
    required_by: dict[str, tuple[str, ...]] = {}
    for name in sorted(chosen):
        who: set[str] = set()
        for info in result.criteria[name].information:
            parent = info.parent
            if info.requirement.negative:
                continue
            if parent is None:
                who.add(USER)
            elif parent.candidate is not None and chosen.get(parent.name) is parent.candidate:
                who.add(parent.candidate.key)  # only requirers that made it into the set
        required_by[name] = tuple(sorted(who, key=lambda w: (w != USER, w)))
    return required_by


def _deps(candidate: Candidate, chosen: Mapping[str, Candidate]) -> set[str]:
    return {r.name for r in candidate.requires if r.name in chosen}


def _load_order(chosen: Mapping[str, Candidate], base_model: str) -> list[Candidate]:
    """Dependencies first, then by ``load_order``, then by name (Kahn's algorithm).

    Raises:
        DependencyCycleError: some experts require each other; the message names the cycle.
    """
    deps = {name: _deps(c, chosen) for name, c in chosen.items()}
    dependents: dict[str, list[str]] = {name: [] for name in chosen}
    for name, needed in deps.items():
        for dep in needed:
            dependents[dep].append(name)
    waiting = {name: len(needed) for name, needed in deps.items()}
    ready = [(c.load_order, name) for name, c in chosen.items() if not waiting[name]]
    heapq.heapify(ready)
    ordered: list[Candidate] = []
    while ready:
        _, name = heapq.heappop(ready)
        ordered.append(chosen[name])
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if not waiting[dependent]:
                heapq.heappush(ready, (chosen[dependent].load_order, dependent))
    if len(ordered) < len(chosen):
        cycle = _find_cycle({n for n, w in waiting.items() if w}, deps, chosen)
        report = cycle_report(cycle, base_model)
        raise DependencyCycleError(
            report.summary, hint=report.hints[0], details={"report": report.to_dict()}
        )
    return ordered


def _find_cycle(
    stuck: set[str], deps: Mapping[str, set[str]], chosen: Mapping[str, Candidate]
) -> list[Candidate]:
    # Every stuck expert still waits on a stuck dependency, so following one always closes
    # a loop. Start from the smallest name and take the smallest edge: deterministic text.
    path: list[str] = []
    at = min(stuck)
    while at not in path:
        path.append(at)
        at = min(deps[at] & stuck)
    cycle = path[path.index(at) :]
    first = cycle.index(min(cycle))
    return [chosen[n] for n in cycle[first:] + cycle[:first]]


def _check_max_chain(
    ordered: Sequence[Candidate], chosen: Mapping[str, Candidate], base_model: str
) -> None:
    """Each expert's closure (itself plus all it requires, transitively) fits its max_chain.

    Raises:
        MaxChainError: names the first expert in load order whose closure is too large.
    """
    # Closures as bit sets over load-order positions: dependencies come first, so one pass.
    position = {c.name: i for i, c in enumerate(ordered)}
    closure: list[int] = []
    for i, candidate in enumerate(ordered):
        bits = 1 << i
        for dep in _deps(candidate, chosen):
            bits |= closure[position[dep]]
        closure.append(bits)
        size = bits.bit_count()
        if size > candidate.max_chain:
            members = [c for j, c in enumerate(ordered) if bits >> j & 1]
            report = max_chain_report(candidate, members, base_model)
            raise MaxChainError(
                report.summary, hint=report.hints[0], details={"report": report.to_dict()}
            )
