"""What ``hxpm search --prompt`` reads from the index cache: the routing fields of the
version ``hxpm search`` shows for each (index, expert) (private to :mod:`hxpm.index.cache`).

For a name already read, they come from its verified record; for a file not checked yet,
from that version's line decoded as plain JSON, like the rest of search's display summary
(:mod:`hxpm.index.cache_rows`). Either way every field is checked here again and anything
out of shape is left out (a bad ``routing.profile`` means keywords only): a ranking, not a
resolution, is built from it, and the strict parser still checks the line at first use.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from hxpm.errors import IndexDataError
from hxpm.index.cache_rows import MAX_SUMMARY_LINES
from hxpm.index.routing_summary import RoutingSummary, parse_routing_summary

DEFAULT_PRIORITY = 0.5
MAX_ROUTING_STRINGS = 256  # keywords or exclusions read per expert
MAX_ROUTING_CHARS = 256  # a longer keyword is nobody's keyword

_SQL = (
    "SELECT e.idx, e.name, e.version, e.description, e.capabilities, l.line, f.data "
    "FROM experts e "
    "LEFT JOIN lines l ON l.name = e.name AND l.idx = e.idx AND l.version = e.version "
    "LEFT JOIN files f ON f.name = e.name AND f.idx = e.idx "
    "ORDER BY e.name, e.idx"
)


@dataclass(frozen=True, slots=True)
class RoutingEntry:
    """One (index, expert) as ``search --prompt`` scores it."""

    index: str
    name: str
    version: str
    description: str
    capabilities: tuple[str, ...]
    keywords: tuple[str, ...]
    exclude_keywords: tuple[str, ...]
    priority: float
    profile: RoutingSummary | None  # None: the line has no (usable) routing.profile


def routing_entries(conn: sqlite3.Connection) -> list[RoutingEntry]:
    """Every (index, expert) of the search table, by name then index."""
    out: list[RoutingEntry] = []
    for idx, name, version, description, caps, line, data in conn.execute(_SQL):
        doc = _decoded(line) if line is not None else _line_of(data, version)
        routing = doc.get("routing") if doc is not None else None
        routing = routing if isinstance(routing, dict) else {}
        out.append(
            RoutingEntry(
                idx,
                name,
                version,
                description,
                _strings(_decoded_list(caps)),
                _strings(routing.get("keywords")),
                _strings(routing.get("exclude_keywords")),
                _priority(routing.get("priority")),
                _profile(routing.get("profile")),
            )
        )
    return out


def _decoded(raw: str | bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def _decoded_list(raw: str) -> list[Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return []
    return value if isinstance(value, list) else []


def _line_of(data: bytes | None, version: str) -> dict[str, Any] | None:
    """The line of an unchecked file with ``version`` (the one search's summary shows)."""
    if data is None:
        return None
    for raw in itertools.islice(reversed(bytes(data).split(b"\n")), MAX_SUMMARY_LINES):
        doc = _decoded(raw) if raw.strip() else None
        if doc is not None and doc.get("version") == version:
            return doc
    return None


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        v
        for v in value[:MAX_ROUTING_STRINGS]
        if isinstance(v, str) and v.strip() and len(v) <= MAX_ROUTING_CHARS
    )


def _priority(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return DEFAULT_PRIORITY
    if not 0 <= value <= 1 or not math.isfinite(value):
        return DEFAULT_PRIORITY
    return float(value)


def _profile(value: object) -> RoutingSummary | None:
    if value is None:
        return None
    try:
        return parse_routing_summary(value)
    except IndexDataError:
        return None
