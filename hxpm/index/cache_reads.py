"""What the index cache's reads return, and the reads a resolution makes in batches
(private SQL of :class:`hxpm.index.cache.IndexCache`, which documents the layout).

A resolution reads the *resolution columns* of every version of every name it meets (a
level of the closure at a time), then the whole verified line of each chosen version only.
Both are hot paths of ``hxpm install --dry-run``: the columns are stored in a compact text
form that ``str.split`` decodes (``cache_rows.release_columns``, schema 4), and the chosen lines
are fetched by their exact keys, not by name.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from hxpm.errors import IndexDataError
from hxpm.index import cache_rows as rows_

if TYPE_CHECKING:  # the model (semver, PyNaCl) is imported only when lines are checked
    from hxpm.index.model import VersionLine

__all__ = [
    "RELEASE_SQL",
    "CachedLine",
    "CachedRelease",
    "line_at",
    "lines_at",
    "lines_of",
    "release_of",
    "releases_batch",
]

RELEASE_SQL = "idx, version, requires, incompatible, load_order, max_chain, yanked, bases"
_KEYS_PER_STATEMENT = 300  # 3 parameters a key: under SQLite's oldest bound of 999
_ITEM, _PAIR = rows_.ITEM_SEP, rows_.PAIR_SEP


@dataclass(frozen=True, slots=True)
class CachedLine:
    """A version line and the index it came from."""

    index: str
    line: VersionLine


class CachedRelease(NamedTuple):
    """What resolution needs of one cached version line, read from its verified record.

    Strings as stored (the caller parses versions and requirements); the whole line is
    :meth:`IndexCache.line`. A NamedTuple, not a frozen dataclass: a dry run makes one per
    version of every name it meets (~2,600), and a tuple is built at C speed.
    """

    # Shadows tuple.index on purpose: the name every reader of a release uses.
    index: str  # type: ignore[assignment]
    name: str
    version: str
    requires: tuple[str, ...]
    incompatible_with: tuple[str, ...]
    load_order: int
    max_chain: int
    yanked: bool
    bases: tuple[tuple[str, str], ...]  # (base_model, base_sha256) of each variant


def release_of(name: str, row: tuple[Any, ...]) -> CachedRelease:
    """The release a row of :data:`RELEASE_SQL` columns stores.

    Raises:
        IndexDataError: the stored record is damaged.
    """
    idx, version, requires, incompatible, load_order, max_chain, yanked, bases = row
    try:
        return CachedRelease(
            idx,
            name,
            version,
            tuple(requires.split(_ITEM)) if requires else (),
            tuple(incompatible.split(_ITEM)) if incompatible else (),
            int(load_order),
            int(max_chain),
            bool(yanked),
            _bases(bases),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise IndexDataError(
            f"index cache {idx}: {name} {version}: the stored record is damaged ({exc})",
            hint=rows_.REBUILD_HINT,
        ) from None


@functools.lru_cache(maxsize=1024)
def _bases(text: str) -> tuple[tuple[str, str], ...]:
    """Memoised: the versions of an index mostly share one column text (same bases)."""
    pairs = []
    for item in text.split(_ITEM):
        base, digest = item.split(_PAIR)  # ValueError unless exactly one pair
        pairs.append((base, digest))
    if not pairs[0][0]:
        raise ValueError("no base model")
    return tuple(pairs)


def releases_batch(conn: sqlite3.Connection, names: list[str]) -> dict[str, list[CachedRelease]]:
    """The releases of ``names`` (at most a few hundred) in two statements; a name whose
    pending file or stored record is bad is left out (its own read raises its error)."""
    marks = ",".join("?" * len(names))
    pending = conn.execute(f"SELECT DISTINCT name FROM files WHERE name IN ({marks})", names)
    out: dict[str, list[CachedRelease]] = {name: [] for name in names}
    for (name,) in pending.fetchall():
        try:
            rows_.verify_pending(conn, name, None)
        except IndexDataError:
            del out[name]
    rows = conn.execute(
        f"SELECT name, {RELEASE_SQL} FROM lines WHERE name IN ({marks})", names
    ).fetchall()
    damaged: set[str] = set()
    for row in rows:
        found = out.get(row[0])
        if found is None:
            continue
        try:
            found.append(release_of(row[0], row[1:]))
        except IndexDataError:
            damaged.add(row[0])
    for name in damaged:
        del out[name]
    return out


def lines_at(
    conn: sqlite3.Connection, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], VersionLine]:
    """The verified lines of (index, name, version) ``keys``, read by their exact keys (the
    ``lines_by_name`` index), each rebuilt without re-checking; a key not cached, of a name
    with files not checked yet, or whose record does not read back is left out."""
    from hxpm.index.verified import line_from_verified

    wanted = sorted(set(keys))
    out: dict[tuple[str, str, str], VersionLine] = {}
    for start in range(0, len(wanted), _KEYS_PER_STATEMENT):
        chunk = wanted[start : start + _KEYS_PER_STATEMENT]
        names = sorted({name for _, name, _ in chunk})
        marks = ",".join("?" * len(names))
        pending = conn.execute(
            f"SELECT DISTINCT name FROM files WHERE name IN ({marks})", names
        ).fetchall()
        skip = {row[0] for row in pending}
        values = ",".join(["(?,?,?)"] * len(chunk))
        args = [part for idx, name, version in chunk for part in (name, idx, version)]
        # CROSS JOIN keeps the keys as the outer loop: one lines_by_name lookup a key
        # (a row-value IN would scan the whole table).
        rows = conn.execute(
            f"SELECT l.idx, l.name, l.version, l.line FROM (VALUES {values}) AS k "
            "CROSS JOIN lines AS l ON l.name = k.column1 AND l.idx = k.column2 "
            "AND l.version = k.column3",
            args,
        )
        for idx, name, version, text in rows:
            if name in skip:
                continue
            try:
                line = line_from_verified(text, where=f"index cache {idx}: {name}")
            except IndexDataError:
                continue
            out[(idx, name, version)] = line
    return out


def lines_of(conn: sqlite3.Connection, name: str, index: str | None) -> list[CachedLine]:
    """Every verified line of ``name`` (in ``index``, or all), sorted by (index, version);
    files of ``name`` not checked yet are checked first, once.

    Raises:
        IndexDataError: a file of ``name`` holds an invalid line, or a record is damaged.
    """
    from hxpm.index.verified import line_from_verified

    sql = "SELECT idx, version, line FROM lines WHERE name = ?"
    args: tuple[str, ...] = (name,)
    if index is not None:
        sql, args = sql + " AND idx = ?", (name, index)
    rows_.verify_pending(conn, name, index)
    rows = conn.execute(sql, args).fetchall()
    out = [
        CachedLine(idx, line_from_verified(text, where=f"index cache {idx}: {name} {ver}"))
        for idx, ver, text in rows
    ]
    out.sort(key=lambda c: (c.index, c.line.version))
    return out


def line_at(conn: sqlite3.Connection, index: str, name: str, version: str) -> VersionLine:
    """The verified line of ``name`` ``version`` in ``index`` (its files checked first).

    Raises:
        IndexDataError: not cached, its file holds an invalid line, or its record is damaged.
    """
    from hxpm.index.verified import line_from_verified

    where = f"index cache {index}: {name} {version}"
    rows_.verify_pending(conn, name, index)
    row = conn.execute(
        "SELECT line FROM lines WHERE name = ? AND idx = ? AND version = ?",
        (name, index, version),
    ).fetchone()
    if row is None:
        raise IndexDataError(
            f"{where}: not cached (any more)", hint="Run `hxpm index update` and try again."
        )
    return line_from_verified(row[0], where=where)
