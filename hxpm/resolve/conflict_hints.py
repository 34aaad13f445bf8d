"""What a conflict report says about one contested name: its summary line and its hints.

Both read the reasons ``hxpm.resolve.explain`` recorded for every version considered, so a
hint never suggests a fix the resolver's own verdicts contradict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hxpm.resolve.conflict_report import Considered, NameConflict

if TYPE_CHECKING:
    from resolvelib.structs import RequirementInformation

    from hxpm.resolve.provider import ExpertProvider, Need, Pick

    Information = RequirementInformation[Need, Pick]


def name_summary(
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


def name_hints(
    provider: ExpertProvider, conflict: NameConflict, infos: list[Information]
) -> list[str]:
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
