"""Stores written by older hxpm versions held passwords in URLs; opening one cleans it.

The old store is built the way hxpm 0.x wrote it (schema 2, the index URL and the install
source exactly as typed); after one open no byte of the database, its WAL or its shared
memory file holds the password, and rows keep everything else.
"""

from __future__ import annotations

import sqlite3

from hxpm.store.paths import StorePaths
from hxpm.store.records import IndexRecord
from hxpm.store.state import StateDB

SECRET = "tok3n-SECRET-91"
OLD_STORE = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE experts (
    name TEXT NOT NULL, version TEXT NOT NULL, base_model TEXT NOT NULL,
    base_slug TEXT NOT NULL, base_sha256 TEXT NOT NULL, sha256 TEXT NOT NULL,
    tree_sha256 TEXT NOT NULL, size INTEGER NOT NULL, path TEXT NOT NULL,
    key_id TEXT, publisher TEXT, unsafe_unsigned INTEGER NOT NULL, source TEXT NOT NULL,
    installed_at TEXT NOT NULL, manifest TEXT NOT NULL, members TEXT NOT NULL,
    requested INTEGER NOT NULL DEFAULT 1, index_name TEXT, source_commit TEXT,
    PRIMARY KEY (name, version, base_model)
);
CREATE TABLE bases (name TEXT PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL,
    added_at TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE indexes (name TEXT PRIMARY KEY, url TEXT NOT NULL, priority INTEGER NOT NULL,
    trust_keys INTEGER NOT NULL, accepted_commit TEXT, added_at TEXT NOT NULL, updated_at TEXT);
CREATE TABLE trusted_keys (key_id TEXT NOT NULL, public_key TEXT NOT NULL,
    publisher TEXT NOT NULL, scopes TEXT NOT NULL, added_at TEXT NOT NULL,
    source TEXT NOT NULL, PRIMARY KEY (key_id, source));
INSERT INTO indexes VALUES ('main', 'https://bob:{SECRET}@git.example.org/idx.git', 10, 0,
    NULL, 't', NULL);
INSERT INTO indexes VALUES ('work', 'ssh://git:{SECRET}@git.example.org/w.git', 20, 0,
    NULL, 't', NULL);
INSERT INTO indexes VALUES ('plain', 'https://git.example.org/plain.git', 30, 0, NULL, 't', NULL);
INSERT INTO experts VALUES ('expert-a', '1.0.0', 'b', 'b', '', 'aa', 'bb', 1,
    'experts/expert-a/1.0.0/b/bb', NULL, NULL, 1,
    'https://***@git.example.org/a.git: https://{SECRET}@git.example.org/a.git@v1.0.0',
    't', '{{}}', '[]', 1, NULL, NULL);
PRAGMA user_version=2;
"""


def _old_store(tmp_path):
    paths = StorePaths(tmp_path)
    conn = sqlite3.connect(paths.state_db)
    conn.executescript(OLD_STORE)
    conn.close()
    assert SECRET.encode() in paths.state_db.read_bytes()  # the premise: it is on disk
    return paths


def _store_bytes(paths: StorePaths) -> bytes:
    files = [p for p in paths.root.iterdir() if p.name.startswith(paths.state_db.name)]
    return b"".join(p.read_bytes() for p in files)


def test_opening_an_old_store_removes_stored_passwords(tmp_path):
    paths = _old_store(tmp_path)
    db = StateDB(paths)
    urls = {i.name: i.url for i in db.indexes()}
    assert urls == {
        "main": "https://git.example.org/idx.git",
        "work": "ssh://git@git.example.org/w.git",
        "plain": "https://git.example.org/plain.git",
    }
    [e] = db.installed()
    assert e.source == ("https://git.example.org/a.git: https://git.example.org/a.git@v1.0.0")
    assert SECRET.encode() not in _store_bytes(paths)
    db.close()
    assert SECRET.encode() not in _store_bytes(paths)


def test_the_clean_up_runs_once_and_later_writes_stay_clean(tmp_path):
    paths = _old_store(tmp_path)
    StateDB(paths).indexes()  # cleans and records that it did
    db = StateDB(paths)
    assert db.get_meta("url_credentials_scrubbed") == "1"
    # Whatever a caller passes, the state never stores a password again.
    with db.transaction() as conn:
        db.put_index(
            conn, IndexRecord("new", f"http://u:{SECRET}@h.org/r.git", 40, False, None, "t", None)
        )
    assert db.find_index("new").url == "http://h.org/r.git"
    db.close()
    assert SECRET.encode() not in _store_bytes(paths)


def test_a_fresh_store_is_marked_clean(tmp_path):
    db = StateDB(StorePaths(tmp_path / "fresh"))
    assert db.indexes() == [] and db.get_meta("url_credentials_scrubbed") == "1"
