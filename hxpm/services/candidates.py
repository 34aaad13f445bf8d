"""Where resolution candidates come from: the store, the index cache and Git sources.

Each candidate carries a payload saying how to get its bytes: already installed, an index
line (bytes in the source repo at the pinned commit, or at a URL), or a Git repo release.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hxpm.core.versions import Requirement, Version, VersionKey, parse_requirement
from hxpm.errors import HxpmError
from hxpm.index.cache import IndexCache
from hxpm.index.cache_reads import CachedRelease
from hxpm.index.model_checks import parse_requirement_cached, parse_version_cached
from hxpm.resolve.model import Candidate
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store

if TYPE_CHECKING:  # the index model loads only where a whole line is read (not a dry run)
    from hxpm.index.model import VariantEntry, VersionLine
    from hxpm.services.sparse_fetch import SparseFetcher


@dataclass(frozen=True, slots=True)
class InstalledPayload:
    expert: InstalledExpert


class IndexPayload:
    """Where an index candidate's bytes come from: its index and its whole version line.

    A plain class with slots, not a frozen dataclass: the line is read on first use and
    then kept (so it is not a value), and a dry run makes one per version it lists.
    """

    __slots__ = ("_line", "_read", "index", "matched")

    def __init__(
        self,
        index: str | None,
        source: VersionLine | Callable[[], VersionLine],
        matched: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.index = index  # None for a release read straight from a Git repo
        # ``source`` is the line, or (for a candidate read from the index cache's resolution
        # columns) a function reading its verified record: only chosen candidates need the
        # whole line, and a dry run needs none.
        self._line: VersionLine | None = None if callable(source) else source
        self._read: Callable[[], VersionLine] | None = source if callable(source) else None
        # (registered base, the variant's own base name) where they differ: legacy
        # manifests name a local path (docs/store.md, "Base models")
        self.matched = matched

    def __repr__(self) -> str:
        return f"IndexPayload(index={self.index!r}, matched={self.matched!r})"

    @property
    def line(self) -> VersionLine:
        """The whole version line (read from the cache on first use, then kept)."""
        line = self._line
        if line is None:
            assert self._read is not None  # one of the two is always set
            line = self._line = self._read()
            self._read = None
        return line

    @property
    def loaded(self) -> bool:
        """Whether the whole line is at hand (no cache read left)."""
        return self._line is not None

    def keep(self, line: VersionLine) -> None:
        """Keep ``line``, read for this payload in a batch (``plan._read_chosen_lines``)."""
        self._line, self._read = line, None

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
    return _release_candidate(cache, release, parse_version_cached(release.version), bases)


def _release_candidate(
    cache: IndexCache, release: CachedRelease, parsed: Version, bases: Sequence[BaseModel]
) -> Candidate:
    base_models, matched = _offered_bases_memo(release.bases, tuple(bases))
    index, name, version = release.index, release.name, release.version
    requires, incompatible = release.requires, release.incompatible_with
    # Requirements are parsed when the resolver first reads them: it tries a few of the
    # versions it lists. A bad text (a damaged cache) raises then, naming its field.
    return Candidate.with_parsed_later(
        name,
        parsed,
        lambda: (
            _requirements(requires, "requires"),
            _requirements(incompatible, "incompatible_with"),
        ),
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
        hits = [] if base_model in registered else _matching_bases(base_model, base_sha256, bases)
        for b in hits:
            if b.name not in dict(matched):
                matched.append((b.name, base_model))
                base_models.append((b.name, base_sha256))
        if not hits:
            base_models.append((base_model, base_sha256))
    return tuple(base_models), tuple(matched)


def _matching_bases(
    base_model: str, base_sha256: str, bases: Sequence[BaseModel]
) -> list[BaseModel]:
    if not bases:
        return []  # nothing registered to stand in
    # Imported here: a variant naming a registered base (or no base registered at all,
    # as in a dry run's benchmark) never needs the matching rules.
    from hxpm.services.basematch import matching_bases

    return matching_bases(base_model, base_sha256, bases)


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
        self._bases = tuple(store.db.bases())  # one tuple: the bases' memo key
        self._installed_names: set[str] | None = None

    def candidates_for(self, name: str) -> Sequence[Candidate]:
        if name not in self._memo:
            if self._sparse is None and name not in self._pinned:
                self._read_ahead([name])
            if name not in self._memo:  # read alone: a pinned index, or it raises its error
                self._memo[name] = self._collect(name)
        return self._memo[name]

    def prefetch(self, names: Collection[str]) -> None:
        """Load several names at once (a level of a closure): a few statements instead of
        a few per name. Names this cannot load are left to :meth:`candidates_for`."""
        wanted = [n for n in names if n not in self._memo and n not in self._pinned]
        if len(wanted) < 2:
            return
        if self._sparse is not None:  # each name is a download: only what is asked for
            self._sparse.ensure(wanted)
            self._load(wanted)
            return
        self._read_ahead(wanted)

    def _read_ahead(self, wanted: list[str]) -> None:
        """Load ``wanted`` and, a level per batch, what the likeliest version of each name
        loaded requires: that is usually what the resolver asks for next, one pin at a
        time, so a closure takes a few statements instead of one or two per pin. A wrong
        guess only reads rows nobody asks for."""
        while wanted:
            loaded = self._load(wanted)
            wanted = sorted(
                {n for c in loaded for n in _required_names(c)}
                - self._memo.keys()
                - self._pinned.keys()
            )

    def _load(self, names: list[str]) -> list[Candidate]:
        """Load ``names`` in one batch; the likeliest candidate of each name loaded."""
        likeliest = []
        for name, releases in self._cache.releases_for_names(names).items():
            found = self._memo[name] = self._collect(name, releases)
            guess = _likeliest(found)
            if guess is not None:
                likeliest.append(guess)
        return likeliest

    def _installed(self, name: str) -> list[InstalledExpert]:
        if self._installed_names is None:  # one query, not one per name of the closure
            self._installed_names = self._store.db.installed_names()
        return self._store.db.installed(name) if name in self._installed_names else []

    def _collect(self, name: str, releases: list[CachedRelease] | None = None) -> list[Candidate]:
        # Keyed by the version's precedence key, which is what Version equality compares
        # (a tuple hashes in C; a Version's __hash__ is a Python call).
        chosen: dict[tuple[VersionKey, str], Candidate] = {}
        for c in self._extra.get(name, []):
            chosen.setdefault((c.version.key, c.origin), c)
        for e in self._installed(name) if self._include_installed else ():
            c = candidate_from_installed(e)
            chosen.setdefault((c.version.key, "installed"), c)
        if releases is None:
            if self._sparse is not None:
                self._sparse.ensure([name])
            releases = self._cache.releases_for(name, index=self._pinned.get(name))
        if len({r.index for r in releases}) > 1:  # from one index: nothing to order
            releases.sort(key=lambda r: (self._priority.get(r.index, 1 << 30), r.index))
        seen: set[VersionKey] = set()
        for release in releases:
            version = parse_version_cached(release.version)
            if version.key in seen:
                continue  # a lower-priority index offering the same version
            seen.add(version.key)
            c = _release_candidate(self._cache, release, version, self._bases)
            chosen.setdefault((version.key, release.index), c)
        return list(chosen.values())


def _likeliest(candidates: Sequence[Candidate]) -> Candidate | None:
    """The candidate a resolver most likely pins: installed, else the newest release."""
    best: Candidate | None = None
    for c in candidates:
        if c.yanked or c.version.is_prerelease:
            continue
        if best is None or (c.installed, c.version.key) > (best.installed, best.version.key):
            best = c
    return best


def _required_names(candidate: Candidate) -> list[str]:
    """The names ``candidate`` requires or excludes (the resolver loads both)."""
    try:
        return [r.name for r in (*candidate.requires, *candidate.incompatible_with)]
    except HxpmError:
        return []  # a bad text: the resolver reports it if it ever looks at this candidate


def sparse_fetcher_for(store: Store, cache: IndexCache) -> SparseFetcher | None:
    """What loads sparse index files on demand, or None when no sparse index is set up."""
    if not any(i.url.startswith("sparse+") for i in store.db.indexes()):
        return None  # the common case imports nothing more
    from hxpm.services.sparse_fetch import SparseFetcher

    return SparseFetcher(store, cache)
