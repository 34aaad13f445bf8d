"""The local, queryable copy of every configured index: one SQLite file (DESIGN §5, §8).

``hxpm index update`` fills it from Git; install, resolve and search read it without
touching Git. Layout (schema version in ``PRAGMA user_version``):

- ``lines``: the *verified record* of every version line: its JSON text, checked once by
  the strict parser when the line was stored (schema, name shard, signature statement
  agreement), plus the columns resolution needs (requirements, bases, yanked...), indexed by
  (name, index, version) so all versions of a name are one range scan. Reads never
  re-check: resolution reads the columns (:meth:`IndexCache.releases_for`), and a whole line
  is rebuilt from its stored text without re-running the checks
  (:func:`hxpm.index.verified.line_from_verified`).
- ``experts`` + ``search`` (FTS5) + ``capabilities``: one row per (index, expert) describing
  the version a plain install would pick (newest stable non-yanked, else newest non-yanked,
  else newest), for ``hxpm search`` (its SQL is built by :mod:`hxpm.index.search_query`).
- ``indexes``: the Git commit each index's rows came from.

Writing: :meth:`IndexCache.replace_index_files` / :meth:`IndexCache.update_index_files`
take an index's expert files as ``(path, bytes)`` pairs (from Git, or from any other
transport), verify every line once and store the records, streaming (bounded memory).

Every write is one transaction, so a reader sees an index entirely before or entirely after
an update. It is a cache: schema 1 (lines without the resolution columns) is migrated in
place, re-verifying each line once; any other older schema is dropped and rebuilt (the next
update refills it); a newer one is refused; every sqlite error becomes a :class:`StoreError`.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from hxpm.errors import HxpmError, IndexDataError, StoreError, UsageError
from hxpm.index.search_query import EXACT_BONUS, SearchHit, plan_search

if TYPE_CHECKING:  # the model (semver, PyNaCl) is imported only when lines are written
    from hxpm.core.versions import Version
    from hxpm.index.model import VersionLine

__all__ = ["EXACT_BONUS", "SCHEMA_VERSION", "CachedLine", "CachedRelease", "IndexCache",
           "SearchHit"]

SCHEMA_VERSION = 2
_BATCH_FILES = 500  # expert files parsed before their rows are inserted (bounded memory)
_RELEASE_COLUMNS = ("requires", "incompatible", "load_order", "max_chain", "yanked", "bases")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_DROP = ("search", "capabilities", "experts", "lines", "indexes")
_SCHEMA = (
    "CREATE TABLE indexes (name TEXT PRIMARY KEY, head TEXT NOT NULL, updated_at TEXT NOT NULL)",
    # A rowid table: lines are ~1.5 KB, and WITHOUT ROWID stores rows that size 3x larger.
    # requires/incompatible/bases: JSON arrays (strings; [base_model, base_sha256] pairs).
    ("CREATE TABLE lines (name TEXT NOT NULL, idx TEXT NOT NULL, version TEXT NOT NULL, "
     "line TEXT NOT NULL, requires TEXT NOT NULL, incompatible TEXT NOT NULL, "
     "load_order INTEGER NOT NULL, max_chain INTEGER NOT NULL, yanked INTEGER NOT NULL, "
     "bases TEXT NOT NULL)"),
    "CREATE UNIQUE INDEX lines_by_name ON lines (name, idx, version)",
    "CREATE INDEX lines_by_index ON lines (idx)",
    ("CREATE TABLE experts (id INTEGER PRIMARY KEY, idx TEXT NOT NULL, name TEXT NOT NULL, "
     "short TEXT NOT NULL, version TEXT NOT NULL, description TEXT NOT NULL, "
     "capabilities TEXT NOT NULL, keywords TEXT NOT NULL, UNIQUE (idx, name))"),
    "CREATE INDEX experts_by_name ON experts (name, idx)",
    ("CREATE TABLE capabilities (expert_id INTEGER NOT NULL, cap TEXT NOT NULL, "
     "ns TEXT NOT NULL, value TEXT NOT NULL)"),
    "CREATE INDEX capabilities_by_expert ON capabilities (expert_id)",
    "CREATE INDEX capabilities_by_cap ON capabilities (cap)",
    "CREATE INDEX capabilities_by_ns ON capabilities (ns)",
    "CREATE INDEX capabilities_by_value ON capabilities (value)",
    ("CREATE VIRTUAL TABLE search USING fts5(name, short, keywords, capabilities, description, "
     "tokenize='unicode61', prefix='2 3')"),
)


@dataclass(frozen=True, slots=True)
class CachedLine:
    """A version line and the index it came from."""

    index: str
    line: VersionLine


@dataclass(frozen=True, slots=True)
class CachedRelease:
    """What resolution needs of one cached version line, read from its verified record.

    Strings as stored (the caller parses versions and requirements); the whole line is
    :meth:`IndexCache.line`.
    """

    index: str
    name: str
    version: str
    requires: tuple[str, ...]
    incompatible_with: tuple[str, ...]
    load_order: int
    max_chain: int
    yanked: bool
    bases: tuple[tuple[str, str], ...]  # (base_model, base_sha256) of each variant


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
            self._ensure_schema(self._conn)

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; later calls raise StoreError. Safe to call twice."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
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

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process?
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"index cache {self.path} has schema {version}; this hxpm knows schema "
                    f"{SCHEMA_VERSION} at most",
                    hint=f"Upgrade hxpm, or delete {self.path} and run `hxpm index update`.",
                )
            if version == 1 and _migrated_from_1(conn, self.path):
                pass
            elif version < SCHEMA_VERSION:
                for table in _DROP:  # an unknown older cache: rebuilt, not migrated
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in _SCHEMA:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # --- writing ---------------------------------------------------------------------------

    def replace_index_files(self, index: str, commit: str,
                            files: Iterable[tuple[str, bytes]]) -> int:
        """Make the cached copy of ``index`` exactly the expert files in ``files``, read at
        ``commit``; returns how many expert files were read.

        ``files`` yields ``(path, bytes)`` pairs, ``path`` relative to the index root
        (``experts/ex/pe/expert-sql``); names starting with ``.`` (``.keep``) are skipped.
        It is consumed lazily, a batch at a time, inside one transaction: each file is
        checked (its path is its name's shard, every line parses strictly and its signature
        statement agrees with it, no version twice) *once*, here, and stored as a verified
        record that reads never re-check. The first bad file raises and nothing changes.

        Raises:
            UsageError: ``index`` or ``commit`` is malformed.
            IndexDataError: a file is misplaced or holds an invalid line.
            StoreError: the database cannot be written (nothing changed then).
        """
        _check_index(index, commit)
        with self._transaction(f"replace index {index}") as conn:
            _delete_rows(conn, "idx = ?", (index,))
            count = _store_files(conn, index, ((p, d, False) for p, d in files))
            _set_head(conn, index, commit)
        return count

    def update_index_files(self, index: str, commit: str,
                           files: Iterable[tuple[str, bytes | None]]) -> int:
        """Replace only the experts whose files are in ``files`` (``None`` bytes: the file
        was deleted, the expert goes), and record ``commit``; one transaction, checks as
        :meth:`replace_index_files`. Returns how many expert files were read or removed.

        Raises:
            UsageError: ``index`` or ``commit`` is malformed.
            IndexDataError: a file is misplaced or holds an invalid line.
            StoreError: the database cannot be written (nothing changed then).
        """
        _check_index(index, commit)
        with self._transaction(f"update index {index}") as conn:
            count = _store_files(conn, index, ((p, d, True) for p, d in files))
            _set_head(conn, index, commit)
        return count

    def replace_index(self, index: str, commit: str, lines: Iterable[VersionLine]) -> None:
        """Make the cached copy of ``index`` exactly ``lines``, read at ``commit``.

        Raises:
            UsageError: ``index`` or ``commit`` is malformed.
            IndexDataError: ``lines`` list one (name, version) twice.
            StoreError: the database cannot be written (nothing changed then).
        """
        _check_index(index, commit)
        groups = _group(lines)
        with self._transaction(f"replace index {index}") as conn:
            _delete_rows(conn, "idx = ?", (index,))
            _insert_groups(conn, index, _with_texts(groups))
            _set_head(conn, index, commit)

    def update_index(self, index: str, commit: str,
                     changed: Mapping[str, Sequence[VersionLine]]) -> None:
        """Replace only the lines of the names in ``changed`` (an empty sequence removes
        the name), and record ``commit``; one transaction.

        Raises:
            UsageError: ``index`` or ``commit`` is malformed.
            IndexDataError: a sequence holds a line of another name, or a version twice.
            StoreError: the database cannot be written (nothing changed then).
        """
        _check_index(index, commit)
        groups: dict[str, list[VersionLine]] = {}
        for name, seq in changed.items():
            got = _group(seq)
            if set(got) - {name}:
                other = min(set(got) - {name})
                raise IndexDataError(f"index {index}: the lines given for {name} include a "
                                     f"line for {other}")
            groups[name] = got.get(name, [])
        with self._transaction(f"update index {index}") as conn:
            for name in groups:
                _delete_rows(conn, "idx = ? AND name = ?", (index, name))
            _insert_groups(conn, index, _with_texts({n: ls for n, ls in groups.items() if ls}))
            _set_head(conn, index, commit)

    def drop_index(self, index: str) -> None:
        """Forget everything cached for ``index`` (``hxpm index remove``).

        Raises:
            StoreError: the database cannot be written.
        """
        with self._transaction(f"drop index {index}") as conn:
            _delete_rows(conn, "idx = ?", (index,))
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
        version), rebuilt from the verified records (not re-checked). Index priority is the
        caller's business.

        Raises:
            StoreError: the database cannot be read.
            IndexDataError: a stored record no longer reads back (a damaged cache).
        """
        from hxpm.index.verified import line_from_verified

        sql = "SELECT idx, version, line FROM lines WHERE name = ?"
        args: tuple[str, ...] = (name,)
        if index is not None:
            sql, args = sql + " AND idx = ?", (name, index)
        with self._errors("read"):
            rows = self._db.execute(sql, args).fetchall()
        out = [CachedLine(idx, line_from_verified(text, where=f"index cache {idx}: {name} {ver}"))
               for idx, ver, text in rows]
        out.sort(key=lambda c: (c.index, c.line.version))
        return out

    def releases_for(self, name: str, *, index: str | None = None) -> list[CachedRelease]:
        """What resolution needs of every cached version of ``name`` (all indexes or one),
        unsorted, from the stored columns alone: no JSON line is read.

        Raises:
            StoreError: the database cannot be read.
            IndexDataError: a stored record is damaged.
        """
        sql = ("SELECT idx, version, requires, incompatible, load_order, max_chain, yanked, "
               "bases FROM lines WHERE name = ?")
        args: tuple[str, ...] = (name,)
        if index is not None:
            sql, args = sql + " AND idx = ?", (name, index)
        with self._errors("read"):
            rows = self._db.execute(sql, args).fetchall()
        return [_release(name, row) for row in rows]

    def line(self, index: str, name: str, version: str) -> VersionLine:
        """The whole stored line of ``name`` ``version`` in ``index`` (not re-checked).

        Raises:
            StoreError: the database cannot be read.
            IndexDataError: no such line is cached, or its record is damaged.
        """
        from hxpm.index.verified import line_from_verified

        where = f"index cache {index}: {name} {version}"
        with self._errors("read"):
            row = self._db.execute("SELECT line FROM lines WHERE name = ? AND idx = ? AND "
                                   "version = ?", (name, index, version)).fetchone()
        if row is None:
            raise IndexDataError(f"{where}: not cached (any more)",
                                 hint="Run `hxpm index update` and try again.")
        return line_from_verified(row[0], where=where)

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
                    "SELECT name FROM experts WHERE idx = ? ORDER BY name", (index,))
            return [r[0] for r in rows.fetchall()]

    def search(self, term: str, *, capability: str | None = None,
               indexes: Sequence[str] | None = None, limit: int = 50) -> list[SearchHit]:
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
        query = plan_search(term, capability=capability, indexes=indexes, limit=limit)
        if query is None:
            return []
        with self._errors("search"):
            return query.run(self._db)


