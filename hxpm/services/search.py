"""`hxpm search`: ranked hits from every configured index, marked when installed."""

from __future__ import annotations

from dataclasses import dataclass

from hxpm.index.cache import IndexCache, SearchHit
from hxpm.services.query import newest_first
from hxpm.store.store import Store


@dataclass(frozen=True, slots=True)
class SearchResult:
    hit: SearchHit
    installed_version: str | None


def search(
    store: Store, term: str, *, capability: str | None = None, limit: int = 50
) -> list[SearchResult]:
    # Straight to the cache: search must not load the Git stack (it runs at --version speed).
    cache = IndexCache(store.paths.index_cache)
    try:
        hits = cache.search(term, capability=capability, limit=limit)
    finally:
        cache.close()
    installed: dict[str, str] = {}
    for e in newest_first(store.db.installed()):
        installed.setdefault(e.name, e.version)
    return [SearchResult(h, installed.get(h.name)) for h in hits]
