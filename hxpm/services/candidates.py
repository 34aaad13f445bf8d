"""Where resolution candidates come from: the store, the index cache and Git sources.

Each candidate carries a payload saying how to get its bytes: already installed, an index
line (bytes in the source repo at the pinned commit, or at a URL), or a Git repo release.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hxpm.core.versions import Requirement, Version, parse_requirement
from hxpm.errors import HxpmError
from hxpm.index.cache import IndexCache
from hxpm.index.cache_reads import CachedRelease
from hxpm.index.model import VariantEntry, VersionLine
from hxpm.index.model_checks import parse_requirement_cached, parse_version_cached
from hxpm.resolve.model import Candidate
from hxpm.services.basematch import matching_bases
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store

if TYPE_CHECKING:
    from hxpm.services.sparse_fetch import SparseFetcher


@dataclass(frozen=True, slots=True)
class InstalledPayload:
    expert: InstalledExpert


@dataclass(frozen=True, slots=True)
class IndexPayload:
    index: str | None  # None for a release read straight from a Git repo
    # The line, or (for a candidate read from the index cache's resolution columns) a
    # function reading its verified record: only chosen candidates need the whole line.
    source: VersionLine | Callable[[], VersionLine] = field(repr=False)
    # (registered base, the variant's own base name) where they differ: legacy manifests
    # name a local path (docs/store.md, "Base models")
    matched: tuple[tuple[str, str], ...] = ()

    @property
    def line(self) -> VersionLine:
        """The whole version line (read from the cache on first use, then kept)."""
        source = self.source
        if not isinstance(source, VersionLine):
            source = source()
            object.__setattr__(self, "source", source)
        return source

    @property
    def loaded(self) -> bool:
        """Whether the whole line is at hand (no cache read left)."""
        return isinstance(self.source, VersionLine)

    def keep(self, line: VersionLine) -> None:
        """Keep ``line``, read for this payload in a batch (``plan._read_chosen_lines``)."""
        object.__setattr__(self, "source", line)

    def variant(self, base_model: str) -> VariantEntry:
        own = dict(self.matched).get(base_model)
        v = (
            next((x for x in self.line.variants if x.base_model == own), None)
            if own
            else self.line.variant_for(base_model)
        )
        assert v is not None  # the resolver only picks candidates with this variant
        return v


def candidate_from_installed(e: InstalledExpert) -> Candidate:
    # Imported here: a dry run with nothing installed never needs the manifest model.
    from hxpm.core.manifest import Manifest

    m = Manifest.from_dict(e.manifest, source=f"store: {e.name} {e.version}")
    return Candidate(
        name=e.name,
        version=Version.parse(e.version),
        requires=m.requires,
        incompatible_with=m.incompatible_with,
        load_order=m.load_order,
        max_chain=m.max_chain,
        base_models=((e.base_model, e.base_sha256),),
        installed=True,
        origin="installed",
        payload=InstalledPayload(e),
    )


def candidate_from_line(
    index: str | None,
    line: VersionLine,
    *,
    origin: str | None = None,
    bases: Sequence[BaseModel] = (),
) -> Candidate:
    """``index`` None means the release was read straight from its Git repo.

    A variant whose base name is not registered but matches registered bases (``bases``;
    several when ambiguous) is offered under their names, so the resolver finds it for the
    base in use.
    """
    base_models, matched = _offered_bases(
        [(v.base_model, v.base_sha256) for v in line.variants], bases
    )
    return Candidate(
        name=line.name,
        version=line.version,
        requires=line.requires,
        incompatible_with=line.incompatible_with,
        load_order=line.load_order,
        max_chain=line.max_chain,
        base_models=base_models,
        yanked=line.yanked,
        origin=origin or index or line.source.git,
        payload=IndexPayload(index, line, matched),
    )


def candidate_from_release(
    cache: IndexCache, release: CachedRelease, bases: Sequence[BaseModel] = ()
) -> Candidate:
    """A candidate from the cache's resolution columns, as :func:`candidate_from_line`
    would make it from the whole line; the line is read from ``cache`` only if asked for
    (so only while ``cache`` is open)."""
    base_models, matched = _offered_bases_memo(release.bases, tuple(bases))
    index, name, version = release.index, release.name, release.version
    return Candidate(
        name=name,
        version=parse_version_cached(version),
        requires=_requirements(release.requires, "requires"),
        incompatible_with=_requirements(release.incompatible_with, "incompatible_with"),
        load_order=release.load_order,
        max_chain=release.max_chain,
        base_models=base_models,
        yanked=release.yanked,
        origin=index,
        payload=IndexPayload(index, lambda: cache.line(index, name, version), matched),
    )


def _requirements(items: Sequence[str], field: str) -> tuple[Requirement, ...]:
    if not items:
        return ()  # most lines: no incompatible_with, often no requires
    return tuple(
        _requirement_of(item) or parse_requirement_cached(item, f"{field}[{i}]")
        for i, item in enumerate(items)
    )


@functools.lru_cache(maxsize=16384)
def _requirement_of(text: str) -> Requirement | None:
    """The requirement ``text`` spells, or None if it is bad (the caller then raises,
    naming the field). Keyed by the text alone: a closure repeats the same requirement
    strings at different positions, which ``parse_requirement_cached`` keys apart."""
    try:
        return parse_requirement(text)
    except HxpmError:
        return None


@functools.lru_cache(maxsize=4096)
def _offered_bases_memo(
    variants: tuple[tuple[str, str], ...], bases: tuple[BaseModel, ...]
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """:func:`_offered_bases`, memoised: the versions of a closure mostly offer the same
    bases (the cache hands out one tuple per stored text), and the registered bases are
    the same for every candidate of a resolution."""
    return _offered_bases(variants, bases)


def _offered_bases(
    variants: Sequence[tuple[str, str]], bases: Sequence[BaseModel]
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """(base, digest) pairs a line is offered for, and the (registered base, variant base)
    pairs where a registered base stands in for the variant's own name."""
    registered = {b.name for b in bases}
    matched: list[tuple[str, str]] = []
    base_models = []
    for base_model, base_sha256 in variants:
        hits = [] if base_model in registered else matching_bases(base_model, base_sha256, bases)
        for b in hits:
            if b.name not in dict(matched):
                matched.append((b.name, base_model))
                base_models.append((b.name, base_sha256))
        if not hits:
            base_models.append((base_model, base_sha256))
    return tuple(base_models), tuple(matched)


