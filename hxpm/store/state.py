"""The store's SQLite state: installed experts, base models, trusted keys, settings.

One database file, WAL mode. Every change is one transaction, so a crash leaves the old
rows or the new ones. Files on disk are made visible *before* their row is committed; a
directory with no row is an orphan that the next writer sweeps away.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hxpm.core.redact import strip_url_credentials
from hxpm.errors import StoreError
from hxpm.store.paths import StorePaths
from hxpm.store.records import BaseModel, IndexRecord, InstalledExpert

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS experts (
    name TEXT NOT NULL, version TEXT NOT NULL, base_model TEXT NOT NULL,
    base_slug TEXT NOT NULL, base_sha256 TEXT NOT NULL, sha256 TEXT NOT NULL,
    tree_sha256 TEXT NOT NULL, size INTEGER NOT NULL, path TEXT NOT NULL,
    key_id TEXT, publisher TEXT, unsafe_unsigned INTEGER NOT NULL, source TEXT NOT NULL,
    installed_at TEXT NOT NULL, manifest TEXT NOT NULL, members TEXT NOT NULL,
    requested INTEGER NOT NULL DEFAULT 1, index_name TEXT, source_commit TEXT,
    manifest_base TEXT, base_match TEXT,
    PRIMARY KEY (name, version, base_model)
);
CREATE TABLE IF NOT EXISTS bases (
    name TEXT PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL,
    added_at TEXT NOT NULL, source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS indexes (
    name TEXT PRIMARY KEY, url TEXT NOT NULL, priority INTEGER NOT NULL,
    trust_keys INTEGER NOT NULL, accepted_commit TEXT, added_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE TABLE IF NOT EXISTS trusted_keys (
    key_id TEXT NOT NULL, public_key TEXT NOT NULL, publisher TEXT NOT NULL,
    scopes TEXT NOT NULL, added_at TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (key_id, source)
);
"""

# Version 1 stores lacked what Git installs record; new columns get defaults.
# Version 3 records the manifest's own base name and how it matched a registered base;
# older rows keep NULL there (read as "the manifest named the recorded base").
_MIGRATIONS = {
    2: """
ALTER TABLE experts ADD COLUMN requested INTEGER NOT NULL DEFAULT 1;
ALTER TABLE experts ADD COLUMN index_name TEXT;
ALTER TABLE experts ADD COLUMN source_commit TEXT;
""",
    3: """
ALTER TABLE experts ADD COLUMN manifest_base TEXT;
ALTER TABLE experts ADD COLUMN base_match TEXT;
""",
}

_EXPERT_COLUMNS = (
    "name, version, base_model, base_slug, base_sha256, sha256, tree_sha256, size, path, "
    "key_id, publisher, unsafe_unsigned, source, installed_at, manifest, members, "
    "requested, index_name, source_commit, manifest_base, base_match"
)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the surrounding transaction; run statement by statement.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_OPEN_RETRY_S = 30.0


def _is_busy(error: BaseException | None) -> bool:
    """SQLite's "database is locked"/"busy": another process holds a lock for a moment."""
    text = str(error).lower() if isinstance(error, sqlite3.OperationalError) else ""
    return "locked" in text or "busy" in text


