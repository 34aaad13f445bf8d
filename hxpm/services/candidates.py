"""Where resolution candidates come from: the store, the index cache and Git sources.

Each candidate carries a payload saying how to get its bytes: already installed, an index
line (bytes in the source repo at the pinned commit, or at a URL), or a Git repo release.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hxpm.core.manifest import Manifest
from hxpm.core.versions import Version
from hxpm.index.cache import IndexCache
from hxpm.index.model import VariantEntry, VersionLine
from hxpm.resolve.model import Candidate
from hxpm.services.basematch import matching_bases
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store


@dataclass(frozen=True, slots=True)
class InstalledPayload:
    expert: InstalledExpert


@dataclass(frozen=True, slots=True)
class IndexPayload:
    index: str | None  # None for a release read straight from a Git repo
    line: VersionLine
    # (registered base, the variant's own base name) where they differ: legacy manifests
    # name a local path (docs/store.md, "Base models")
    matched: tuple[tuple[str, str], ...] = ()

    def variant(self, base_model: str) -> VariantEntry:
        own = dict(self.matched).get(base_model)
        v = next((x for x in self.line.variants if x.base_model == own), None) if own \
            else self.line.variant_for(base_model)
        assert v is not None  # the resolver only picks candidates with this variant
        return v


def candidate_from_installed(e: InstalledExpert) -> Candidate:
    m = Manifest.from_dict(e.manifest, source=f"store: {e.name} {e.version}")
    return Candidate(
        name=e.name, version=Version.parse(e.version), requires=m.requires,
        incompatible_with=m.incompatible_with, load_order=m.load_order, max_chain=m.max_chain,
        base_models=((e.base_model, e.base_sha256),), installed=True, origin="installed",
        payload=InstalledPayload(e),
    )


def candidate_from_line(index: str | None, line: VersionLine, *, origin: str | None = None,
                        bases: Sequence[BaseModel] = ()) -> Candidate:
    """``index`` None means the release was read straight from its Git repo.

    A variant whose base name is not registered but matches registered bases (``bases``;
    several when ambiguous) is offered under their names, so the resolver finds it for the
    base in use.
    """
    registered = {b.name for b in bases}
    matched: list[tuple[str, str]] = []
    base_models = []
    for v in line.variants:
        hits = [] if v.base_model in registered else \
            matching_bases(v.base_model, v.base_sha256, bases)
        for b in hits:
            if b.name not in dict(matched):
                matched.append((b.name, v.base_model))
                base_models.append((b.name, v.base_sha256))
        if not hits:
            base_models.append((v.base_model, v.base_sha256))
    return Candidate(
        name=line.name, version=line.version, requires=line.requires,
        incompatible_with=line.incompatible_with, load_order=line.load_order,
        max_chain=line.max_chain, base_models=tuple(base_models),
        yanked=line.yanked, origin=origin or index or line.source.git,
        payload=IndexPayload(index, line, tuple(matched)),
    )


class StoreSource:
    """A CandidateSource over installed experts and the cached indexes.

    ``pinned_index`` maps names the user qualified (``myindex/expert-sql``) to that index.
    The same version offered by several places is kept once: installed first (no download),
    then the index with the best priority.
    """

    def __init__(self, store: Store, cache: IndexCache, *,
                 pinned_index: dict[str, str] | None = None,
                 extra: Sequence[Candidate] = (), include_installed: bool = True) -> None:
        self._store = store
        self._cache = cache
        self._pinned = dict(pinned_index or {})
        self._extra: dict[str, list[Candidate]] = {}
        for c in extra:
            self._extra.setdefault(c.name, []).append(c)
        self._priority = {i.name: i.priority for i in store.db.indexes()}
        self._memo: dict[str, list[Candidate]] = {}
        self._include_installed = include_installed
        self._bases = store.db.bases()

    def candidates_for(self, name: str) -> Sequence[Candidate]:
        if name not in self._memo:
            self._memo[name] = self._collect(name)
        return self._memo[name]

    def _collect(self, name: str) -> list[Candidate]:
        chosen: dict[tuple[Version, str], Candidate] = {}
        for c in self._extra.get(name, []):
            chosen.setdefault((c.version, c.origin), c)
        for e in self._store.db.installed(name) if self._include_installed else ():
            c = candidate_from_installed(e)
            chosen.setdefault((c.version, "installed"), c)
        lines = self._cache.lines_for(name, index=self._pinned.get(name))
        lines.sort(key=lambda cl: (self._priority.get(cl.index, 1 << 30), cl.index))
        seen: set[Version] = set()
        for cl in lines:
            if cl.line.version in seen:
                continue  # a lower-priority index offering the same version
            seen.add(cl.line.version)
            c = candidate_from_line(cl.index, cl.line, bases=self._bases)
            chosen.setdefault((c.version, c.origin), c)
        return list(chosen.values())