class StoreSource:
    """A CandidateSource over installed experts and the cached indexes.

    ``pinned_index`` maps names the user qualified (``myindex/expert-sql``) to that index.
    The same version offered by several places is kept once: installed first (no download),
    then the index with the best priority.
    """

    def __init__(
        self,
        store: Store,
        cache: IndexCache,
        *,
        pinned_index: dict[str, str] | None = None,
        extra: Sequence[Candidate] = (),
        include_installed: bool = True,
        sparse: SparseFetcher | None = None,
    ) -> None:
        self._store = store
        self._cache = cache
        # Sparse HTTP indexes load a name's file when it is first asked for.
        self._sparse = sparse or sparse_fetcher_for(store, cache)
        self._pinned = dict(pinned_index or {})
        self._extra: dict[str, list[Candidate]] = {}
        for c in extra:
            self._extra.setdefault(c.name, []).append(c)
        self._priority = {i.name: i.priority for i in store.db.indexes()}
        self._memo: dict[str, list[Candidate]] = {}
        self._include_installed = include_installed
        self._bases = store.db.bases()
        self._installed_names: set[str] | None = None

    def candidates_for(self, name: str) -> Sequence[Candidate]:
        if name not in self._memo:
            self._memo[name] = self._collect(name)
        return self._memo[name]

    def prefetch(self, names: Collection[str]) -> None:
        """Load several names at once (a level of a closure): a few statements instead of
        a few per name. Names this cannot load are left to :meth:`candidates_for`."""
        wanted = [n for n in names if n not in self._memo and n not in self._pinned]
        if len(wanted) < 2:
            return
        if self._sparse is not None:
            self._sparse.ensure(wanted)
        for name, releases in self._cache.releases_for_names(wanted).items():
            self._memo[name] = self._collect(name, releases)

    def _installed(self, name: str) -> list[InstalledExpert]:
        if self._installed_names is None:  # one query, not one per name of the closure
            self._installed_names = self._store.db.installed_names()
        return self._store.db.installed(name) if name in self._installed_names else []

    def _collect(self, name: str, releases: list[CachedRelease] | None = None) -> list[Candidate]:
        chosen: dict[tuple[Version, str], Candidate] = {}
        for c in self._extra.get(name, []):
            chosen.setdefault((c.version, c.origin), c)
        for e in self._installed(name) if self._include_installed else ():
            c = candidate_from_installed(e)
            chosen.setdefault((c.version, "installed"), c)
        if releases is None:
            if self._sparse is not None:
                self._sparse.ensure([name])
            releases = self._cache.releases_for(name, index=self._pinned.get(name))
        releases.sort(key=lambda r: (self._priority.get(r.index, 1 << 30), r.index))
        seen: set[Version] = set()
        for release in releases:
            c = candidate_from_release(self._cache, release, self._bases)
            if c.version in seen:
                continue  # a lower-priority index offering the same version
            seen.add(c.version)
            chosen.setdefault((c.version, c.origin), c)
        return list(chosen.values())


def sparse_fetcher_for(store: Store, cache: IndexCache) -> SparseFetcher | None:
    """What loads sparse index files on demand, or None when no sparse index is set up."""
    if not any(i.url.startswith("sparse+") for i in store.db.indexes()):
        return None  # the common case imports nothing more
    from hxpm.services.sparse_fetch import SparseFetcher

    return SparseFetcher(store, cache)