class StateDB:
    """Thin typed access to ``state.sqlite``. Open one per command."""

    def __init__(self, paths: StorePaths) -> None:
        self.paths = paths
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        # Some steps of opening do not wait on SQLite's busy handler: switching a new file to
        # WAL while another process creates it, or the one-time WAL checkpoint, answer
        # "database is locked" at once. Several processes opening a fresh store together
        # (two `hxpm install` at once) then retry for a bounded time instead of failing.
        deadline = time.monotonic() + _OPEN_RETRY_S
        while True:
            try:
                return self._open_once()
            except StoreError as e:
                if not _is_busy(e.__cause__) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _open_once(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        try:
            self.paths.root.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.paths.state_db, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store at {self.paths.root} has schema {version}; this hxpm knows "
                    f"schema {SCHEMA_VERSION} at most",
                    hint="Upgrade hxpm, or point HXPM_HOME at another store.",
                )
            if version < SCHEMA_VERSION:
                self._migrate(conn, version)
            _scrub_url_credentials(conn)
            return conn
        except sqlite3.Error as e:
            if conn is not None:
                conn.close()
            raise database_error(f"cannot open the store database {self.paths.state_db}", e) from e

    @staticmethod
    def _migrate(conn: sqlite3.Connection, seen: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                _run_script(conn, _SCHEMA)
            else:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    _run_script(conn, _MIGRATIONS[step])
                _run_script(conn, _SCHEMA)  # new tables; IF NOT EXISTS keeps the old ones
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change; a database failure (disk full, I/O error) is a StoreError and
        leaves the rows as they were."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with suppress(sqlite3.Error):  # SQLite may have rolled back already
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise database_error(
                    f"could not update the store database {self.paths.state_db}", exc
                ) from exc
            raise

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """A read: one statement, so one consistent snapshot (WAL), errors as StoreError."""
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise database_error(f"cannot read the store database {self.paths.state_db}", e) from e

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        rows = self._all(sql, args)
        return rows[0] if rows else None

    # --- installed experts -----------------------------------------------------------------

    def installed(self, name: str | None = None) -> list[InstalledExpert]:
        sql = f"SELECT {_EXPERT_COLUMNS} FROM experts"
        args: tuple[Any, ...] = ()
        if name is not None:
            sql += " WHERE name = ?"
            args = (name,)
        rows = self._all(sql + " ORDER BY name, installed_at", args)
        return [self._expert_from_row(r) for r in rows]

    def installed_state(self) -> tuple[tuple[Any, ...], ...]:
        """A token that changes whenever an expert is installed, removed, reinstalled or
        rebased: one row per installed expert, no manifest decoded (for caches)."""
        return tuple(
            tuple(r)
            for r in self._all(
                "SELECT name, version, base_model, tree_sha256, installed_at, path "
                "FROM experts ORDER BY name, version, base_model"
            )
        )

    def installed_names(self) -> set[str]:
        """The names with at least one installed version (one cheap query)."""
        return {r[0] for r in self._all("SELECT DISTINCT name FROM experts")}

    def find_installed(self, name: str, version: str, base_model: str) -> InstalledExpert | None:
        row = self._one(
            f"SELECT {_EXPERT_COLUMNS} FROM experts WHERE name=? AND version=? AND base_model=?",
            (name, version, base_model),
        )
        return self._expert_from_row(row) if row else None

    def put_installed(self, conn: sqlite3.Connection, e: InstalledExpert) -> None:
        conn.execute(
            f"INSERT OR REPLACE INTO experts ({_EXPERT_COLUMNS}) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                e.name,
                e.version,
                e.base_model,
                e.base_slug,
                e.base_sha256,
                e.sha256,
                e.tree_sha256,
                e.size,
                self._rel(e.path),
                e.key_id,
                e.publisher,
                int(e.unsafe_unsigned),
                strip_url_credentials(e.source),
                e.installed_at,
                json.dumps(e.manifest, ensure_ascii=False),
                json.dumps(list(e.members)),
                int(e.requested),
                e.index_name,
                e.source_commit,
                e.manifest_base,
                e.base_match,
            ),
        )

    def rebase_installed(
        self, conn: sqlite3.Connection, e: InstalledExpert, base_model: str, base_match: str
    ) -> None:
        """Record ``e`` under another (registered) base; the manifest's name is kept."""
        conn.execute(
            "UPDATE experts SET base_model=?, base_match=?, manifest_base=? "
            "WHERE name=? AND version=? AND base_model=?",
            (base_model, base_match, e.manifest_base_name, e.name, e.version, e.base_model),
        )

    def delete_installed(self, conn: sqlite3.Connection, e: InstalledExpert) -> None:
        conn.execute(
            "DELETE FROM experts WHERE name=? AND version=? AND base_model=?",
            (e.name, e.version, e.base_model),
        )

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.paths.root).as_posix()

    def _expert_from_row(self, r: tuple[Any, ...]) -> InstalledExpert:
        return InstalledExpert(
            name=r[0],
            version=r[1],
            base_model=r[2],
            base_slug=r[3],
            base_sha256=r[4],
            sha256=r[5],
            tree_sha256=r[6],
            size=r[7],
            path=self.paths.root / r[8],
            key_id=r[9],
            publisher=r[10],
            unsafe_unsigned=bool(r[11]),
            source=r[12],
            installed_at=r[13],
            manifest=json.loads(r[14]),
            members=tuple((m[0], m[1], m[2]) for m in json.loads(r[15])),
            requested=bool(r[16]),
            index_name=r[17],
            source_commit=r[18],
            manifest_base=r[19],
            base_match=r[20],
        )

    # --- base models -----------------------------------------------------------------------

    def bases(self) -> list[BaseModel]:
        default = self.get_meta("default_base")
        rows = self._all("SELECT name, path, sha256, added_at, source FROM bases ORDER BY name")
        return [
            BaseModel(r[0], Path(r[1]), r[2], r[3], r[4], is_default=(r[0] == default))
            for r in rows
        ]

    def find_base(self, name: str) -> BaseModel | None:
        return next((b for b in self.bases() if b.name == name), None)

    def put_base(self, conn: sqlite3.Connection, b: BaseModel) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO bases (name, path, sha256, added_at, source) "
            "VALUES (?,?,?,?,?)",
            (b.name, str(b.path), b.sha256, b.added_at, b.source),
        )

    def delete_base(self, conn: sqlite3.Connection, name: str) -> None:
        conn.execute("DELETE FROM bases WHERE name=?", (name,))

    def set_requested(self, conn: sqlite3.Connection, e: InstalledExpert) -> None:
        conn.execute(
            "UPDATE experts SET requested=1 WHERE name=? AND version=? AND base_model=?",
            (e.name, e.version, e.base_model),
        )

    # --- indexes ---------------------------------------------------------------------------

    def indexes(self) -> list[IndexRecord]:
        rows = self._all(
            "SELECT name, url, priority, trust_keys, accepted_commit, added_at, updated_at "
            "FROM indexes ORDER BY priority, name"
        )
        return [IndexRecord(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]

    def find_index(self, name: str) -> IndexRecord | None:
        return next((i for i in self.indexes() if i.name == name), None)

    def put_index(self, conn: sqlite3.Connection, i: IndexRecord) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO indexes (name, url, priority, trust_keys, accepted_commit, "
            "added_at, updated_at) VALUES (?,?,?,?,?,?,?)",
            (
                i.name,
                strip_url_credentials(i.url),
                i.priority,
                int(i.trust_keys),
                i.accepted_commit,
                i.added_at,
                i.updated_at,
            ),
        )

    def delete_index(self, conn: sqlite3.Connection, name: str) -> None:
        conn.execute("DELETE FROM indexes WHERE name=?", (name,))

    # --- trusted keys ----------------------------------------------------------------------

    def trusted_key_rows(self) -> list[tuple[str, str, str, list[str], str, str]]:
        rows = self._all(
            "SELECT key_id, public_key, publisher, scopes, added_at, source FROM trusted_keys "
            "ORDER BY publisher, key_id"
        )
        return [(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    def put_trusted_key(
        self,
        conn: sqlite3.Connection,
        key_id: str,
        public_key: str,
        publisher: str,
        scopes: list[str],
        added_at: str,
        source: str,
    ) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO trusted_keys "
            "(key_id, public_key, publisher, scopes, added_at, source) VALUES (?,?,?,?,?,?)",
            (key_id, public_key, publisher, json.dumps(scopes), added_at, source),
        )

    def delete_trusted_keys(self, conn: sqlite3.Connection, key_ids: list[str]) -> None:
        conn.executemany("DELETE FROM trusted_keys WHERE key_id=?", [(k,) for k in key_ids])

    def delete_trusted_keys_from(self, conn: sqlite3.Connection, source: str) -> None:
        conn.execute("DELETE FROM trusted_keys WHERE source=?", (source,))

    # --- settings --------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key=?", (key,))
        return row[0] if row else None

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str | None) -> None:
        if value is None:
            conn.execute("DELETE FROM meta WHERE key=?", (key,))
        else:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?,?)", (key, value))


