"""A first pass that finishes resolutions needing no backtracking (docs/architecture.md §12).

resolvelib spends most of a large, conflict-free resolution scanning every open name each
round. Most requests never backtrack, so :func:`first_pass` replays resolvelib's own steps
for that case, over the same :class:`~hxpm.resolve.provider.ExpertProvider` (same
candidate order, same ``find_matches``, same choice of the next name: not in the lock
first, then fewest candidates, then by name), with a heap instead of the per-round scan.
Each round pins the first match of the chosen name, as resolvelib does when that first
match's dependencies conflict with nothing.

The moment resolvelib would do anything else, the pass declines (returns None) and the
caller runs resolvelib from scratch: a dependency leaves some name with no match (resolvelib
would try the next candidate or backtrack), a new requirement is not satisfied by a name's
current pin (resolvelib would re-pin it), a candidate requires its own name, or a root
already has no match (the conflict report must come from resolvelib). So an answer from
this pass is the answer resolvelib gives; tests/unit/resolve/test_first_pass.py checks that
on random graphs with conflicts, pre-releases, yanked versions and locks.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hxpm.resolve.provider import ExpertProvider, Need, Pick

#: (requirement, the pick that brought it in or None for a root): who asked for what.
Information = tuple[Need, Pick | None]
#: Where the pass reports pins and why it declined (HXPM_RESOLVER_DEBUG), as logging does.
Trace = Callable[..., None]


@dataclass(frozen=True, slots=True)
class Solution:
    """The pins (absent picks included) and, per name, every requirement that reached it."""

    mapping: dict[str, Pick]
    information: dict[str, list[Information]]


class _Declined(Exception):
    """resolvelib would backtrack, re-pin or report a conflict here (the message says why)."""


class _Pass:
    def __init__(self, provider: ExpertProvider, trace: Trace | None) -> None:
        self.provider = provider
        self.trace = trace
        self.requirements: dict[str, list[Need]] = {}  # resolvelib's criteria
        self.information: dict[str, list[Information]] = {}
        self.matches: dict[str, list[Pick]] = {}  # each criterion's candidates
        self.pins: dict[str, Pick] = {}
        self.heap: list[tuple[bool, bool, int, str]] = []  # provider preferences

    def find_matches(self, name: str, needs: list[Need]) -> list[Pick]:
        matches = self.provider.find_matches(name, {name: iter(needs)}, {name: iter(())})
        # find_matches updates the count the provider ranks names by, even for a trial
        # resolvelib then discards; a heap entry is current while it equals the preference.
        if name in self.requirements and name not in self.pins:
            heapq.heappush(self.heap, self.provider.preference(name))
        return matches

    def add_roots(self, roots: Sequence[Need]) -> None:
        for need in roots:
            known = [*self.requirements.get(need.name, ()), need]
            matches = self.find_matches(need.name, known)
            if not matches:
                raise _Declined(f"the root {need!r} has no match")
            self.commit(need.name, known, [(need, None)], matches)

    def commit(
        self, name: str, known: list[Need], infos: list[Information], matches: list[Pick]
    ) -> None:
        """Keep ``name``'s new criterion (resolvelib's ``criteria.update``)."""
        new = name not in self.requirements
        self.requirements[name] = known
        self.information.setdefault(name, []).extend(infos)
        self.matches[name] = matches
        if new:  # a known name got its heap entry from find_matches
            heapq.heappush(self.heap, self.provider.preference(name))

    def next_name(self) -> str | None:
        """The open name resolvelib's provider would choose now, or None when all are pinned."""
        while self.heap:
            entry = heapq.heappop(self.heap)
            name = entry[-1]
            if name not in self.pins and entry == self.provider.preference(name):
                return name  # an entry from before the name's latest count is stale
        return None

    def pin(self, name: str) -> None:
        """resolvelib's ``_attempt_to_pin_criterion``: the first match whose requirements
        leave every name a match."""
        for pick in self.matches[name]:
            deps = self.provider.get_dependencies(pick)
            if any(dep.name == name for dep in deps):
                # resolvelib checks a pick against its own criterion before adding the
                # pick's requirements: a requirement on its own name is left to it.
                raise _Declined(f"{pick!r} requires its own name")
            added = self.try_requirements(pick, deps)
            if added is not None:
                break
        else:
            raise _Declined(f"no match of {name} fits the rest: resolvelib backtracks")
        if self.trace is not None:
            self.trace("pinning %r (first pass)", pick)
        self.pins[name] = pick
        for dep_name, (known, infos, matches) in added.items():
            for need, _ in infos:
                pin = self.pins.get(dep_name)
                if pin is not None and not self.provider.is_satisfied_by(need, pin):
                    raise _Declined(f"{need!r} from {pick!r} rejects the pin {pin!r}")
            self.commit(dep_name, known, infos, matches)

    def try_requirements(
        self, pick: Pick, deps: Sequence[Need]
    ) -> dict[str, tuple[list[Need], list[Information], list[Pick]]] | None:
        """resolvelib's ``_get_updated_criteria`` on a copy: per name, the requirements,
        who asked and the matches after adding ``deps``; None if some name has no match."""
        added: dict[str, tuple[list[Need], list[Information], list[Pick]]] = {}
        for need in deps:
            name = need.name
            known, infos, _ = added.get(name) or (self.requirements.get(name, []), [], [])
            known = [*known, need]
            matches = self.find_matches(name, known)
            if not matches:
                if self.trace is not None:
                    self.trace("first pass: %r leaves %s without a match", need, name)
                return None
            added[name] = (known, [*infos, (need, pick)], matches)
        return added


def first_pass(
    provider: ExpertProvider,
    roots: Sequence[Need],
    max_rounds: int,
    *,
    trace: Trace | None = None,
) -> Solution | None:
    """resolvelib's answer for ``roots`` when it needs no backtracking, else None.

    A None leaves ``provider`` as resolvelib expects it (loaded data kept, counts cleared).
    """
    state = _Pass(provider, trace)
    try:
        state.add_roots(roots)
        for _ in range(max_rounds):
            name = state.next_name()
            if name is None:
                return Solution(state.pins, state.information)
            state.pin(name)
    except _Declined as why:
        if trace is not None:
            trace("first pass declined: %s; resolvelib takes over", why)
    provider.forget_counts()
    return None