# --- helpers -------------------------------------------------------------------------------


def _check_index(index: object, commit: object) -> None:
    if not isinstance(index, str) or not index or len(index) > 128 or not index.isprintable():
        raise UsageError(f"index name: expected 1-128 printable characters, got {index!r}")
    if not isinstance(commit, str) or not _COMMIT_RE.fullmatch(commit):
        raise UsageError(f"index commit: expected a Git commit id (40 hex digits), got {commit!r}")


def _group(lines: Iterable[VersionLine]) -> dict[str, list[VersionLine]]:
    """Lines by name, each list sorted by version; a repeated (name, version) is refused."""
    groups: dict[str, list[VersionLine]] = {}
    for line in lines:
        groups.setdefault(line.name, []).append(line)
    for name, group in groups.items():
        keyed = sorted(((_precedence(ln.version), ln) for ln in group), key=lambda kl: kl[0])
        for (key_a, _), (key_b, line) in itertools.pairwise(keyed):
            if key_a == key_b:  # equal precedence: the same version (build metadata aside)
                raise IndexDataError(f"index lines: {name} {line.version} is listed twice")
        group[:] = [ln for _, ln in keyed]
    return groups


def _with_texts(groups: Mapping[str, list[VersionLine]]
                ) -> dict[str, list[tuple[VersionLine, str]]]:
    return {name: [(ln, ln.to_json_line()) for ln in group] for name, group in groups.items()}


