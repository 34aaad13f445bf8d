"""The index cache's tables, and bringing an older cache file up to them (private to
:mod:`hxpm.index.cache`, which documents the layout).

Schema history: 1 stored each line's text only; 2 added the resolution columns; 3 added
``files``, the expert files stored at update time and checked on first use; 4 stores the
resolution columns as compact text instead of JSON arrays (``cache_rows.release_columns``:
a dry run decodes thousands of them). Schemas 1-3 are migrated in place. A cache is
rebuildable, so an unknown older schema, or one whose rows do not convert, is dropped and
rebuilt (the next update refills it); a newer one is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from hxpm.errors import HxpmError, StoreError

SCHEMA_VERSION = 4
_DROP = ("search", "capabilities", "experts", "lines", "files", "indexes")
# Expert files read at update time whose lines are not checked yet: the first read of the
# name checks them (hxpm.index.cache_rows.verify_pending) and moves them to `lines`.
_FILES = (
    (
        "CREATE TABLE files (idx TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, "
        "data BLOB NOT NULL)"
    ),
    "CREATE UNIQUE INDEX files_by_name ON files (name, idx)",
    "CREATE INDEX files_by_index ON files (idx)",
)
_SCHEMA = (
    "CREATE TABLE indexes (name TEXT PRIMARY KEY, head TEXT NOT NULL, updated_at TEXT NOT NULL)",
    # A rowid table: lines are ~1.5 KB, and WITHOUT ROWID stores rows that size 3x larger.
    # requires/incompatible: requirements joined by NUL; bases: base_model<TAB>base_sha256
    # pairs joined by NUL (cache_rows.release_columns).
    (
        "CREATE TABLE lines (name TEXT NOT NULL, idx TEXT NOT NULL, version TEXT NOT NULL, "
        "line TEXT NOT NULL, requires TEXT NOT NULL, incompatible TEXT NOT NULL, "
        "load_order INTEGER NOT NULL, max_chain INTEGER NOT NULL, yanked INTEGER NOT NULL, "
        "bases TEXT NOT NULL)"
    ),
    "CREATE UNIQUE INDEX lines_by_name ON lines (name, idx, version)",
    "CREATE INDEX lines_by_index ON lines (idx)",
    *_FILES,
    (
        "CREATE TABLE experts (id INTEGER PRIMARY KEY, idx TEXT NOT NULL, name TEXT NOT NULL, "
        "short TEXT NOT NULL, version TEXT NOT NULL, description TEXT NOT NULL, "
        "capabilities TEXT NOT NULL, keywords TEXT NOT NULL, UNIQUE (idx, name))"
    ),
    "CREATE INDEX experts_by_name ON experts (name, idx)",
    (
        "CREATE TABLE capabilities (expert_id INTEGER NOT NULL, cap TEXT NOT NULL, "
        "ns TEXT NOT NULL, value TEXT NOT NULL)"
    ),
    "CREATE INDEX capabilities_by_expert ON capabilities (expert_id)",
    "CREATE INDEX capabilities_by_cap ON capabilities (cap)",
    "CREATE INDEX capabilities_by_ns ON capabilities (ns)",
    "CREATE INDEX capabilities_by_value ON capabilities (value)",
    (
        "CREATE VIRTUAL TABLE search USING fts5(name, short, keywords, capabilities, description, "
        "tokenize='unicode61', prefix='2 3')"
    ),
)
_RELEASE_COLUMNS = ("requires", "incompatible", "load_order", "max_chain", "yanked", "bases")


def ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the cache at ``path`` to :data:`SCHEMA_VERSION` (one transaction).

    Raises:
        StoreError: the cache was written by a newer hxpm.
        sqlite3.Error: the database cannot be read or written (the caller maps it).
    """
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process?
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"index cache {path} has schema {version}; this hxpm knows schema "
                f"{SCHEMA_VERSION} at most",
                hint=f"Upgrade hxpm, or delete {path} and run `hxpm index update`.",
            )
        if version == 1 and not _migrated(conn, _migrate_from_1, path):
            version = 0
        if version in (2, 3) and not _migrated(conn, _compact_columns, path):
            version = 0
        if version in (1, 2):  # their rows are verified records: keep them
            for statement in _FILES:
                conn.execute(statement)
        elif version not in (3, SCHEMA_VERSION):
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


def _migrated(
    conn: sqlite3.Connection, migrate: Callable[[sqlite3.Connection, Path], None], path: Path
) -> bool:
    """Run ``migrate`` in a savepoint; False (the caller rebuilds) if a row does not convert."""
    conn.execute("SAVEPOINT migrate")
    try:
        migrate(conn, path)
    except (HxpmError, TypeError, ValueError):
        conn.execute("ROLLBACK TO migrate")
        conn.execute("RELEASE migrate")
        return False
    conn.execute("RELEASE migrate")
    return True


def _migrate_from_1(conn: sqlite3.Connection, path: Path) -> None:
    """Schema 1 stored the line text only: add the resolution columns, re-verifying each
    line once (the strict parser)."""
    from hxpm.index.cache_rows import release_columns
    from hxpm.index.model import VersionLine

    for column in _RELEASE_COLUMNS:
        kind = (
            "INTEGER DEFAULT 0"
            if column in ("load_order", "max_chain", "yanked")
            else "TEXT DEFAULT ''"
        )
        conn.execute(f"ALTER TABLE lines ADD COLUMN {column} {kind} NOT NULL")
    rows = conn.execute("SELECT rowid, idx, name, version, line FROM lines").fetchall()
    for rowid, idx, name, version, text in rows:
        line = VersionLine.parse(text, where=f"index cache {path} ({idx}: {name} {version})")
        conn.execute(
            "UPDATE lines SET requires = ?, incompatible = ?, load_order = ?, "
            "max_chain = ?, yanked = ?, bases = ? WHERE rowid = ?",
            (*release_columns(line), rowid),
        )


def _compact_columns(conn: sqlite3.Connection, path: Path) -> None:
    """Schemas 2 and 3 stored the resolution columns as JSON arrays: rewrite them compact
    (the values were verified when stored; only their encoding changes)."""
    import json

    from hxpm.index.cache_rows import ITEM_SEP, PAIR_SEP

    rows = conn.execute("SELECT rowid, requires, incompatible, bases FROM lines").fetchall()
    for rowid, requires, incompatible, bases in rows:
        required, incompatible_with, variants = json.loads(f"[{requires},{incompatible},{bases}]")
        pairs = [PAIR_SEP.join((_text(b, PAIR_SEP), _text(s, PAIR_SEP))) for b, s in variants]
        conn.execute(
            "UPDATE lines SET requires = ?, incompatible = ?, bases = ? WHERE rowid = ?",
            (
                ITEM_SEP.join(map(_text, required)),
                ITEM_SEP.join(map(_text, incompatible_with)),
                ITEM_SEP.join(pairs),
                rowid,
            ),
        )


def _text(value: object, separator: str = "\x00") -> str:
    """A stored string that holds no separator of the compact form (else the row is
    damaged: ValueError, and the cache is rebuilt)."""
    if not isinstance(value, str) or "\x00" in value or separator in value:
        raise ValueError(f"expected a stored string, got {value!r}")
    return value
