"""`hxpm search`: ranked hits from every configured index, marked when installed."""

from __future__ import annotations

from dataclasses import dataclass

from hxpm.index.cache import IndexCache
from hxpm.index.cache_routing import RoutingEntry
from hxpm.index.search_query import SearchHit
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


@dataclass(frozen=True, slots=True)
class PromptMatch:
    """One expert of the configured indexes, scored for a prompt as the router would."""

    name: str
    version: str
    index: str
    description: str
    score: float
    profiled: bool  # the index line carries a routing.profile summary
    evidence: tuple[str, ...]  # the router's reasons, one sentence each
    installed_version: str | None


@dataclass(frozen=True, slots=True)
class PromptSearch:
    prompt: str
    chosen: str | None  # the expert the router would pick if all of these were installed
    reason: str
    matches: tuple[PromptMatch, ...]  # score > 0 only, best first


def search_by_prompt(store: Store, prompt: str, *, limit: int = 50) -> PromptSearch:
    """Rank the experts of every configured index for ``prompt`` with the router's scoring
    (docs/routing.md): manifest keywords, exclusions, capabilities and priority from each
    index line, plus its ``routing.profile`` summary where the line has one. The same
    name and version in several indexes is scored once, from the first index by name."""
    from hxpm.routing.profile import Profile
    from hxpm.routing.router import RouteCandidate, Router

    cache = IndexCache(store.paths.index_cache)
    try:
        entries = cache.routing_entries()
    finally:
        cache.close()
    first: dict[tuple[str, str], RoutingEntry] = {}
    for e in entries:
        first.setdefault((e.name, e.version), e)
    candidates = [
        RouteCandidate(
            name=e.name,
            version=e.version,
            keywords=e.keywords,
            exclude_keywords=e.exclude_keywords,
            priority=e.priority,
            capabilities=e.capabilities,
            description=e.description,
            profile=Profile(e.profile.prompts, dict(e.profile.terms)) if e.profile else None,
        )
        for e in first.values()
    ]
    decision = Router(candidates).route(prompt)
    installed: dict[str, str] = {}
    for i in newest_first(store.db.installed()):
        installed.setdefault(i.name, i.version)
    matches = tuple(
        PromptMatch(
            s.name,
            s.version,
            first[(s.name, s.version)].index,
            first[(s.name, s.version)].description,
            s.score,
            first[(s.name, s.version)].profile is not None,
            s.reasons,
            installed.get(s.name),
        )
        for s in decision.scores
        if s.score > 0
    )
    return PromptSearch(prompt, decision.chosen, decision.reason, matches[:limit])
