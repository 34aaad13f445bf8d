"""Conflict reports as values, as JSON and as text (docs/architecture.md §7).

A :class:`ConflictReport` says who required what, which versions of each contested name were
considered and why each was rejected, and what to try next (``hxpm.resolve.explain`` builds
it from resolvelib's causes). ``render_text`` writes it for people; ``to_dict`` gives the same
content as JSON with a versioned, stable shape::

    {"schema": "hxpm.conflict/1", "kind": "conflict" | "too-deep" | "cycle" | "max-chain",
     "summary": str, "base_model": str,
     "conflicts": [{"name", "known", "summary",
                    "demands": [{"requirement", "by", "kind", "text", "via"}],
                    "considered": [{"version", "origin", "installed", "yanked",
                                    "reasons": [{"code", "message"}]}]}],
     "hints": [str], "cycle": [str], "max_chain": null | {"expert", "max_chain", "size",
                                                           "members"}}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hxpm.resolve.model import Reason

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
        lines += [_considered_line(seen) for seen in conflict.considered[:_SHOWN_VERSIONS]]
        if len(conflict.considered) > _SHOWN_VERSIONS:
            lines.append(f"    … and {len(conflict.considered) - _SHOWN_VERSIONS} older")
    if report.hints:
        lines += ["", "To fix this you could:"]
        lines += [f"  - {h}" for h in report.hints]
    return "\n".join(lines)


def _considered_line(seen: Considered) -> str:
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
    return f"    {head}: {'; '.join(r.message for r in seen.reasons)}"
