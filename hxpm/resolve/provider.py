"""The resolvelib provider for experts: policy only, over an injected CandidateSource (§7).

How ``incompatible_with`` becomes a real constraint: each candidate's dependencies include one
*negative* requirement per ``incompatible_with`` entry, and every name's candidate list ends
with an *absent* pseudo-candidate. A negative requirement is satisfied by the absent candidate
and by versions outside its range; a positive requirement only by versions inside its range.
So resolvelib itself backtracks out of an incompatible pair, and a name that only negative
requirements mention resolves to "absent" and is dropped from the result.

Speed (docs/architecture.md §12): each name's eligible candidates are numbered once, in
preference order, and every requirement carries bit masks over those numbers, computed once
per (name, range).
``find_matches`` is then an AND of masks and ``is_satisfied_by`` a single bit test; the
per-round selection runs in ``narrow_requirement_selection`` as one pass over the open names.

Invariants: ``source.candidates_for`` is called at most once per name; a ``Pick``'s bit is
only meaningful against masks of the same name; the absent pick is always the last bit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING

from hxpm.core.versions import Requirement, Version, VersionKey, VersionSpec
from hxpm.resolve.model import Candidate, CandidateSource, Reason

if TYPE_CHECKING:
    from resolvelib import AbstractProvider
    from resolvelib.structs import RequirementInformation

    Information = RequirementInformation["Need", "Pick"]
    _ProviderBase = AbstractProvider["Need", "Pick", str]
else:
    # resolvelib duck-types its provider (it never checks the base class), so at run time
    # the base is plain object: a resolution the first pass finishes (first_pass.py) never
    # imports resolvelib.
    _ProviderBase = object


class Pick:
    """A resolvelib candidate: one eligible :class:`Candidate`, or the absent pseudo-one.

    Identity-hashed on purpose: resolvelib compares and stores candidates often, and hashing
    the frozen Candidate (requirements, specs, versions) each time would dominate the run.
    """

    __slots__ = ("bit", "candidate", "deps", "name")

    def __init__(self, name: str, candidate: Candidate | None, index: int) -> None:
        self.name = name
        self.candidate = candidate  # None: the name stays out of the set
        self.bit = 1 << index
        self.deps: tuple[Need, ...] | None = None

    def __repr__(self) -> str:
        return f"<Pick {self.candidate.label if self.candidate else self.name + ' (absent)'}>"


class Need:
    """A resolvelib requirement: ``requirement`` wanted (or, if ``negative``, forbidden).

    ``mask`` holds the bits of the picks that satisfy it; ``pre_named`` the pre-releases its
    range names (npm's rule, via ``VersionSpec.allows``); ``exact`` the picks an exact ``==``
    pin selects, which may be yanked.
    """

    __slots__ = ("exact", "mask", "name", "negative", "pre_named", "requirement")

    def __init__(
        self, requirement: Requirement, negative: bool, mask: int, pre_named: int, exact: int
    ) -> None:
        self.name = requirement.name
        self.requirement = requirement
        self.negative = negative
        self.mask = mask
        self.pre_named = pre_named
        self.exact = exact

    def __repr__(self) -> str:
        return f"<Need {'not ' if self.negative else ''}{self.requirement}>"


class NameInfo:
    """Everything the provider knows about one name, loaded once from the source."""

    __slots__ = (
        "absent",
        "allowed",
        "candidates",
        "full",
        "locked",
        "locked_bits",
        "name",
        "needs",
        "picks",
        "pre_bits",
        "rejected",
        "yanked_bits",
    )

    def __init__(
        self,
        name: str,
        candidates: Sequence[Candidate],
        locked: Version | None,
        picks: list[Pick],
        rejected: dict[int, Reason],
    ) -> None:
        self.name = name
        self.candidates = tuple(candidates)  # everything the source listed, eligible or not
        self.rejected = rejected  # id(candidate) -> why it was never offered (base, digest)
        self.picks = [*picks, Pick(name, None, len(picks))]
        self.absent = self.picks[-1].bit
        self.full = (self.absent << 1) - 1
        self.pre_bits = _bits(picks, lambda c: c.version.is_prerelease)
        self.yanked_bits = _bits(picks, attrgetter("yanked"))
        self.locked = locked
        self.locked_bits = 0 if locked is None else _bits(picks, lambda c: c.version == locked)
        self.allowed = self.full if locked is None else self.locked_bits | self.absent
        self.needs: dict[tuple[Requirement, bool], Need] = {}

    def pick_for(self, candidate: Candidate) -> Pick | None:
        """The pick wrapping ``candidate`` (by identity), or None if it was not eligible."""
        for pick in self.picks:
            if pick.candidate is candidate:
                return pick
        return None


def _version_key(candidate: Candidate) -> VersionKey:
    return candidate.version.key  # SemVer precedence as a plain tuple: C-speed sorting


def _bits(picks: Sequence[Pick], test: Callable[[Candidate], object]) -> int:
    mask = 0
    for pick in picks:
        if pick.candidate is not None and test(pick.candidate):
            mask |= pick.bit
    return mask


class ExpertProvider(_ProviderBase):
    """Resolvelib callbacks holding hxpm's policy; all data comes from ``source``."""

    def __init__(
        self,
        source: CandidateSource,
        *,
        base_model: str,
        base_sha256: str | None,
        allow_prerelease: bool,
        prefer_installed: bool,
        locked: Mapping[str, Version] | None,
    ) -> None:
        self.source = source
        self.base_model = base_model
        self.base_sha256 = (base_sha256 or "").lower()
        self.allow_prerelease = allow_prerelease
        self.prefer_installed = prefer_installed
        self.locked: Mapping[str, Version] = dict(locked or {})
        self._infos: dict[str, NameInfo] = {}
        # A source that can load many names at once gets each level of the closure together.
        self._prefetch: Callable[[Collection[str]], None] | None = getattr(source, "prefetch", None)
        # Size of the latest find_matches answer per name: a cheap "fewest candidates" signal.
        self._counts: dict[str, int] = {}

    # --- data ----------------------------------------------------------------------------

    def info(self, name: str) -> NameInfo:
        """Load ``name`` from the source once: eligible picks in preference order."""
        info = self._infos.get(name)
        if info is None:
            found = self.source.candidates_for(name)
            rejected: dict[int, Reason] = {}
            eligible: list[Candidate] = []
            for candidate in found:
                reason = self.static_reason(candidate)
                if reason is None:
                    eligible.append(candidate)
                else:
                    rejected[id(candidate)] = reason
            picks = [Pick(name, c, i) for i, c in enumerate(self._ordered(eligible))]
            info = NameInfo(name, found, self.locked.get(name), picks, rejected)
            self._infos[name] = info
        return info

    def forget_counts(self) -> None:
        """Drop the latest find_matches sizes, as before any resolution (first_pass.py)."""
        self._counts.clear()

    def prefetch(self, requirements: Iterable[Requirement]) -> None:
        """Let the source load the names of ``requirements`` not loaded yet, together."""
        if self._prefetch is not None:
            names = {r.name for r in requirements if r.name not in self._infos}
            if len(names) > 1:
                self._prefetch(names)

    def static_reason(self, candidate: Candidate) -> Reason | None:
        """Why ``candidate`` can never be chosen for this base, or None if it can."""
        digests = [d.lower() for b, d in candidate.base_models if b == self.base_model]
        if not digests:
            built = sorted({b for b, _ in candidate.base_models})
            return Reason(
                "base-model",
                f"no variant for base {self.base_model} "
                f"(built for: {', '.join(built) or 'no base at all'})",
            )
        if self.base_sha256 and all(d and d != self.base_sha256 for d in digests):
            return Reason(
                "base-digest",
                f"its {self.base_model} variant was built for base "
                f"sha256 {digests[0][:12]}…, this base is {self.base_sha256[:12]}…",
            )
        return None

    def _ordered(self, eligible: list[Candidate]) -> list[Candidate]:
        # Newest first; on equal versions an installed copy, then origin, for determinism.
        ordered = sorted(eligible, key=lambda c: (not c.installed, c.origin))
        ordered.sort(key=_version_key, reverse=True)  # stable: keeps the tie order
        if self.prefer_installed:
            # An installed version that satisfies everything wins: no churn
            # (docs/architecture.md §7).
            ordered.sort(key=lambda c: not c.installed)
        return ordered

    def need(self, requirement: Requirement, *, negative: bool = False) -> Need:
        """The resolvelib requirement for ``requirement``; Git sources match by name."""
        info = self.info(requirement.name)
        need = info.needs.get((requirement, negative))
        if need is None:
            loose, pre_named, exact = _masks(info, requirement.spec)
            if negative:  # forbidden: everything its range matches, pre-releases included
                need = Need(requirement, True, info.full & ~loose, 0, 0)
            else:
                need = Need(requirement, False, loose, pre_named, exact)
            info.needs[(requirement, negative)] = need
        return need

    # --- resolvelib callbacks ------------------------------------------------------------

    def identify(self, requirement_or_candidate: Need | Pick) -> str:
        return requirement_or_candidate.name

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Need]],
        incompatibilities: Mapping[str, Iterator[Pick]],
    ) -> list[Pick]:
        info = self.info(identifier)
        mask, positive, pre_ok, yank_ok = info.allowed, False, info.locked_bits, info.locked_bits
        if self.allow_prerelease:
            pre_ok |= info.pre_bits
        for need in requirements[identifier]:
            mask &= need.mask
            if not need.negative:
                positive = True
                pre_ok |= need.pre_named
                yank_ok |= need.exact
        if positive:
            mask &= ~((info.pre_bits & ~pre_ok) | (info.yanked_bits & ~yank_ok))
        else:
            mask &= info.absent  # nothing asks for it: never install it merely because it may be
        for pick in incompatibilities[identifier]:
            mask &= ~pick.bit
        found = [pick for pick in info.picks if mask & pick.bit]
        self._counts[identifier] = len(found)
        return found

    def is_satisfied_by(self, requirement: Need, candidate: Pick) -> bool:
        return bool(requirement.mask & candidate.bit)

    def get_dependencies(self, candidate: Pick) -> tuple[Need, ...]:
        deps = candidate.deps
        if deps is None:
            expert = candidate.candidate
            if expert is None:
                deps = ()
            else:
                self.prefetch((*expert.requires, *expert.incompatible_with))
                deps = tuple(self.need(r) for r in expert.requires) + tuple(
                    self.need(r, negative=True) for r in expert.incompatible_with
                )
            candidate.deps = deps
        return deps

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Pick],
        candidates: Mapping[str, Iterator[Pick]],
        information: Mapping[str, Iterator[Information]],
        backtrack_causes: Sequence[Information],
    ) -> tuple[bool, bool, int, str]:
        return self._preference(identifier, _cause_names(backtrack_causes))

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Pick],
        candidates: Mapping[str, Iterator[Pick]],
        information: Mapping[str, Iterator[Information]],
        backtrack_causes: Sequence[Information],
    ) -> Iterable[str]:
        # One pass picks the winner, so resolvelib skips its per-name get_preference calls
        # (each builds two mappings); that keeps a round linear in the open names.
        causes = _cause_names(backtrack_causes)
        return (min(identifiers, key=lambda name: self._preference(name, causes)),)

    def preference(self, name: str) -> tuple[bool, bool, int, str]:
        """How resolvelib ranks an open name while nothing has backtracked (lowest first)."""
        return self._preference(name, frozenset())

    def _preference(self, name: str, causes: frozenset[str]) -> tuple[bool, bool, int, str]:
        # Lower sorts first: names in the latest conflict, locked names, fewest candidates.
        return (name not in causes, name not in self.locked, self._counts.get(name, 0), name)


def _cause_names(causes: Sequence[Information]) -> frozenset[str]:
    if not causes:
        return frozenset()
    names = {info.requirement.name for info in causes}
    names.update(info.parent.name for info in causes if info.parent is not None)
    return frozenset(names)


def _masks(info: NameInfo, spec: VersionSpec) -> tuple[int, int, int]:
    """(range matches, pre-releases the range names, exact-pin matches) over ``info``'s picks."""
    loose = pre_named = exact = 0
    is_pin = len(spec.comparators) == 1 and spec.comparators[0].op == "=="
    for pick in info.picks:
        candidate = pick.candidate
        if candidate is None:
            continue
        version = candidate.version
        if all(c.matches(version) for c in spec.comparators):
            loose |= pick.bit
            if version.is_prerelease and spec.allows(version):
                pre_named |= pick.bit
            if is_pin:
                exact |= pick.bit
    return loose, pre_named, exact