def _precedence(version: Version) -> tuple[Any, ...]:
    """A sort key with SemVer precedence; semver's own compare is ~10x slower per pair."""
    v = version.value
    pre = v.prerelease
    if pre is None:
        return (v.major, v.minor, v.patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (v.major, v.minor, v.patch, 0, parts)


def _delete_rows(conn: sqlite3.Connection, where: str, args: tuple[str, ...]) -> None:
    ids = f"SELECT id FROM experts WHERE {where}"
    conn.execute(f"DELETE FROM search WHERE rowid IN ({ids})", args)
    conn.execute(f"DELETE FROM capabilities WHERE expert_id IN ({ids})", args)
    conn.execute(f"DELETE FROM experts WHERE {where}", args)
    conn.execute(f"DELETE FROM lines WHERE {where}", args)


def _store_files(conn: sqlite3.Connection, index: str,
                 files: Iterable[tuple[str, bytes | None, bool]]) -> int:
    """Verify and insert expert files a batch at a time; ``(path, data, replaces)``:
    ``replaces`` deletes the expert's old rows first, ``data`` None only removes them."""
    from hxpm.index.ingest import read_expert_file

    count = 0
    seen: set[str] = set()
    batch: dict[str, list[tuple[VersionLine, str]]] = {}
    for path, data, replaces in files:
        parsed = read_expert_file(index, path, data)
        if parsed is None:
            continue
        name, records = parsed
        if name in seen:
            raise IndexDataError(f"index {index}: {path} is listed twice in one update")
        seen.add(name)
        count += 1
        if replaces:
            _delete_rows(conn, "idx = ? AND name = ?", (index, name))
        if records:
            batch[name] = records
        if len(batch) >= _BATCH_FILES:
            _insert_groups(conn, index, batch)
            batch = {}
    _insert_groups(conn, index, batch)
    return count


def _insert_groups(conn: sqlite3.Connection, index: str,
                   groups: Mapping[str, Sequence[tuple[VersionLine, str]]]) -> None:
    """Rows for each name's (verified line, its JSON text) pairs, sorted by version."""
    if not groups:
        return
    next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM experts").fetchone()[0]
    line_rows: list[tuple[Any, ...]] = []
    expert_rows: list[tuple[Any, ...]] = []
    search_rows: list[tuple[Any, ...]] = []
    cap_rows: list[tuple[int, str, str, str]] = []
    for expert_id, (name, group) in enumerate(groups.items(), start=next_id):
        line_rows.extend(_line_row(index, ln, text) for ln, text in group)
        shown = _shown([ln for ln, _ in group])
        short = name.removeprefix("expert-") or name
        caps, keywords = list(shown.capabilities), list(shown.keywords)
        expert_rows.append((expert_id, index, name, short, str(shown.version), shown.description,
                            json.dumps(caps), json.dumps(keywords)))
        search_rows.append((expert_id, name, short, " ".join(keywords), " ".join(caps),
                            shown.description))
        for cap in caps:
            ns, colon, value = cap.lower().partition(":")
            if not colon:  # a bare word from the older tool: no namespace, found by value
                ns, value = "", ns
            cap_rows.append((expert_id, cap.lower(), ns, value))
    conn.executemany("INSERT INTO lines (name, idx, version, line, requires, incompatible, "
                     "load_order, max_chain, yanked, bases) VALUES (?,?,?,?,?,?,?,?,?,?)",
                     line_rows)
    conn.executemany("INSERT INTO experts (id, idx, name, short, version, description, "
                     "capabilities, keywords) VALUES (?,?,?,?,?,?,?,?)", expert_rows)
    conn.executemany("INSERT INTO search (rowid, name, short, keywords, capabilities, "
                     "description) VALUES (?,?,?,?,?,?)", search_rows)
    conn.executemany("INSERT INTO capabilities (expert_id, cap, ns, value) VALUES (?,?,?,?)",
                     cap_rows)


def _line_row(index: str, line: VersionLine, text: str) -> tuple[Any, ...]:
    return (line.name, index, str(line.version), text, *_release_columns(line))


def _release_columns(line: VersionLine) -> tuple[Any, ...]:
    """The resolution columns of a verified line (what :class:`CachedRelease` reads)."""
    from hxpm.index.model_checks import render_requirement

    return (json.dumps([render_requirement(r) for r in line.requires]),
            json.dumps([render_requirement(r) for r in line.incompatible_with]),
            line.load_order, line.max_chain, int(line.yanked),
            json.dumps([[v.base_model, v.base_sha256] for v in line.variants]))


def _release(name: str, row: tuple[Any, ...]) -> CachedRelease:
    idx, version, requires, incompatible, load_order, max_chain, yanked, bases = row
    try:
        return CachedRelease(idx, name, version, tuple(json.loads(requires)),
                             tuple(json.loads(incompatible)), int(load_order), int(max_chain),
                             bool(yanked), tuple((str(b), str(s)) for b, s in json.loads(bases)))
    except (TypeError, ValueError) as exc:
        raise IndexDataError(f"index cache {idx}: {name} {version}: the stored record is "
                             f"damaged ({exc})", hint=_REBUILD_HINT) from None


_REBUILD_HINT = "Delete index-cache.sqlite in the hxpm home and run `hxpm index update`."


def _migrated_from_1(conn: sqlite3.Connection, path: Path) -> bool:
    """Schema 1 stored the line text only: add the resolution columns, re-verifying each
    line once (the strict parser). False (the caller rebuilds) if a line no longer parses."""
    conn.execute("SAVEPOINT migrate")
    try:
        _migrate_from_1(conn, path)
    except HxpmError:
        conn.execute("ROLLBACK TO migrate")
        conn.execute("RELEASE migrate")
        return False
    conn.execute("RELEASE migrate")
    return True


def _migrate_from_1(conn: sqlite3.Connection, path: Path) -> None:
    from hxpm.index.model import VersionLine

    for column in _RELEASE_COLUMNS:
        kind = "INTEGER DEFAULT 0" if column in ("load_order", "max_chain", "yanked") else \
            "TEXT DEFAULT ''"
        conn.execute(f"ALTER TABLE lines ADD COLUMN {column} {kind} NOT NULL")
    rows = conn.execute("SELECT rowid, idx, name, version, line FROM lines").fetchall()
    for rowid, idx, name, version, text in rows:
        line = VersionLine.parse(text, where=f"index cache {path} ({idx}: {name} {version})")
        conn.execute("UPDATE lines SET requires = ?, incompatible = ?, load_order = ?, "
                     "max_chain = ?, yanked = ?, bases = ? WHERE rowid = ?",
                     (*_release_columns(line), rowid))


def _shown(group: list[VersionLine]) -> VersionLine:
    """The version search describes: what a plain install would pick (group is sorted)."""
    unyanked = [ln for ln in group if not ln.yanked]
    stable = [ln for ln in unyanked if not ln.version.is_prerelease]
    return (stable or unyanked or group)[-1]


def _set_head(conn: sqlite3.Connection, index: str, commit: str) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn.execute("INSERT OR REPLACE INTO indexes (name, head, updated_at) VALUES (?,?,?)",
                 (index, commit, now))
