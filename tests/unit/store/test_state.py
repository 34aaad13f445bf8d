"""The state database: schema migration keeps old rows and adds what new versions need."""

from __future__ import annotations

import sqlite3
import threading

from hxpm.store.paths import StorePaths
from hxpm.store.state import SCHEMA_VERSION, StateDB

V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE experts (
    name TEXT NOT NULL, version TEXT NOT NULL, base_model TEXT NOT NULL,
    base_slug TEXT NOT NULL, base_sha256 TEXT NOT NULL, sha256 TEXT NOT NULL,
    tree_sha256 TEXT NOT NULL, size INTEGER NOT NULL, path TEXT NOT NULL,
    key_id TEXT, publisher TEXT, unsafe_unsigned INTEGER NOT NULL, source TEXT NOT NULL,
    installed_at TEXT NOT NULL, manifest TEXT NOT NULL, members TEXT NOT NULL,
    PRIMARY KEY (name, version, base_model)
);
CREATE TABLE bases (name TEXT PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL,
    added_at TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE trusted_keys (key_id TEXT NOT NULL, public_key TEXT NOT NULL,
    publisher TEXT NOT NULL, scopes TEXT NOT NULL, added_at TEXT NOT NULL,
    source TEXT NOT NULL, PRIMARY KEY (key_id, source));
INSERT INTO experts VALUES ('expert-a', '1.0.0', 'b', 'b', '', 'aa', 'bb', 1,
    'experts/expert-a/1.0.0/b/bb', NULL, NULL, 1, 'file:x', 't', '{}', '[]');
PRAGMA user_version=1;
"""


def _v1_store(tmp_path):
    paths = StorePaths(tmp_path)
    conn = sqlite3.connect(paths.state_db)
    conn.executescript(V1_SCHEMA)
    conn.close()
    return paths


def test_v1_store_is_migrated_with_rows_kept(tmp_path):
    db = StateDB(_v1_store(tmp_path))
    [row] = db.installed()
    assert (row.name, row.requested, row.index_name, row.source_commit) == (
        "expert-a",
        True,
        None,
        None,
    )
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.conn.execute("SELECT count(*) FROM indexes").fetchone()[0] == 0


def test_concurrent_openers_migrate_once(tmp_path):
    paths = _v1_store(tmp_path)
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            StateDB(paths).installed()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(StateDB(paths).installed()) == 1
