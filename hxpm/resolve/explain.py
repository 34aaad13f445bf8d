"""Conflict reports: from resolvelib's causes to words a user can act on (docs/architecture.md §7).

``build_conflict_report`` groups resolvelib's (requirement, parent) causes by name and, for
each version considered, records every reason it was not used; ``cycle_report`` and
``max_chain_report`` cover the two failures hxpm finds itself. The report's values, JSON
shape and text rendering live in ``hxpm.resolve.conflict_report``; the hints in
``hxpm.resolve.conflict_hints``.

Rejection reasons come from the same masks the provider filtered with (static ones, such as
base-model mismatches, are recorded by the provider when it loads a name), so the report
cannot disagree with what the resolver did.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from hxpm.resolve.conflict_hints import name_hints, name_summary
from hxpm.resolve.conflict_report import (
    LOCK,
    ChainViolation,
    ConflictReport,
    Considered,
    Demand,
    NameConflict,
)
from hxpm.resolve.model import USER, Candidate, Reason

if TYPE_CHECKING:
    from resolvelib.structs import RequirementInformation

    from hxpm.resolve.provider import ExpertProvider, NameInfo, Need, Pick

    Information = RequirementInformation[Need, Pick]


def build_conflict_report(
    causes: Collection[Information],
    provider: ExpertProvider,
    *,
    pulled_in_by: Mapping[str, Pick | None] | None = None,
    too_deep_after: int | None = None,
) -> ConflictReport:
    """Explain resolvelib's ``causes`` (requirement, parent) pairs, grouped by name.

    ``pulled_in_by`` maps a name to the expert whose requirement last brought it in (None for
    the user), to show how a requiring expert got into the set. ``too_deep_after`` set means
    resolvelib gave up after that many rounds; ``causes`` are then the latest conflict it met,
    possibly none.
    """
    requirers = pulled_in_by or {}
    grouped: dict[str, list[Information]] = {}
    seen: set[tuple[int, int]] = set()
    for cause in causes:
        if (id(cause.requirement), id(cause.parent)) not in seen:
            seen.add((id(cause.requirement), id(cause.parent)))
            grouped.setdefault(cause.requirement.name, []).append(cause)
    conflicts = tuple(
        _name_conflict(provider, name, infos, requirers) for name, infos in grouped.items()
    )
    hints: list[str] = []
    for conflict, infos in zip(conflicts, grouped.values(), strict=True):
        hints.extend(name_hints(provider, conflict, infos))
    if too_deep_after is not None:
        summary = (
            f"gave up after {too_deep_after} rounds: these requirements need too much backtracking"
        )
        hints.append("pin some experts to exact versions (NAME@VERSION) to narrow the search")
        kind = "too-deep"
    else:
        kind = "conflict"
        if len(conflicts) == 1:
            summary = conflicts[0].summary
        elif conflicts:
            names = ", ".join(c.name for c in conflicts)
            summary = f"the requirements on {names} cannot all be met"
        else:  # resolvelib always names causes; keep a readable line if it ever does not
            summary = "no set of versions satisfies every requirement"
    return ConflictReport(
        kind, summary, provider.base_model, conflicts, tuple(dict.fromkeys(hints))
    )


def cycle_report(cycle: Sequence[Candidate], base_model: str) -> ConflictReport:
    """Report for experts that require each other: ``cycle`` in requirement order."""
    text = " → ".join([c.label for c in cycle] + [cycle[0].name])
    return ConflictReport(
        "cycle",
        f"experts require each other in a cycle: {text}",
        base_model,
        hints=(
            (
                f"remove one requirement of this cycle from its manifest ({text}); a cycle has "
                "no load order"
            ),
        ),
        cycle=tuple(c.key for c in cycle),
    )


def max_chain_report(
    expert: Candidate, members: Sequence[Candidate], base_model: str
) -> ConflictReport:
    """Report for an expert whose resolved closure is larger than its ``max_chain``."""
    names = ", ".join(c.label for c in members)
    return ConflictReport(
        "max-chain",
        f"{expert.label} accepts at most {expert.max_chain} experts in its chain (max_chain), "
        f"but it and what it requires come to {len(members)}: {names}",
        base_model,
        hints=(
            (
                f"choose another version of {expert.name} or of what it requires, or ask its "
                "publisher to raise max_chain"
            ),
        ),
        chain=ChainViolation(
            expert.key, expert.max_chain, len(members), tuple(c.key for c in members)
        ),
    )


def _name_conflict(
    provider: ExpertProvider,
    name: str,
    infos: list[Information],
    requirers: Mapping[str, Pick | None],
) -> NameConflict:
    info = provider.info(name)
    demands = [_demand(i, requirers) for i in infos]
    if info.locked is not None:
        demands.append(
            Demand(
                f"{name}@{info.locked}", LOCK, "locked", f"the lock pins {name} to {info.locked}"
            )
        )
    ordered = sorted(info.candidates, key=lambda c: (c.origin, not c.installed))
    ordered.sort(key=lambda c: c.version, reverse=True)
    considered = tuple(_considered(provider, info, c, infos) for c in ordered)
    return NameConflict(
        name,
        bool(info.candidates),
        name_summary(provider, name, infos, considered),
        tuple(demands),
        considered,
    )


def _demand(info: Information, requirers: Mapping[str, Pick | None]) -> Demand:
    need, parent = info.requirement, info.parent
    req = str(need.requirement)
    if parent is None or parent.candidate is None:
        return Demand(req, USER, "requires", f"you requested {req}")
    by = parent.candidate
    via = _via(by.name, requirers)
    tail = f" (pulled in by {' ← '.join(c.label for c in via)})" if via else ""
    keys = tuple(c.key for c in via)
    if need.negative:
        return Demand(
            req, by.key, "incompatible_with", f"{by.label} is incompatible with {req}{tail}", keys
        )
    return Demand(req, by.key, "requires", f"{by.label} requires {req}{tail}", keys)


def _via(name: str, requirers: Mapping[str, Pick | None]) -> list[Candidate]:
    chain: list[Candidate] = []
    seen = {name}
    parent = requirers.get(name)
    while parent is not None and parent.candidate is not None and parent.name not in seen:
        chain.append(parent.candidate)
        seen.add(parent.name)
        parent = requirers.get(parent.name)
    return chain


def _considered(
    provider: ExpertProvider, info: NameInfo, candidate: Candidate, infos: list[Information]
) -> Considered:
    static = info.rejected.get(id(candidate))
    pick = info.pick_for(candidate)
    if static is not None or pick is None:
        reasons: tuple[Reason, ...] = (static or Reason("base-model", "not eligible"),)
    else:
        reasons = _dynamic_reasons(provider, info, pick, infos)
    return Considered(
        str(candidate.version), candidate.origin, candidate.installed, candidate.yanked, reasons
    )


def _dynamic_reasons(
    provider: ExpertProvider, info: NameInfo, pick: Pick, infos: list[Information]
) -> tuple[Reason, ...]:
    # Mirrors ExpertProvider.find_matches, but keeps every reason instead of a verdict.
    reasons: list[Reason] = []
    if info.locked is not None and not info.locked_bits & pick.bit:
        reasons.append(Reason("locked", f"the lock pins {info.name} to {info.locked}"))
    pre_ok = info.locked_bits | (info.pre_bits if provider.allow_prerelease else 0)
    yank_ok = info.locked_bits
    for cause in infos:
        need, parent = cause.requirement, cause.parent
        if need.negative:
            if not need.mask & pick.bit and parent is not None and parent.candidate is not None:
                reasons.append(
                    Reason(
                        "incompatible",
                        f"matches {need.requirement} in "
                        f"{parent.candidate.label}'s incompatible_with",
                    )
                )
            continue
        pre_ok |= need.pre_named
        yank_ok |= need.exact
        if not need.mask & pick.bit:
            by = (
                "requested by you"
                if parent is None or parent.candidate is None
                else (f"required by {parent.candidate.label}")
            )
            reasons.append(Reason("range", f"outside {need.requirement} ({by})"))
    if pick.bit & info.pre_bits & ~pre_ok:
        reasons.append(
            Reason(
                "prerelease",
                "a pre-release: used only when pre-releases are allowed or a range names it",
            )
        )
    if pick.bit & info.yanked_bits & ~yank_ok:
        reasons.append(Reason("yanked", "yanked by its publisher: used only when pinned exactly"))
    if not reasons:
        reasons.append(
            Reason(
                "conflict",
                "fits these requirements, but its own requirements clash with the rest of the set",
            )
        )
    return tuple(reasons)
