"""Read-only questions about the store: list, info, and name lookup."""

from __future__ import annotations

from dataclasses import dataclass

from hxpm.core.names import name_candidates
from hxpm.core.versions import Version, parse_requirement
from hxpm.errors import NotFoundError
from hxpm.services.basematch import describe_match
from hxpm.store.records import InstalledExpert
from hxpm.store.store import Store


def newest_first(experts: list[InstalledExpert]) -> list[InstalledExpert]:
    return sorted(experts, key=lambda e: (Version.parse(e.version), e.base_model), reverse=True)


@dataclass(frozen=True, slots=True)
class ListedExpert:
    expert: InstalledExpert
    is_default: bool  # the newest installed version of its name


def list_installed(store: Store) -> list[ListedExpert]:
    by_name: dict[str, list[InstalledExpert]] = {}
    for e in store.db.installed():
        by_name.setdefault(e.name, []).append(e)
    out: list[ListedExpert] = []
    for name in sorted(by_name):
        ordered = newest_first(by_name[name])
        newest = ordered[0].version
        out.extend(ListedExpert(e, e.version == newest) for e in ordered)
    return out


def resolve_installed_name(store: Store, word: str) -> str:
    """``sql`` finds ``expert-sql`` when no expert is called ``sql``."""
    for candidate in name_candidates(word):
        if store.db.installed(candidate):
            return candidate
    raise NotFoundError(
        f"no installed expert named {word!r}", hint="See what is installed with `hxpm list`."
    )


def find_installed(store: Store, spec: str) -> list[InstalledExpert]:
    """Installed experts matching ``NAME`` or ``NAME@RANGE``, newest first."""
    req = parse_requirement(spec, field="expert")
    name = resolve_installed_name(store, req.name)
    hits = [
        e
        for e in store.db.installed(name)
        if req.allows(Version.parse(e.version), allow_prerelease=True)
    ]
    if not hits:
        have = ", ".join(sorted({e.version for e in store.db.installed(name)}))
        raise NotFoundError(
            f"{name} is installed, but not in a version matching {req.spec} (installed: {have})"
        )
    return newest_first(hits)


@dataclass(frozen=True, slots=True)
class BaseInfo:
    """Which registered base an installed expert runs on, and why (`hxpm info`)."""

    manifest_base: str  # as the package's manifest names it
    base_model: str  # as the store records it: the registered base it matched
    match: str | None  # a basematch.MatchKind; None for rows older than schema 3
    registered: bool  # a base of that name is registered now
    explanation: str


@dataclass(frozen=True, slots=True)
class ExpertInfo:
    expert: InstalledExpert
    other_versions: tuple[str, ...]
    base: BaseInfo | None = None


def expert_info(store: Store, spec: str, *, base: str | None = None) -> ExpertInfo:
    hits = find_installed(store, spec)
    if base is not None:
        hits = [e for e in hits if e.base_model == base] or _no_base(spec, base)
    chosen = hits[0]
    others = sorted(
        {e.version for e in store.db.installed(chosen.name)} - {chosen.version},
        key=Version.parse,
        reverse=True,
    )
    return ExpertInfo(chosen, tuple(others), base_info(store, chosen))


def base_info(store: Store, e: InstalledExpert) -> BaseInfo:
    registered = store.db.find_base(e.base_model) is not None
    text = describe_match(e.manifest_base_name, e.base_model, e.base_match, registered)
    return BaseInfo(e.manifest_base_name, e.base_model, e.base_match, registered, text)


def _no_base(spec: str, base: str) -> list[InstalledExpert]:
    raise NotFoundError(f"{spec} is not installed for base model {base!r}")
