"""Batch reads of the index cache (issue 9): the same answers as one name at a time, in a
bounded number of statements, and a bad name breaks only itself.

Real parts: real signed lines (tests/unit/index helpers), a real SQLite cache.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from hxpm.errors import IndexDataError
from hxpm.index.cache import IndexCache
from hxpm.index.model import shard_path
from tests.unit.index import COMMIT, line_doc

NAMES = [f"expert-n{i:03d}" for i in range(12)]


def expert_file(name: str, *versions: str) -> bytes:
    docs = [line_doc(name, v) for v in versions]
    return b"".join(json.dumps(d, separators=(",", ":")).encode() + b"\n" for d in docs)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[IndexCache]:
    c = IndexCache(tmp_path / "index-cache.sqlite")
    files = [(shard_path(n), expert_file(n, "0.1.0", "0.2.0", "1.0.0")) for n in NAMES]
    c.replace_index_files("main", COMMIT, files)
    c.releases_for(NAMES[0])  # one name already checked, the others still pending
    yield c
    c.close()


def _statements(cache: IndexCache) -> list[str]:
    seen: list[str] = []
    cache._db.set_trace_callback(seen.append)  # the test's window into the one connection
    return seen


def test_releases_for_names_reads_as_releases_for_does(cache: IndexCache) -> None:
    with IndexCache(cache.path) as single:
        expected = {n: sorted(single.releases_for(n), key=str) for n in NAMES}
    seen = _statements(cache)
    got = cache.releases_for_names([*NAMES, "expert-unknown"])
    assert {n: sorted(r, key=str) for n, r in got.items()} == {**expected, "expert-unknown": []}
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    # two batch statements, plus a check and a read per name that was still pending
    assert len(selects) <= 2 + 2 * (len(NAMES) - 1)
    seen.clear()
    cache.releases_for_names(NAMES)  # all checked now: two statements in all
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 2


def test_a_bad_pending_file_is_left_to_its_own_read(cache: IndexCache) -> None:
    bad = NAMES[5]
    doc = line_doc(bad, "0.1.0")
    doc["variants"][0]["sha256"] = "0" * 64  # no longer what its signature says
    conn = sqlite3.connect(cache.path)
    conn.execute(
        "UPDATE files SET data = ? WHERE name = ?",
        ((json.dumps(doc) + "\n").encode(), bad),
    )
    conn.commit()
    conn.close()
    got = cache.releases_for_names(NAMES)
    assert bad not in got and set(got) == set(NAMES) - {bad}
    with pytest.raises(IndexDataError, match=bad):
        cache.releases_for(bad)  # its own read names the problem, as before


def test_a_damaged_record_is_left_to_its_own_read(cache: IndexCache) -> None:
    cache.releases_for_names(NAMES)
    conn = sqlite3.connect(cache.path)
    conn.execute("UPDATE lines SET bases = 'no-digest' WHERE name = ?", (NAMES[3],))
    conn.commit()
    conn.close()
    got = cache.releases_for_names(NAMES)
    assert NAMES[3] not in got and len(got) == len(NAMES) - 1
    with pytest.raises(IndexDataError, match="damaged"):
        cache.releases_for(NAMES[3])


def test_lines_at_reads_as_line_does(cache: IndexCache) -> None:
    cache.releases_for_names(NAMES)
    keys = [("main", n, v) for n in NAMES for v in ("0.2.0", "1.0.0")]
    seen = _statements(cache)
    got = cache.lines_at([*keys, ("main", NAMES[0], "9.9.9"), ("other", NAMES[1], "0.1.0")])
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 2
    assert set(got) == set(keys)  # what is not cached is left out
    for key in keys:
        assert got[key] == cache.line(*key)
        assert got[key].variants[0].statement.name == key[1]


def test_lines_at_looks_each_key_up_in_the_index(cache: IndexCache) -> None:
    cache.releases_for_names(NAMES)
    seen = _statements(cache)
    cache.lines_at([("main", n, "1.0.0") for n in NAMES])
    (read,) = [s for s in seen if "FROM lines" in s or "JOIN lines" in s]
    plan = cache._db.execute(f"EXPLAIN QUERY PLAN {read}").fetchall()
    details = [row[-1] for row in plan]
    # A scan of `lines` would read every verified line of every index for 50 keys.
    assert not any(d.startswith("SCAN l") and "CONSTANT" not in d for d in details), details
    assert any("USING INDEX lines_by_name" in d for d in details), details


def test_lines_at_leaves_pending_names_to_line(tmp_path: Path) -> None:
    with IndexCache(tmp_path / "c.sqlite") as fresh:
        fresh.replace_index_files(
            "main", COMMIT, [(shard_path("expert-a"), expert_file("expert-a", "0.1.0"))]
        )
        assert fresh.lines_at([("main", "expert-a", "0.1.0")]) == {}
        assert fresh.line("main", "expert-a", "0.1.0").name == "expert-a"  # checks it first
        assert set(fresh.lines_at([("main", "expert-a", "0.1.0")])) == {
            ("main", "expert-a", "0.1.0")
        }
