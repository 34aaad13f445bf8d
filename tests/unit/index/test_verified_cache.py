"""Index lines are verified once, when stored; reads use the stored record (issue 9).

Real parts: real signed lines, a real SQLite cache, real Git repositories made with git.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hxpm.core.strictjson import loads_strict
from hxpm.core.versions import parse_requirement
from hxpm.errors import HxpmError, IndexDataError
from hxpm.index import git, model
from hxpm.index.cache import SCHEMA_VERSION, IndexCache
from hxpm.index.expert_file import parse_expert_file, parse_expert_records
from hxpm.index.model import VersionLine, shard_path
from hxpm.index.model_checks import _canonical_object, decode_object
from hxpm.index.verified import line_from_verified
from hxpm.services.candidates import candidate_from_line, candidate_from_release
from tests.unit.index import BASE, COMMIT, h, line_doc, line_text

OTHER = "b" * 40
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "original-ecosystem"


def compact(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def expert_file(name: str, *versions: str, **kw: Any) -> bytes:
    return b"".join(compact(line_doc(name, v, **kw)).encode() + b"\n" for v in versions)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[IndexCache]:
    c = IndexCache(tmp_path / "index-cache.sqlite")
    yield c
    c.close()


# --- the fast JSON path accepts exactly what the strict reader accepts ----------------------


def _fixture_json_lines() -> list[str]:
    lines = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and path.suffix in (".jsonl", ".json"):
            text = path.read_text("utf-8", "replace")
            lines += (
                [ln for ln in text.split("\n") if ln.strip()][:50]
                if path.suffix == ".jsonl"
                else [text]
            )
    return lines


HOSTILE = [
    '{"a":1,"a":2}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":1e999}',
    '{"a":' + "9" * 30 + "}",
    '{"a":' + "[" * 40 + "]" * 40 + "}",
    '{"a":"\\ud800"}',
    '{"a": 1}',
    "[1,2]",
    '"text"',
    '{"a":"\\u00e9"}',
    '{"a":"é"}',
    '{"a":-0}',
    '{"a":1.0}',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_fast_path_agrees_with_the_strict_reader_on_hostile_text(text: str) -> None:
    fast = _canonical_object(text)
    try:
        strict: Any = loads_strict(text)
    except ValueError:
        strict = None
    if fast is not None:  # accepted fast: the strict reader gives the same object
        assert strict == fast and isinstance(strict, dict)
    # and the public entry point words the same error either way
    try:
        expected: Any = decode_object(text, "w", "a line")
    except IndexDataError as exc:
        expected = exc.message
    assert expected == strict if isinstance(expected, dict) else "w:" in expected


def test_fast_path_on_real_json_written_by_others() -> None:
    texts = [
        *_fixture_json_lines(),
        line_text("expert-sql", "1.0.0"),
        compact(line_doc("expert-sql", "1.0.0")),
    ]
    assert len(texts) > 5
    fast_hits = 0
    for text in texts:
        fast = _canonical_object(text)
        if fast is not None:
            fast_hits += 1
            assert fast == loads_strict(text)
    assert fast_hits >= 1  # hxpm's own compact lines take the fast path


def test_bulk_parse_equals_per_line_parse() -> None:
    data = expert_file(
        "expert-sql",
        "0.2.0",
        "0.10.0",
        "0.1.0",
        requires=["expert-json@^1.0"],
        description="naïve ünïcode",
    )
    records = parse_expert_records(data, name="expert-sql", where="t")
    one_by_one = sorted(
        (VersionLine.parse(ln, where="t") for ln in data.split(b"\n") if ln),
        key=lambda ln: ln.version,
    )
    assert [line for line, _ in records] == one_by_one
    assert parse_expert_file(data, name="expert-sql", where="t") == one_by_one
    assert [json.loads(text) for _, text in records] == [ln.raw for ln in one_by_one]


# --- stored once, read without re-checking --------------------------------------------------


def _count_strict_parses(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    real = model.VersionLine.from_doc.__func__  # type: ignore[attr-defined]

    def counted(cls: type[VersionLine], *args: Any) -> VersionLine:
        calls.append(args)
        return real(cls, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(model.VersionLine, "from_doc", classmethod(counted))
    return calls


def test_each_line_is_checked_once_on_first_use(
    cache: IndexCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = shard_path("expert-sql")
    data = expert_file("expert-sql", "0.1.0", "0.2.0")
    expected = parse_expert_file(data, name="expert-sql", where="t")
    calls = _count_strict_parses(monkeypatch)
    assert cache.replace_index_files("main", COMMIT, [(path, data)]) == 1
    assert calls == []  # storing checks the path, not the lines
    got = cache.lines_for("expert-sql")  # the first read checks both lines...
    assert [c.line for c in got] == expected and len(calls) == 2
    assert [r.version for r in cache.releases_for("expert-sql")] == ["0.1.0", "0.2.0"]
    assert cache.line("main", "expert-sql", "0.2.0") == expected[1]
    with IndexCache(cache.path) as again:  # ...and no later read, in any process, again
        assert [c.line for c in again.lines_for("expert-sql")] == expected
    assert len(calls) == 2
    assert sqlite3.connect(cache.path).execute("SELECT count(*) FROM files").fetchone() == (0,)


def test_two_readers_of_one_cache_check_a_name_once(
    cache: IndexCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.replace_index_files(
        "main", COMMIT, [(shard_path("expert-sql"), expert_file("expert-sql", "0.1.0"))]
    )
    calls = _count_strict_parses(monkeypatch)
    with IndexCache(cache.path) as other:  # another process's connection
        assert [r.version for r in other.releases_for("expert-sql")] == ["0.1.0"]
    assert [r.version for r in cache.releases_for("expert-sql")] == ["0.1.0"]
    assert len(calls) == 1


def test_a_verified_record_tampered_in_the_cache_is_served_as_stored(cache: IndexCache) -> None:
    path = shard_path("expert-sql")
    original = expert_file("expert-sql", "0.1.0")
    cache.replace_index_files("main", COMMIT, [(path, original)])
    cache.releases_for("expert-sql")  # checked and stored as a verified record
    conn = sqlite3.connect(cache.path)  # someone edits the cache file behind hxpm's back
    text = conn.execute("SELECT line FROM lines").fetchone()[0]
    doc = json.loads(text)
    doc["variants"][0]["signature"] = "not a signature"
    conn.execute("UPDATE lines SET line = ?", (compact(doc),))
    conn.commit()
    conn.close()
    stored = cache.line("main", "expert-sql", "0.1.0")  # read back as stored: no re-check
    assert stored.variants[0].signature == "not a signature"
    # the index serving that tampered line: stored, then refused at first use
    cache.replace_index_files("main", OTHER, [(path, (compact(doc) + "\n").encode())])
    with pytest.raises(IndexDataError, match="signature") as info:
        cache.releases_for("expert-sql")
    assert "index main: experts/ex/pe/expert-sql line 1" in info.value.message
    cache.replace_index_files("main", OTHER, [(path, original)])  # the real file heals it
    assert cache.line("main", "expert-sql", "0.1.0").variants[0].statement.name == "expert-sql"


def test_a_pending_file_tampered_in_the_cache_is_caught_at_first_use(cache: IndexCache) -> None:
    path = shard_path("expert-sql")
    cache.replace_index_files("main", COMMIT, [(path, expert_file("expert-sql", "0.1.0"))])
    doc = line_doc("expert-sql", "0.1.0")
    doc["variants"][0]["sha256"] = "0" * 64  # no longer what the signature says
    conn = sqlite3.connect(cache.path)
    conn.execute("UPDATE files SET data = ?", ((compact(doc) + "\n").encode(),))
    conn.commit()
    conn.close()
    for _ in range(2):  # every read refuses it; nothing is stored
        with pytest.raises(IndexDataError, match="expert-sql"):
            cache.lines_for("expert-sql")
    assert sqlite3.connect(cache.path).execute("SELECT count(*) FROM lines").fetchone() == (0,)


def test_a_bad_file_breaks_only_its_own_name(cache: IndexCache) -> None:
    sql, js = shard_path("expert-sql"), shard_path("expert-json")
    bad = expert_file("expert-sql", "0.1.0") + b'{"v":2,"name":"expert-sql"}\n'
    cache.replace_index_files(
        "main", COMMIT, [(sql, bad), (js, expert_file("expert-json", "1.0.0"))]
    )
    assert cache.commit_of("main") == COMMIT  # the update went through
    assert [r.version for r in cache.releases_for("expert-json")] == ["1.0.0"]
    with pytest.raises(IndexDataError, match="upgrade hxpm") as info:
        cache.releases_for("expert-sql")
    assert info.value.exit_code == 5
    assert "index main: experts/ex/pe/expert-sql line 2" in info.value.message
    assert {h.name for h in cache.search("")} == {"expert-json", "expert-sql"}  # display only


def test_search_over_unchecked_files_is_display_only_and_corrected_on_first_use(
    cache: IndexCache,
) -> None:
    # out of version order (hand-edited), hostile field types, and a file of garbage
    sql = (
        compact(line_doc("expert-sql", "0.2.0"))
        + "\n"
        + compact(line_doc("expert-sql", "0.1.0", description="older"))
        + "\n"
    )
    odd = line_doc("expert-odd", "1.0.0", capabilities=["tech:sql"])
    odd["description"], odd["capabilities"] = {"x": 1}, ["tech:sql", 7, None]
    cache.replace_index_files(
        "main",
        COMMIT,
        [
            (shard_path("expert-sql"), sql.encode()),
            (shard_path("expert-odd"), (compact(odd) + "\n").encode()),
            (shard_path("expert-junk"), b"\xff[[[not json\n" + b"[" * 100_000 + b"\n"),
        ],
    )
    hits = {h.name: h for h in cache.search("")}
    assert hits["expert-sql"].version == "0.1.0" and hits["expert-sql"].description == "older"
    assert hits["expert-odd"].description == "" and hits["expert-odd"].capabilities == ("tech:sql",)
    assert hits["expert-junk"].version == "" and cache.search("sql", capability="tech:sql")
    cache.releases_for("expert-sql")  # checked: search now shows what install would pick
    assert cache.search("sql")[0].version == "0.2.0"
    with pytest.raises(IndexDataError):
        cache.releases_for("expert-odd")


def test_a_damaged_record_is_an_index_data_error_naming_the_rebuild(cache: IndexCache) -> None:
    with pytest.raises(IndexDataError, match="does not read back") as info:
        line_from_verified('{"v":1}', where="index cache main: expert-sql 0.1.0")
    assert "index update" in (info.value.hint or "")


# --- the (path, bytes) API -----------------------------------------------------------------


def test_files_api_checks_shards_and_handles_deletes(cache: IndexCache) -> None:
    sql, js = shard_path("expert-sql"), shard_path("expert-json")
    n = cache.replace_index_files(
        "main",
        COMMIT,
        [
            ("experts/.keep", b""),
            (sql, expert_file("expert-sql", "0.1.0")),
            (js, expert_file("expert-json", "1.0.0")),
        ],
    )
    assert n == 2 and cache.names() == ["expert-json", "expert-sql"]
    with pytest.raises(IndexDataError, match="not where an expert named"):
        cache.update_index_files(
            "main", OTHER, [("experts/ex/zz/expert-sql", expert_file("expert-sql", "9.0.0"))]
        )
    assert cache.commit_of("main") == COMMIT
    cache.update_index_files("main", COMMIT, [(sql, expert_file("expert-json", "2.0.0"))])
    with pytest.raises(IndexDataError, match="lists expert-sql only"):  # at first use
        cache.releases_for("expert-sql")
    cache.update_index_files(
        "main", OTHER, [(js, None), (sql, expert_file("expert-sql", "0.1.0", "0.2.0"))]
    )
    assert cache.names() == ["expert-sql"] and cache.commit_of("main") == OTHER
    assert [r.version for r in cache.releases_for("expert-sql")] == ["0.1.0", "0.2.0"]
    assert cache.search("sql")[0].version == "0.2.0"


def test_candidate_from_release_equals_candidate_from_line(cache: IndexCache) -> None:
    data = expert_file(
        "expert-sql",
        "1.2.0",
        # A range may hold a newline or tab between its clauses (the parser allows any
        # whitespace there): the compact form must not split on it.
        requires=["expert-json@^1.0", "expert-csv@>=0.2,\n\t<0.5"],
        incompatible_with=["expert-old@<2"],
        max_chain=7,
        load_order=3,
        bases=(BASE, "hxpm/tiny-qwen3"),
    )
    cache.replace_index_files("main", COMMIT, [(shard_path("expert-sql"), data)])
    (release,) = cache.releases_for("expert-sql")
    # The compact columns (schema 4) give back every item, in order.
    assert release.requires == ("expert-json@^1.0", "expert-csv@>=0.2,\n\t<0.5")
    assert release.incompatible_with == ("expert-old@<2",)
    assert release.bases == ((BASE, h(BASE)), ("hxpm/tiny-qwen3", h("hxpm/tiny-qwen3")))
    (cached,) = cache.lines_for("expert-sql")
    from_release = candidate_from_release(cache, release)
    from_line = candidate_from_line("main", cached.line)
    assert from_release == from_line
    assert from_release.payload.line == from_line.payload.line


# --- migration from schema 1 ---------------------------------------------------------------

_V1 = (
    "CREATE TABLE indexes (name TEXT PRIMARY KEY, head TEXT NOT NULL, updated_at TEXT NOT NULL)",
    (
        "CREATE TABLE lines (name TEXT NOT NULL, idx TEXT NOT NULL, version TEXT NOT NULL, "
        "line TEXT NOT NULL)"
    ),
    "CREATE UNIQUE INDEX lines_by_name ON lines (name, idx, version)",
)


def _v1_cache(path: Path, line: str) -> None:
    conn = sqlite3.connect(path)
    for statement in _V1:
        conn.execute(statement)
    conn.execute("INSERT INTO indexes VALUES ('main', ?, '2026-01-01T00:00:00Z')", (COMMIT,))
    conn.execute("INSERT INTO lines VALUES ('expert-sql', 'main', '0.1.0', ?)", (line,))
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()


def test_a_schema_1_cache_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "index-cache.sqlite"
    _v1_cache(path, line_text("expert-sql", "0.1.0", requires=["expert-json@^1.0"]))
    with IndexCache(path) as cache:
        (release,) = cache.releases_for("expert-sql")
        assert release.requires == ("expert-json@^1.0",) and cache.commit_of("main") == COMMIT
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_schema_1_cache_with_a_bad_line_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "index-cache.sqlite"
    _v1_cache(path, '{"v":1,"name":"expert-sql"}')
    with IndexCache(path) as cache:
        assert cache.indexes() == [] and cache.releases_for("expert-sql") == []


def test_a_schema_2_cache_keeps_its_verified_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "index-cache.sqlite"
    with IndexCache(path) as cache:
        cache.replace_index_files(
            "main", COMMIT, [(shard_path("expert-sql"), expert_file("expert-sql", "0.1.0"))]
        )
        cache.releases_for("expert-sql")
    conn = sqlite3.connect(path)  # what schema 2 looked like: no files table, JSON columns
    _json_columns(conn)
    conn.execute("DROP TABLE files")
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()
    calls = _count_strict_parses(monkeypatch)
    with IndexCache(path) as cache:
        assert [c.line.name for c in cache.lines_for("expert-sql")] == ["expert-sql"]
        cache.update_index_files(
            "main", OTHER, [(shard_path("expert-json"), expert_file("expert-json", "1.0.0"))]
        )
        assert calls == [] and cache.names() == ["expert-json", "expert-sql"]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _json_columns(conn: sqlite3.Connection) -> None:
    """Rewrite the resolution columns as schemas 2 and 3 stored them: JSON arrays."""
    rows = conn.execute("SELECT rowid, requires, incompatible, bases FROM lines").fetchall()
    for rowid, requires, incompatible, bases in rows:
        conn.execute(
            "UPDATE lines SET requires = ?, incompatible = ?, bases = ? WHERE rowid = ?",
            (
                json.dumps(requires.split("\x00") if requires else []),
                json.dumps(incompatible.split("\x00") if incompatible else []),
                json.dumps([pair.split("\t") for pair in bases.split("\x00")]),
                rowid,
            ),
        )


def _schema_3_cache(path: Path, bases: str | None = None) -> None:
    with IndexCache(path) as cache:
        data = expert_file("expert-sql", "0.1.0", "0.2.0", requires=["expert-json@^1.0"])
        cache.replace_index_files("main", COMMIT, [(shard_path("expert-sql"), data)])
        cache.releases_for("expert-sql")  # checked: verified records with columns
    conn = sqlite3.connect(path)
    _json_columns(conn)
    if bases is not None:
        conn.execute("UPDATE lines SET bases = ?", (bases,))
    conn.execute("PRAGMA user_version=3")
    conn.commit()
    conn.close()


def test_the_compact_separator_is_refused_inside_every_requirement() -> None:
    # The schema 4 columns join requirements with NUL; the parser refusing it anywhere is
    # what makes that join reversible (a NUL inside one would read back as two).
    for text in ("expert-a@>=1.0,\x00<2", "expert-a\x00", "github.com/u/ex\x00pert@>=0.4"):
        with pytest.raises(HxpmError):
            parse_requirement(text)
    assert parse_requirement("expert-a@>=1.0,\n<2").raw == "expert-a@>=1.0,\n<2"


def test_a_schema_3_cache_gets_compact_columns_without_rechecking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "index-cache.sqlite"
    _schema_3_cache(path)
    stored = sqlite3.connect(path).execute("SELECT requires, bases FROM lines").fetchall()
    assert stored[0][0] == '["expert-json@^1.0"]'  # the JSON form schema 3 wrote
    calls = _count_strict_parses(monkeypatch)
    with IndexCache(path) as cache:
        releases = sorted(cache.releases_for("expert-sql"), key=lambda r: r.version)
        assert [r.version for r in releases] == ["0.1.0", "0.2.0"]
        assert all(r.requires == ("expert-json@^1.0",) for r in releases)
        assert all(r.bases == ((BASE, h(BASE)),) for r in releases)
        assert calls == [] and cache.commit_of("main") == COMMIT
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT requires FROM lines").fetchone()[0] == "expert-json@^1.0"
    assert conn.execute("SELECT bases FROM lines").fetchone()[0] == f"{BASE}\t{h(BASE)}"


def test_a_schema_3_cache_whose_columns_do_not_convert_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "index-cache.sqlite"
    _schema_3_cache(path, bases='[["Qwen/Qwen3-0.6B"]]')  # a pair without its digest
    with IndexCache(path) as cache:
        assert cache.indexes() == [] and cache.releases_for("expert-sql") == []
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


# --- one tree walk -------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
            "HOME": str(repo),
        },
    ).stdout.strip()


def test_tree_walk_reads_what_path_lookups_read(tmp_path: Path) -> None:
    repo = tmp_path / "idx"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for name in ("expert-sql", "expert-json", "ab", "xyz"):
        (repo / shard_path(name)).parent.mkdir(parents=True, exist_ok=True)
        (repo / shard_path(name)).write_bytes(f"{name}\n".encode())
    (repo / "experts" / ".keep").write_bytes(b"")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one")
    old = _git(repo, "rev-parse", "HEAD")
    (repo / shard_path("expert-sql")).write_bytes(b"changed\n")
    (repo / shard_path("ab")).unlink()
    (repo / shard_path("new")).parent.mkdir(parents=True, exist_ok=True)
    (repo / shard_path("new")).write_bytes(b"new\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "two")
    new = _git(repo, "rev-parse", "HEAD")
    walked = list(git.iter_files(repo, new, "experts/", max_bytes=1 << 20))
    looked_up = [
        (p, git.read_file(repo, new, p, max_bytes=1 << 20))
        for p in git.list_tree(repo, new, "experts/")
    ]
    assert walked == looked_up and len(walked) == 5
    changed = list(git.iter_changed_files(repo, old, new, "experts/", max_bytes=1 << 20))
    assert [p for p, _ in changed] == git.changed_paths(repo, old, new, "experts/")
    assert dict(changed) == {
        shard_path("ab"): None,
        shard_path("expert-sql"): b"changed\n",
        shard_path("new"): b"new\n",
    }


def test_tree_walk_in_a_packed_repository_reads_sizes_from_headers(tmp_path: Path) -> None:
    repo = tmp_path / "idx"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    written = {
        shard_path(f"expert-{i:03d}"): expert_file(f"expert-{i:03d}", "0.1.0", "0.2.0")
        for i in range(30)
    }  # similar files: the pack stores most of them as deltas
    for path, data in written.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)
    big = shard_path("expert-big")
    (repo / big).parent.mkdir(parents=True, exist_ok=True)
    (repo / big).write_bytes(b"x" * 70_000)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one")
    _git(repo, "gc", "-q", "--aggressive")
    assert not list((repo / ".git" / "objects").glob("??/*"))  # everything is packed
    head = _git(repo, "rev-parse", "HEAD")
    from hxpm.index._gitlocal import ObjectSizes, get_commit, object_size, open_repo, walk_entries

    with open_repo(repo) as r, ObjectSizes(r) as sizes:
        for _, _, sha in walk_entries(r, get_commit(r, head).tree, b""):
            assert sizes(sha) == object_size(r, sha) == len(r.object_store[sha].as_raw_string())
    walked = dict(git.iter_files(repo, head, "experts/", max_bytes=1 << 20))
    assert walked == {**written, big: b"x" * 70_000}
    from hxpm.errors import IntegrityError

    with pytest.raises(IntegrityError, match="at most 65536 bytes, got 70000"):
        list(git.iter_files(repo, head, "experts/", max_bytes=65536))