def database_error(what: str, error: sqlite3.Error) -> StoreError:
    """A StoreError for a failed SQLite call, with the next step for the usual causes."""
    text = str(error)
    full = "full" in text or "I/O" in text
    hint = (
        "The disk holding the store is full or failing: free space (or check the disk), "
        "then retry; a failed change leaves the store as it was."
        if full
        else "Check that HXPM_HOME is writable and not on a network file system; "
        "`hxpm verify --store` checks the store."
    )
    return StoreError(f"{what}: {text}", hint=hint, details={"sqlite": text})


_SCRUBBED_META = "url_credentials_scrubbed"


def _scrub_url_credentials(conn: sqlite3.Connection) -> None:
    """Once per store: remove passwords that older hxpm versions stored in URLs.

    Index URLs and install sources were kept as typed, ``https://user:TOKEN@host/...``
    included. Rewrite them without credentials, with ``secure_delete`` so the old bytes
    are zeroed rather than left in free pages, and checkpoint the WAL so no copy stays
    there either. A flag in ``meta`` makes later opens cost one SELECT.
    """
    if conn.execute("SELECT 1 FROM meta WHERE key=?", (_SCRUBBED_META,)).fetchone():
        return
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name, url in conn.execute("SELECT name, url FROM indexes").fetchall():
            if strip_url_credentials(url) != url:
                conn.execute(
                    "UPDATE indexes SET url=? WHERE name=?", (strip_url_credentials(url), name)
                )
        for rowid, source in conn.execute("SELECT rowid, source FROM experts").fetchall():
            if strip_url_credentials(source) != source:
                conn.execute(
                    "UPDATE experts SET source=? WHERE rowid=?",
                    (strip_url_credentials(source), rowid),
                )
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", (_SCRUBBED_META,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
