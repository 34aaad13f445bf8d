"""Conflict reports: from resolvelib's causes to words a user can act on (docs/architecture.md §7).

A :class:`ConflictReport` says who required what, which versions of each contested name were
considered and why each was rejected, and what to try next. ``render_text`` writes it for
people; ``to_dict`` gives the same content as JSON with a versioned, stable shape::

    {"schema": "hxpm.conflict/1", "kind": "conflict" | "too-deep" | "cycle" | "max-chain",
     "summary": str, "base_model": str,
     "conflicts": [{"name", "known", "summary",
                    "demands": [{"requirement", "by", "kind", "text", "via"}],
                    "considered": [{"version", "origin", "installed", "yanked",
                                    "reasons": [{"code", "message"}]}]}],
     "hints": [str], "cycle": [str], "max_chain": null | {"expert", "max_chain", "size",
                                                           "members"}}

Rejection reasons come from the same masks the provider filtered with (static ones, such as
base-model mismatches, are recorded by the provider when it loads a name), so the report
cannot disagree with what the resolver did.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hxpm.resolve.model import USER, Candidate, Reason

if TYPE_CHECKING:
    from resolvelib.structs import RequirementInformation

    from hxpm.resolve.provider import ExpertProvider, NameInfo, Need, Pick

    Information = RequirementInformation[Need, Pick]

SCHEMA = "hxpm.conflict/1"
LOCK = "<lock>"
_SHOWN_VERSIONS = 20  # per name in the text; JSON always has every version


@dataclass(frozen=True, slots=True)
class Demand:
    """One requirement on a contested name: ``by`` is USER, LOCK or ``name@version``."""

    requirement: str
    by: str
    kind: str  # "requires" | "incompatible_with" | "locked"
    text: str
    via: tuple[str, ...] = ()  # how ``by`` got into the set: its requirer, theirs, … (keys)


@dataclass(frozen=True, slots=True)
class Considered:
    """One version the resolver looked at, and every reason it was not used."""

    version: str
    origin: str
    installed: bool
    yanked: bool
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class NameConflict:
    name: str
    known: bool  # False: no source lists the name at all
    summary: str
    demands: tuple[Demand, ...]
    considered: tuple[Considered, ...]


@dataclass(frozen=True, slots=True)
class ChainViolation:
    expert: str  # name@version
    max_chain: int
    size: int
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConflictReport:
    kind: str  # "conflict" | "too-deep" | "cycle" | "max-chain"
    summary: str
    base_model: str
    conflicts: tuple[NameConflict, ...] = ()
    hints: tuple[str, ...] = ()
    cycle: tuple[str, ...] = ()
    chain: ChainViolation | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form described in the module docstring (only str/int/bool/list/dict)."""
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "summary": self.summary,
            "base_model": self.base_model,
            "conflicts": [_conflict_dict(c) for c in self.conflicts],
            "hints": list(self.hints),
            "cycle": list(self.cycle),
            "max_chain": None
            if self.chain is None
            else {
                "expert": self.chain.expert,
                "max_chain": self.chain.max_chain,
                "size": self.chain.size,
                "members": list(self.chain.members),
            },
        }


def _conflict_dict(c: NameConflict) -> dict[str, Any]:
    return {
        "name": c.name,
        "known": c.known,
        "summary": c.summary,
        "demands": [
            {
                "requirement": d.requirement,
                "by": d.by,
                "kind": d.kind,
                "text": d.text,
                "via": list(d.via),
            }
            for d in c.demands
        ],
        "considered": [
            {
                "version": v.version,
                "origin": v.origin,
                "installed": v.installed,
                "yanked": v.yanked,
                "reasons": [{"code": r.code, "message": r.message} for r in v.reasons],
            }
            for v in c.considered
        ],
    }


# --- building ---------------------------------------------------------------------------


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
        hints.extend(_hints(provider, conflict, infos))
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
        _summary(provider, name, infos, considered),
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


def _summary(
    provider: ExpertProvider,
    name: str,
    infos: list[Information],
    considered: tuple[Considered, ...],
) -> str:
    if not considered:
        sources = sorted({s for i in infos if (s := i.requirement.requirement.source)})
        tail = f", and {', '.join(sources)} offered no version of it" if sources else ""
        return f"no index lists {name}{tail}"
    codes = {r.code for c in considered for r in c.reasons}
    if codes == {"base-model"}:
        return f"{name} has no variant for base {provider.base_model}"
    if codes <= {"base-model", "base-digest"}:
        return (
            f"{name} has no variant built for this copy of {provider.base_model} "
            f"(sha256 {provider.base_sha256[:12]}…)"
        )
    if codes - {"base-model", "base-digest"} == {"incompatible"}:
        parents = sorted(
            {
                i.parent.candidate.label
                for i in infos
                if i.requirement.negative
                and i.parent is not None
                and i.parent.candidate is not None
            }
        )
        return f"{name} cannot be installed together with {', '.join(parents)}"
    return f"no version of {name} satisfies every requirement"


