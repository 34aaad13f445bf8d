"""The SQL behind :meth:`hxpm.index.cache.IndexCache.search` (docs/architecture.md §8):
user input made safe for SQLite and FTS5, filters, and the ranking, with no database access
of its own.

A search term is user input that ends up in an FTS5 ``MATCH``: every word is quoted, so
quotes, ``*``, ``NEAR``, ``OR`` or ``col:x`` are text, never query syntax, and everything
else reaches SQLite as a bound parameter. The tables queried are created by
:mod:`hxpm.index.cache` (``experts``, ``capabilities`` and the FTS5 table ``search``).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_TERM_CHARS = 256  # a search term longer than this is cut: nobody types more
MAX_TERM_TOKENS = 16
# bm25 column weights: name and short name >> keywords > capabilities > description.
_WEIGHTS = (10.0, 10.0, 4.0, 2.0, 1.0)
# Added to the (negated) bm25 relevance so that scores sort the way hits are ranked.
EXACT_BONUS = 1000.0
PREFIX_BONUS = 100.0
_HAS_WORD_RE = re.compile(r"[^\W_]")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_HIT_COLUMNS = "e.name, e.version, e.description, e.idx, e.capabilities, e.keywords"


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One (index, expert) found by :meth:`IndexCache.search`; higher ``score`` is better."""

    name: str
    version: str
    description: str
    index: str
    capabilities: tuple[str, ...]
    keywords: tuple[str, ...]
    score: float


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One ready statement: SQL with named parameters, returning :class:`SearchHit` rows."""

    sql: str
    params: dict[str, Any]

    def run(self, conn: sqlite3.Connection) -> list[SearchHit]:
        """Execute on ``conn``; sqlite errors propagate (the cache maps them)."""
        return [_hit(r) for r in conn.execute(self.sql, self.params).fetchall()]


def plan_search(
    term: str, *, capability: str | None, indexes: Sequence[str] | None, limit: int
) -> SearchQuery | None:
    """The query for :meth:`IndexCache.search` (which documents the ranking), or None when
    nothing can match (no indexes, ``limit`` <= 0, or a term without letters or digits)."""
    if limit <= 0 or (indexes is not None and not indexes):
        return None
    term = _clean(term)
    words = _words(term)
    if words is None:
        return None
    chosen = None if indexes is None else [_bindable(str(i)) for i in indexes]
    where, params = _filters(_clean(capability), chosen)
    params["limit"] = limit
    if not words:
        return _list_all(where, params)
    return _match(term, words, where, params)


def _list_all(where: list[str], params: dict[str, Any]) -> SearchQuery:
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT {_HIT_COLUMNS}, 0.0 FROM experts e {clause} ORDER BY e.name, e.idx LIMIT :limit"
    return SearchQuery(sql, params)


def _match(term: str, words: list[str], where: list[str], params: dict[str, Any]) -> SearchQuery:
    exact = term  # already cleaned: stripped and lower-cased
    query = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
    weights = ", ".join(str(w) for w in _WEIGHTS)
    clause = "".join(f" AND {w}" for w in where)
    # The tier bonus and bm25 (negative: lower is better) fold into one score, so one
    # ORDER BY ranks exact > prefix > relevance and the score shown agrees with it.
    sql = (
        f"SELECT {_HIT_COLUMNS}, "
        f"CASE WHEN e.name = :t OR e.short = :t THEN {EXACT_BONUS} "
        f"WHEN substr(e.name, 1, :n) = :t OR substr(e.short, 1, :n) = :t "
        f"THEN {PREFIX_BONUS} ELSE 0.0 END - bm25(search, {weights}) AS score "
        f"FROM search JOIN experts e ON e.id = search.rowid "
        f"WHERE search MATCH :q{clause} ORDER BY score DESC, e.name, e.idx LIMIT :limit"
    )
    return SearchQuery(sql, {**params, "t": exact, "n": len(exact), "q": query})


def _clean(text: object, limit: int = MAX_TERM_CHARS) -> str:
    """User input made safe to bind: cut to size, lone surrogates and control characters
    (FTS5 reads its query as a C string, so a NUL would end it mid-word) replaced."""
    text = _bindable(text[:limit]) if isinstance(text, str) else ""
    return _CONTROL_RE.sub(" ", text).strip().lower()


def _bindable(text: str) -> str:
    """Lone surrogates (which SQLite cannot store) replaced by '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _words(term: str) -> list[str] | None:
    """The words of a cleaned term, or None when it has words but none that can match.

    Each word is later quoted for FTS5, so quotes, ``*``, ``NEAR``, ``OR`` or ``col:x`` are
    text, never syntax. A word without a letter or digit cannot match and is dropped.
    """
    raw = term.split()
    words = [w for w in raw if _HAS_WORD_RE.search(w)][:MAX_TERM_TOKENS]
    return None if raw and not words else words


def _filters(capability: str, indexes: Sequence[str] | None) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions on ``experts e`` and their named parameters."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if indexes is not None:
        names = [f":i{i}" for i in range(len(indexes))]
        where.append(f"e.idx IN ({', '.join(names)})")
        params.update({n[1:]: str(ix) for n, ix in zip(names, indexes, strict=True)})
    cap = capability
    if cap:
        ns, colon, value = cap.partition(":")
        if colon and not value:
            column, params["cap"] = "ns", ns  # "tech:": the whole namespace
        elif colon:
            column, params["cap"] = "cap", cap  # "tech:sql": exactly that
        else:
            column, params["cap"] = "value", cap  # "sql": tech:sql, lang:sql ...
        where.append(f"e.id IN (SELECT expert_id FROM capabilities WHERE {column} = :cap)")
    return where, params


def _hit(row: tuple[Any, ...]) -> SearchHit:
    name, version, description, index, caps, keywords, score = row
    return SearchHit(
        name=name,
        version=version,
        description=description,
        index=index,
        capabilities=tuple(json.loads(caps)),
        keywords=tuple(json.loads(keywords)),
        score=round(float(score), 6),
    )
