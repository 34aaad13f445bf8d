"""Resolve requirements to a set of experts in load order (docs/architecture.md §7).

``resolve`` runs :func:`~hxpm.resolve.first_pass.first_pass` over :class:`ExpertProvider`
(resolvelib's answer when no backtracking is needed) and resolvelib itself for everything
that pass declines (``_backtracking.py``), then checks what resolvelib does not know
about: cycles in ``requires`` (an expert cannot load after itself) and each expert's
``max_chain``. Every failure is a :class:`ResolutionError` (exit 3) carrying a
:class:`ConflictReport` as ``details["report"]``; raw resolvelib exceptions never escape.

Set ``HXPM_RESOLVER_DEBUG=1`` to log every pin, rejection and backtrack of the resolvelib
run to the ``hxpm.resolve`` logger (a resolution the first pass finishes has none).
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from hxpm.core.versions import Requirement, Version
from hxpm.errors import DependencyCycleError, MaxChainError
from hxpm.resolve.first_pass import Information, Trace, first_pass
from hxpm.resolve.model import USER, Candidate, CandidateSource, Resolution
from hxpm.resolve.provider import ExpertProvider

#: Rounds (pins plus backtracks) before giving up; pip uses the same bound.
MAX_ROUNDS = 200_000


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
    provider.prefetch(roots)
    needs = [provider.need(r) for r in roots]
    # Most requests need no backtracking: the first pass gives resolvelib's answer for
    # those without its per-round scan of every name, and declines the rest.
    trace = _debug_trace() if os.environ.get("HXPM_RESOLVER_DEBUG") else None
    solution = first_pass(provider, needs, MAX_ROUNDS, trace=trace)
    if solution is None:
        from hxpm.resolve._backtracking import resolve_with_backtracking

        solution = resolve_with_backtracking(provider, needs, MAX_ROUNDS)
    chosen = {
        name: pick.candidate
        for name, pick in solution.mapping.items()
        if pick.candidate is not None
    }
    ordered = _load_order(chosen, base_model)
    _check_max_chain(ordered, chosen, base_model)
    return Resolution(tuple(ordered), MappingProxyType(_required_by(solution.information, chosen)))


def _debug_trace() -> Trace:
    import logging  # only when debugging: a plain resolution never loads logging

    return logging.getLogger("hxpm.resolve").debug


def _required_by(
    information: Mapping[str, Iterable[Information]], chosen: Mapping[str, Candidate]
) -> dict[str, tuple[str, ...]]:
    required_by: dict[str, tuple[str, ...]] = {}
    for name in sorted(chosen):
        who: set[str] = set()
        for requirement, parent in information[name]:
            if requirement.negative:
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
        from hxpm.resolve.explain import cycle_report

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
            from hxpm.resolve.explain import max_chain_report

            members = [c for j, c in enumerate(ordered) if bits >> j & 1]
            report = max_chain_report(candidate, members, base_model)
            raise MaxChainError(
                report.summary, hint=report.hints[0], details={"report": report.to_dict()}
            )