def _hints(provider: ExpertProvider, conflict: NameConflict, infos: list[Information]) -> list[str]:
    name = conflict.name
    if not conflict.known:
        return [
            (
                f"check the spelling of {name}, add an index that lists it, or install it "
                "from its Git URL"
            )
        ]
    codes = _actionable_codes(conflict)
    hints: list[str] = []
    if "incompatible" in codes:
        hints.extend(_incompatible_hints(name, conflict))
    if "range" in codes:
        ranges = sorted({d.requirement for d in conflict.demands if d.kind == "requires"})
        usable = [
            c.version
            for c in conflict.considered
            if not {r.code for r in c.reasons} & {"base-model", "base-digest"}
        ][:5]
        hints.append(
            f"loosen the range on {name} ({', '.join(ranges)}); usable versions: "
            f"{', '.join(usable) or 'none'}"
        )
    if "base-model" in codes:
        hints.append(_base_hint(provider, conflict, infos))
    if "base-digest" in codes:
        hints.append(
            f"{name} was built against another copy of {provider.base_model}: "
            "re-fetch the base model, or ask the publisher to rebuild for yours"
        )
    hints.extend(_version_hints(name, conflict, codes))
    if "locked" in codes:
        locked = next(d.requirement for d in conflict.demands if d.kind == "locked")
        hints.append(f"the lock pins {locked}: update the lock to allow another version")
    return hints


def _actionable_codes(conflict: NameConflict) -> set[str]:
    # Prefer the fixes that would free a version on their own (its only reason); when every
    # version has several reasons, offer all of them.
    per_version = [{r.code for r in c.reasons} for c in conflict.considered]
    sole = {next(iter(codes)) for codes in per_version if len(codes) == 1}
    return sole or set().union(*per_version)


def _incompatible_hints(name: str, conflict: NameConflict) -> list[str]:
    by_parent: dict[tuple[str, str], list[str]] = {}
    for d in conflict.demands:
        if d.kind == "incompatible_with":
            parent, version = d.by.split("@", 1)
            by_parent.setdefault((parent, d.requirement), []).append(version)
    return [
        f"{parent} {', '.join(versions)} declare{'s' if len(versions) == 1 else ''} "
        f"incompatible_with {req}: drop {parent} or {name}, or choose versions that do "
        "not clash"
        for (parent, req), versions in by_parent.items()
    ]


def _base_hint(provider: ExpertProvider, conflict: NameConflict, infos: list[Information]) -> str:
    info = provider.info(conflict.name)
    bases = sorted(
        {b for c in info.candidates for b, _ in c.base_models if b != provider.base_model}
    )
    tail = f", or select a base it supports: {', '.join(bases)}" if bases else ""
    return (
        f"install a variant built for {provider.base_model} (ask the publisher of "
        f"{conflict.name} for one){tail}"
    )


def _version_hints(name: str, conflict: NameConflict, codes: set[str]) -> list[str]:
    hints: list[str] = []
    for code, text in (
        ("yanked", "pin with {n}@{v} to use a yanked version"),
        ("prerelease", "allow pre-releases, or name one in the range: {n}@{v}"),
        ("conflict", "pin {n}@{v} to see why that version cannot be used"),
    ):
        hit = next((c for c in conflict.considered if any(r.code == code for r in c.reasons)), None)
        if code in codes and hit is not None:
            hints.append(text.format(n=name, v=hit.version))
    return hints


# --- rendering ----------------------------------------------------------------------------


def render_text(report: ConflictReport) -> str:
    """The report for people: a headline, each contested name, then hints."""
    lines = [
        (f"Cannot resolve the requested experts for base {report.base_model}: {report.summary}.")
    ]
    for conflict in report.conflicts:
        lines += ["", f"{conflict.name}:"]
        lines += [f"  {d.text}" for d in conflict.demands]
        if not conflict.known:
            lines.append(f"  {conflict.summary}")
            continue
        lines.append("  versions considered:")
        for seen in conflict.considered[:_SHOWN_VERSIONS]:
            where = ", ".join(
                x
                for x in (
                    seen.origin,
                    "installed" if seen.installed else "",
                    "yanked" if seen.yanked else "",
                )
                if x
            )
            head = f"{seen.version} ({where})" if where else seen.version
            lines.append(f"    {head}: {'; '.join(r.message for r in seen.reasons)}")
        if len(conflict.considered) > _SHOWN_VERSIONS:
            lines.append(f"    … and {len(conflict.considered) - _SHOWN_VERSIONS} older")
    if report.hints:
        lines += ["", "To fix this you could:"]
        lines += [f"  - {h}" for h in report.hints]
    return "\n".join(lines)
