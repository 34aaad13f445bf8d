"""The local, queryable copy of every configured index: one SQLite file
(docs/architecture.md §5, §8).

``hxpm index update`` fills it from Git; install, resolve and search read it without
touching Git. Layout (schema version in ``PRAGMA user_version``; tables in
:mod:`hxpm.index.cache_schema`, rows written in :mod:`hxpm.index.cache_rows`, read in
:mod:`hxpm.index.cache_reads`):

- ``files``: each expert file as the index served it, stored at update time once its path
  was checked against its name (the shard), *not yet checked line by line*.
- ``lines``: the *verified record* of every checked version line: its JSON text, accepted
  by the strict parser (schema, name shard, signature statement agreement), plus the
  columns resolution needs (requirements, bases, yanked...), indexed by (name, index,
  version) so all versions of a name are one range scan.
- ``experts`` + ``search`` (FTS5) + ``capabilities``: one row per (index, expert) describing
  the version a plain install would pick, for ``hxpm search`` (its SQL is built by
  :mod:`hxpm.index.search_query`); for a file not yet checked, a display-only summary.
- ``indexes``: the Git commit each index's rows came from.

Verify once, on first use: the first read of a name (:meth:`IndexCache.releases_for`,
:meth:`IndexCache.lines_for`, :meth:`IndexCache.line`) checks its pending files with the
strict parser, stores the verified records and drops the file, in one write transaction;
every later read uses the records and never re-checks. A bad file therefore breaks only its
own name (every read of it raises the same :class:`IndexDataError`, naming the index, path,
line and problem); the rest of the index is unaffected. Resolution never reads an unchecked
file, and search output from one is display text (escaped when shown).

Every write is one transaction, so a reader sees an index entirely before or entirely after
an update. It is a cache: schemas 1 to 3 are migrated in place; any other older schema is
dropped and rebuilt (the next update refills it); a newer one is refused; every sqlite
error becomes a :class:`StoreError`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from hxpm.errors import IndexDataError, StoreError
from hxpm.index import cache_rows as rows_
from hxpm.index.cache_reads import (
    RELEASE_SQL,
    CachedLine,
    CachedRelease,
    line_at,
    lines_at,
    lines_of,
    release_of,
    releases_batch,
)
from hxpm.index.cache_schema import SCHEMA_VERSION, ensure_schema

if TYPE_CHECKING:  # the model (semver, PyNaCl) is imported only when lines are checked
    from hxpm.index.cache_routing import RoutingEntry
    from hxpm.index.model import VersionLine
    from hxpm.index.search_query import SearchHit

__all__ = [
    "SCHEMA_VERSION",
    "CachedLine",
    "CachedRelease",
    "IndexCache",
]

_BATCH = 500  # names per statement, well under SQLite's bound on parameters


class IndexCache:
    """``index-cache.sqlite``: open one per command, one connection, WAL mode."""

    def __init__(self, path: Path) -> None:
        """Open (creating it if needed) the cache at ``path``.

        Raises:
            StoreError: the file cannot be opened, is not a SQLite database, was written by a
                newer hxpm, or this SQLite has no FTS5.
        """
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        with self._errors("open"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # A cache: losing the last commit on power loss is fine (the next update redoes
            # it); WAL keeps the file consistent either way.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            ensure_schema(self._conn, self.path)

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; later calls raise StoreError. Safe to call twice."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"index cache {self.path}: used after close()")
        return self._conn

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(
                f"index cache {self.path}: cannot {doing}: {exc}",
                hint=f"The cache can be rebuilt: delete {self.path} and run `hxpm index update`.",
            ) from exc
        except OSError as exc:
            raise StoreError(f"index cache {self.path}: cannot {doing}: {exc.strerror}") from exc

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._errors(doing):
            conn = self._db
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # --- writing ---------------------------------------------------------------------------

    def replace_index_files(
        self, index: str, commit: str, files: Iterable[tuple[str, bytes]]
    ) -> int:
        """Make the cached copy of ``index`` exactly the expert files in ``files``, read at
        ``commit``; returns how many expert files were read.

        ``files`` yields ``(path, bytes)`` pairs, ``path`` relative to the index root
        (``experts/ex/pe/expert-sql``); names starting with ``.`` (``.keep``) are skipped.
        It is consumed lazily, a batch at a time, inside one transaction: each file's
        path is checked against its name's shard here, and the file is stored as read; its
        lines are checked the first time its name is read (see the module docstring), so a
        bad line breaks only its own expert. A misplaced file raises and nothing changes.

        Raises:
            UsageError: ``index`` or ``commit`` is malformed.
            IndexDataError: a file is not where its name belongs, or comes twice.
            StoreError: the database cannot be written (nothing changed then).
        """
        rows_.check_index(index, commit)
        with self._transaction(f"replace index {index}") as conn:
            rows_.delete_rows(conn, "idx = ?", (index,))
            count = rows_.store_files(conn, index, ((p, d, False) for p, d in files))
            rows_.set_head(conn, index, commit)
        return count

    def update_index_files(
        self, index: str, commit: str, files: Iterable[tuple[str, bytes | None]]
    ) -> int:
        """Replace only the experts whose files are in ``files`` (``None`` bytes: the file
        was deleted, the expert goes), and record ``commit``; one transaction, stored and
        checked as by :meth:`replace_index_files`. Returns how many expert files were read
        or removed.

        Raises:
            UsageError: ``index`` or ``commit`` is malformed.
            IndexDataError: a file is not where its name belongs, or comes twice.
            StoreError: the database cannot be written (nothing changed then).
        """
        rows_.check_index(index, commit)
        with self._transaction(f"update index {index}") as conn:
            count = rows_.store_files(conn, index, ((p, d, True) for p, d in files))
            rows_.set_head(conn, index, commit)
        return count

    def replace_index(self, index: str, commit: str, lines: Iterable[VersionLine]) -> None:
        """Make the cached copy of ``index`` exactly ``lines``, read at ``commit``.

        Raises:
            UsageError: ``index`` or ``commit`` is malformed.
            IndexDataError: ``lines`` list one (name, version) twice.
            StoreError: the database cannot be written (nothing changed then).
        """
        rows_.check_index(index, commit)
        groups = rows_.group_lines(lines)
        with self._transaction(f"replace index {index}") as conn:
            rows_.delete_rows(conn, "idx = ?", (index,))
            rows_.insert_verified(conn, index, _with_texts(groups))
            rows_.set_head(conn, index, commit)

    def update_index(
        self, index: str, commit: str, changed: Mapping[str, Sequence[VersionLine]]
    ) -> None:
        """Replace only the lines of the names in ``changed`` (an empty sequence removes
        the name), and record ``commit``; one transaction.

        Raises:
            UsageError: ``index`` or ``commit`` is malformed.
            IndexDataError: a sequence holds a line of another name, or a version twice.
            StoreError: the database cannot be written (nothing changed then).
        """
        rows_.check_index(index, commit)
        groups: dict[str, list[VersionLine]] = {}
        for name, seq in changed.items():
            got = rows_.group_lines(seq)
            if set(got) - {name}:
                other = min(set(got) - {name})
                raise IndexDataError(
                    f"index {index}: the lines given for {name} include a line for {other}"
                )
            groups[name] = got.get(name, [])
        with self._transaction(f"update index {index}") as conn:
            for name in groups:
                rows_.delete_rows(conn, "idx = ? AND name = ?", (index, name))
            kept = {n: ls for n, ls in groups.items() if ls}
            rows_.insert_verified(conn, index, _with_texts(kept))
            rows_.set_head(conn, index, commit)

    def check_names(self, index: str, names: Iterable[str]) -> None:
        """Check now the files of ``names`` in ``index`` not checked yet (as their first
        read would), for a caller about to use their content.

        Raises:
            IndexDataError: a file holds an invalid line.
            StoreError: the database cannot be written.
        """
        with self._errors("check lines"):
            for name in names:
                rows_.verify_pending(self._db, name, index)

    def drop_index(self, index: str) -> None:
        """Forget everything cached for ``index`` (``hxpm index remove``).

        Raises:
            StoreError: the database cannot be written.
        """
        with self._transaction(f"drop index {index}") as conn:
            rows_.delete_rows(conn, "idx = ?", (index,))
            conn.execute("DELETE FROM indexes WHERE name = ?", (index,))

    # --- reading ---------------------------------------------------------------------------

    def commit_of(self, index: str) -> str | None:
        """The Git commit the cached rows of ``index`` were read at, or None if not cached.

        Raises:
            StoreError: the database cannot be read.
        """
        with self._errors("read"):
            row = self._db.execute("SELECT head FROM indexes WHERE name = ?", (index,)).fetchone()
        return None if row is None else str(row[0])

    def indexes(self) -> list[str]:
        """Names of the cached indexes, sorted.

        Raises:
            StoreError: the database cannot be read.
        """
        with self._errors("read"):
            rows = self._db.execute("SELECT name FROM indexes ORDER BY name").fetchall()
        return [r[0] for r in rows]

    def lines_for(self, name: str, *, index: str | None = None) -> list[CachedLine]:
        """Every cached version of ``name``, from all indexes or one, sorted by (index,
        version), rebuilt from the verified records (not re-checked; files of ``name`` not
        checked yet are checked first, once). Index priority is the caller's business.

        Raises:
            StoreError: the database cannot be read.
            IndexDataError: a file of ``name`` holds an invalid line, or a stored record no
                longer reads back (a damaged cache).
        """
        with self._errors("read"):
            return lines_of(self._db, name, index)

    def releases_for(self, name: str, *, index: str | None = None) -> list[CachedRelease]:
        """What resolution needs of every cached version of ``name`` (all indexes or one),
        unsorted, from the stored columns alone: no JSON line is read (files of ``name``
        not checked yet are checked first, once).

        Raises:
            StoreError: the database cannot be read.
            IndexDataError: a file of ``name`` holds an invalid line, or a stored record
                is damaged.
        """
        sql = f"SELECT {RELEASE_SQL} FROM lines WHERE name = ?"
        args: tuple[str, ...] = (name,)
        if index is not None:
            sql, args = sql + " AND idx = ?", (name, index)
        with self._errors("read"):
            rows_.verify_pending(self._db, name, index)
            rows = self._db.execute(sql, args).fetchall()
        return [release_of(name, row) for row in rows]

    def releases_for_names(self, names: Collection[str]) -> dict[str, list[CachedRelease]]:
        """:meth:`releases_for` of many names (all indexes) in a few statements: what a
        resolver asks for one level of a closure at a time. A name whose pending file or
        stored record does not read back is left out, so that :meth:`releases_for` of it
        raises its own error when (and if) the name is asked for.

        Raises:
            StoreError: the database cannot be read.
        """
        out: dict[str, list[CachedRelease]] = {}
        ordered = sorted(set(names))
        with self._errors("read"):
            for start in range(0, len(ordered), _BATCH):
                out.update(releases_batch(self._db, ordered[start : start + _BATCH]))
        return out

    def line(self, index: str, name: str, version: str) -> VersionLine:
        """The whole stored line of ``name`` ``version`` in ``index`` (not re-checked).

        Raises:
            StoreError: the database cannot be read.
            IndexDataError: no such line is cached, its file holds an invalid line, or
                its record is damaged.
        """
        with self._errors("read"):
            return line_at(self._db, index, name, version)

    def lines_at(
        self, keys: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], VersionLine]:
        """:meth:`line` of many (index, name, version) keys in a few statements. A key not
        cached, of a name with files not checked yet, or whose record does not read back is
        left out: :meth:`line` of it raises its own error.

        Raises:
            StoreError: the database cannot be read.
        """
        with self._errors("read"):
            return lines_at(self._db, keys)

    def names(self, index: str | None = None) -> list[str]:
        """Every cached expert name (of all indexes, or of one), sorted, without repeats.

        Raises:
            StoreError: the database cannot be read.
        """
        with self._errors("read"):
            if index is None:
                rows = self._db.execute("SELECT DISTINCT name FROM experts ORDER BY name")
            else:
                rows = self._db.execute(
                    "SELECT name FROM experts WHERE idx = ? ORDER BY name", (index,)
                )
            return [r[0] for r in rows.fetchall()]

    def search(
        self,
        term: str,
        *,
        capability: str | None = None,
        indexes: Sequence[str] | None = None,
        limit: int = 50,
    ) -> list[SearchHit]:
        """Find experts by name, keywords, capabilities and description.

        Ranking: exact name or short name (``sql`` for ``expert-sql``) first, then names
        starting with the term, then bm25 relevance (name >> keywords > capabilities >
        description); ties by (name, index). Each whitespace-separated word must match
        (as a word prefix). An empty term lists everything by name; a term with no letters
        or digits finds nothing. ``capability`` keeps experts with that exact ``ns:value``,
        with that value (``sql``), or in that namespace (``tech:``).

        Raises:
            StoreError: the database cannot be read.
        """
        from hxpm.index.search_query import plan_search  # search only: not on resolution's path

        query = plan_search(term, capability=capability, indexes=indexes, limit=limit)
        if query is None:
            return []
        with self._errors("search"):
            return query.run(self._db)

    def routing_entries(self) -> list[RoutingEntry]:
        """The routing fields (keywords, exclusions, priority, ``routing.profile``) of the
        version search shows for every (index, expert), for ``hxpm search --prompt``.

        Raises:
            StoreError: the database cannot be read.
        """
        from hxpm.index.cache_routing import routing_entries

        with self._errors("search"):
            return routing_entries(self._db)


# --- helpers -------------------------------------------------------------------------------


def _with_texts(
    groups: Mapping[str, list[VersionLine]],
) -> dict[str, list[tuple[VersionLine, str]]]:
    return {name: [(ln, ln.to_json_line()) for ln in group] for name, group in groups.items()}
