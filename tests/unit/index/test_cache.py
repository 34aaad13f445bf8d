"""The local index cache: one SQLite file, replaced/updated per index, searched with FTS5."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hxpm.errors import IndexDataError, StoreError, UsageError
from hxpm.index.cache import SCHEMA_VERSION, IndexCache
from hxpm.index.model import VersionLine
from hxpm.index.search_query import EXACT_BONUS
from tests.unit.index import COMMIT, make_line

OTHER_COMMIT = "b" * 40


def expert(name: str, *versions: str, yanked: tuple[str, ...] = (), **kw: Any) -> list[VersionLine]:
    return [make_line(name, v, **kw).with_yanked(v in yanked) for v in versions]


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[IndexCache]:
    c = IndexCache(tmp_path / "store" / "index-cache.sqlite")
    yield c
    c.close()


def versions(cached: list[Any]) -> list[tuple[str, str]]:
    return [(c.index, str(c.line.version)) for c in cached]


# --- replace / update / drop -----------------------------------------------------------------


def test_replace_then_read_back(cache: IndexCache, tmp_path: Path) -> None:
    lines = expert("expert-sql", "0.2.0", "0.10.0", "0.1.0") + expert("expert-json", "1.0.0")
    cache.replace_index("main", COMMIT, lines)
    assert cache.commit_of("main") == COMMIT and cache.commit_of("other") is None
    assert versions(cache.lines_for("expert-sql")) == [
        ("main", "0.1.0"),
        ("main", "0.2.0"),
        ("main", "0.10.0"),
    ]
    assert cache.lines_for("expert-sql")[0].line == lines[2]  # the very same line back
    assert cache.lines_for("expert-nothing") == []
    assert cache.names() == ["expert-json", "expert-sql"] and cache.indexes() == ["main"]
    cache.close()
    with IndexCache(tmp_path / "store" / "index-cache.sqlite") as again:  # it persists
        assert again.names("main") == ["expert-json", "expert-sql"]


def test_replace_drops_what_the_index_no_longer_lists(cache: IndexCache) -> None:
    cache.replace_index(
        "main", COMMIT, expert("expert-sql", "0.1.0") + expert("expert-old", "1.0.0")
    )
    cache.replace_index("main", OTHER_COMMIT, expert("expert-sql", "0.2.0"))
    assert versions(cache.lines_for("expert-sql")) == [("main", "0.2.0")]
    assert cache.names() == ["expert-sql"] and cache.search("old") == []
    assert cache.commit_of("main") == OTHER_COMMIT


def test_lines_for_across_two_indexes(cache: IndexCache) -> None:
    cache.replace_index("main", COMMIT, expert("expert-sql", "0.1.0", "0.2.0"))
    cache.replace_index("acme", OTHER_COMMIT, expert("expert-sql", "0.2.0", "0.3.0"))
    assert versions(cache.lines_for("expert-sql")) == [
        ("acme", "0.2.0"),
        ("acme", "0.3.0"),
        ("main", "0.1.0"),
        ("main", "0.2.0"),
    ]
    assert versions(cache.lines_for("expert-sql", index="main")) == [
        ("main", "0.1.0"),
        ("main", "0.2.0"),
    ]
    assert cache.names() == ["expert-sql"] and cache.names("acme") == ["expert-sql"]
    hits = cache.search("sql")
    assert [(h.index, h.version) for h in hits] == [("acme", "0.3.0"), ("main", "0.2.0")]


def test_update_changes_only_the_named_experts(cache: IndexCache) -> None:
    cache.replace_index(
        "main",
        COMMIT,
        expert("expert-sql", "0.1.0")
        + expert("expert-json", "1.0.0")
        + expert("expert-gone", "1.0.0"),
    )
    cache.replace_index("acme", COMMIT, expert("expert-gone", "2.0.0"))
    cache.update_index(
        "main",
        OTHER_COMMIT,
        {
            "expert-sql": expert("expert-sql", "0.1.0", "0.2.0", yanked=("0.1.0",)),
            "expert-gone": [],
            "expert-new": expert("expert-new", "0.0.1"),
        },
    )
    assert cache.commit_of("main") == OTHER_COMMIT and cache.commit_of("acme") == COMMIT
    assert [c.line.yanked for c in cache.lines_for("expert-sql")] == [True, False]
    assert cache.names("main") == ["expert-json", "expert-new", "expert-sql"]
    assert versions(cache.lines_for("expert-gone")) == [("acme", "2.0.0")]  # other index kept
    assert [h.version for h in cache.search("expert-sql")][:1] == ["0.2.0"]
    assert [h.name for h in cache.search("new")] == ["expert-new"]


def test_update_refuses_lines_filed_under_another_name(cache: IndexCache) -> None:
    cache.replace_index("main", COMMIT, expert("expert-sql", "0.1.0"))
    with pytest.raises(IndexDataError, match="include a line for expert-json"):
        cache.update_index("main", OTHER_COMMIT, {"expert-sql": expert("expert-json", "1.0.0")})
    assert cache.commit_of("main") == COMMIT


def test_failed_replace_leaves_the_old_rows(cache: IndexCache) -> None:
    cache.replace_index("main", COMMIT, expert("expert-sql", "0.1.0"))
    twice = expert("expert-json", "1.0.0") + expert("expert-json", "1.0.0")
    with pytest.raises(IndexDataError, match=r"expert-json 1\.0\.0 is listed twice"):
        cache.replace_index("main", OTHER_COMMIT, twice)
    assert cache.commit_of("main") == COMMIT and cache.names() == ["expert-sql"]


def test_drop_index(cache: IndexCache) -> None:
    cache.replace_index("main", COMMIT, expert("expert-sql", "0.1.0"))
    cache.replace_index("acme", COMMIT, expert("expert-sql", "0.5.0"))
    cache.drop_index("acme")
    assert cache.commit_of("acme") is None and cache.indexes() == ["main"]
    assert versions(cache.lines_for("expert-sql")) == [("main", "0.1.0")]
    assert [h.index for h in cache.search("sql")] == ["main"]
    cache.drop_index("never-there")  # no error


@pytest.mark.parametrize(("index", "commit"), [("", COMMIT), ("main", "HEAD"), ("main", "A" * 40)])
def test_bad_index_name_or_commit_is_a_usage_error(
    cache: IndexCache, index: str, commit: str
) -> None:
    with pytest.raises(UsageError):
        cache.replace_index(index, commit, [])


# --- search ----------------------------------------------------------------------------------


@pytest.fixture
def ranked(cache: IndexCache) -> IndexCache:
    lines = (
        expert(
            "expert-notes",
            "1.0.0",
            description="Keeps notes; can export them as SQL",
            capabilities=["task:notes"],
            routing={"keywords": ["notes"]},
        )
        + expert(
            "expert-db",
            "1.0.0",
            description="Database helper",
            capabilities=["tech:database"],
            routing={"keywords": ["sql", "database"]},
        )
        + expert(
            "expert-sqlite",
            "1.0.0",
            description="SQLite dialect",
            capabilities=["tech:sqlite"],
            routing={"keywords": ["sqlite"]},
        )
        + expert(
            "expert-sql",
            "0.1.0",
            "0.2.0",
            "0.3.0-rc.1",
            description="Writes SQL queries",
            capabilities=["tech:sql", "format:sql"],
            routing={"keywords": ["select"]},
        )
        + expert(
            "expert-cypher",
            "1.0.0",
            description="Graph queries for Neo4j",
            capabilities=["tech:cypher", "format:graph"],
            routing={"keywords": ["graph"]},
        )
        + expert(
            "expert-cafe",
            "1.0.0",
            description="Menus du café, 日本語 too",
            capabilities=["lang:fr"],
            routing={"keywords": ["menu"]},
        )
        # A bare capability, as the older tool's expert-typescript manifest has.
        + expert(
            "expert-ts",
            "1.0.0",
            description="TypeScript",
            capabilities=["code-generation"],
            routing={"keywords": ["typescript"]},
        )
    )
    cache.replace_index("main", COMMIT, lines)
    return cache


def test_ranking_exact_then_prefix_then_keyword_then_description(ranked: IndexCache) -> None:
    hits = ranked.search("sql")
    assert [h.name for h in hits] == ["expert-sql", "expert-sqlite", "expert-db", "expert-notes"]
    assert hits[0].score >= EXACT_BONUS
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert ranked.search("Expert-SQL")[0].name == "expert-sql"  # full name, any case
    # A hyphenated word is a phrase: "expert" followed by a word starting with "sq".
    assert {h.name for h in ranked.search("expert-sq")} == {"expert-sql", "expert-sqlite"}


def test_hit_describes_the_newest_stable_version(ranked: IndexCache) -> None:
    hit = ranked.search("sql")[0]
    assert (hit.name, hit.version, hit.index) == ("expert-sql", "0.2.0", "main")
    assert hit.description == "Writes SQL queries"
    assert hit.capabilities == ("tech:sql", "format:sql") and hit.keywords == ("select",)


def test_yanked_versions_are_not_shown_unless_all_are(cache: IndexCache) -> None:
    cache.replace_index(
        "main",
        COMMIT,
        expert("expert-a", "1.0.0", "1.1.0", yanked=("1.1.0",))
        + expert("expert-b", "1.0.0", "2.0.0", yanked=("1.0.0", "2.0.0"))
        + expert("expert-c", "1.0.0-rc.1"),
    )
    assert {h.name: h.version for h in cache.search("")} == {
        "expert-a": "1.0.0",
        "expert-b": "2.0.0",
        "expert-c": "1.0.0-rc.1",
    }


def test_words_are_prefixes_and_all_must_match(ranked: IndexCache) -> None:
    assert [h.name for h in ranked.search("cyph")] == ["expert-cypher"]
    assert [h.name for h in ranked.search("graph neo4j")] == ["expert-cypher"]
    assert ranked.search("graph sqlite") == []
    assert [h.name for h in ranked.search("cafe")] == ["expert-cafe"]  # diacritics folded
    assert [h.name for h in ranked.search("CAFÉ")] == ["expert-cafe"]
    assert [h.name for h in ranked.search("日本語")] == ["expert-cafe"]


def test_empty_term_lists_everything_by_name(ranked: IndexCache) -> None:
    names = [h.name for h in ranked.search("   ")]
    assert names == sorted(names) and len(names) == 7
    assert [h.name for h in ranked.search("", limit=2)] == names[:2]
    assert ranked.search("", limit=0) == []


@pytest.mark.parametrize("term", ["***", "--", '"', "()", "  :  ", "_"])
def test_punctuation_only_finds_nothing(ranked: IndexCache, term: str) -> None:
    assert ranked.search(term) == []


@pytest.mark.parametrize(
    ("capability", "names"),
    [
        ("tech:sql", ["expert-sql"]),
        ("TECH:SQL", ["expert-sql"]),
        ("sql", ["expert-sql"]),  # the value part
        ("graph", ["expert-cypher"]),
        ("tech:", ["expert-cypher", "expert-db", "expert-sql", "expert-sqlite"]),
        ("format:", ["expert-cypher", "expert-sql"]),
        ("tech:nosuch", []),
        ("nosuch:", []),
        ("code-generation", ["expert-ts"]),  # a bare word is found by its value
        ("code-generation:", []),
    ],
)
def test_capability_filter(ranked: IndexCache, capability: str, names: list[str]) -> None:
    assert [h.name for h in ranked.search("", capability=capability)] == names


def test_capability_filter_with_a_term(ranked: IndexCache) -> None:
    assert [h.name for h in ranked.search("sql", capability="tech:")] == [
        "expert-sql",
        "expert-sqlite",
        "expert-db",
    ]


def test_index_filter(ranked: IndexCache) -> None:
    ranked.replace_index("acme", OTHER_COMMIT, expert("expert-sql", "9.0.0"))
    assert [(h.index, h.version) for h in ranked.search("expert-sql", indexes=["acme"])] == [
        ("acme", "9.0.0")
    ]
    assert len(ranked.search("expert-sql", indexes=["acme", "main"])) >= 2
    assert ranked.search("sql", indexes=[]) == []
    # Ties between indexes are broken by index name.
    assert [h.index for h in ranked.search("expert-sql")][:2] == ["acme", "main"]


HOSTILE = [
    '"',
    '""',
    '"sql',
    'sql"',
    "*",
    "sql*",
    "**",
    "OR",
    "AND",
    "NOT",
    "NEAR",
    "sql OR json",
    "NOT sql",
    "NEAR(sql cypher)",
    "sql AND",
    "name:sql",
    "description:x",
    "{name}:sql",
    "^sql",
    "-sql",
    "+sql",
    "(sql",
    "sql)",
    "'",
    "\\",
    "%",
    "_sql%",
    "\x00",
    "\x00sql",
    "sql\x00",
    "ü",
    "日本語",
    "😀",
    "\u202e",
    "\ud800",
    "a" * 10_000,
    "sql " * 2_500,
    "\t\n\r",
    "🙂 OR sql",
    "sql\ud800",
    "\ud800sql\udfff",
    "col:*",
    "x:" * 500,
    '"*"*',
    "NEAR(a b, 1)",
    "sql -json",
]


@pytest.mark.parametrize("term", HOSTILE, ids=lambda t: repr(t[:20]))
def test_hostile_terms_never_raise(ranked: IndexCache, term: str) -> None:
    hits = ranked.search(term)
    assert isinstance(hits, list)
    assert ranked.search(term, capability=term) is not None  # the filter is data, too
    assert ranked.search(term, indexes=[term, "main"]) is not None


def test_operators_are_words_not_syntax(ranked: IndexCache) -> None:
    assert ranked.search("sql OR nosuchword") == []  # OR is a word that must match too
    assert [h.name for h in ranked.search('"select"')] == ["expert-sql"]
    assert [h.name for h in ranked.search("select*")] == ["expert-sql"]
    assert ranked.search("description:graph") == []  # not a column filter: two words
    assert ranked.search("NEAR(graph neo4j)") == []  # not NEAR: the word "near" is missing


# --- the file itself ---------------------------------------------------------------------------


def test_a_cache_from_a_newer_hxpm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "index-cache.sqlite"
    IndexCache(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"newer|schema") as info:
        IndexCache(path)
    assert info.value.exit_code == 7 and "index update" in (info.value.hint or "")


def test_an_older_cache_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "index-cache.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE lines (junk TEXT)")
    conn.execute("PRAGMA user_version=0")
    conn.commit()
    conn.close()
    with IndexCache(path) as cache:
        cache.replace_index("main", COMMIT, expert("expert-sql", "0.1.0"))
        assert cache.names() == ["expert-sql"]


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "index-cache.sqlite"
    path.write_bytes(b"this is not sqlite, just text " * 100)
    with pytest.raises(StoreError, match="cannot open") as info:
        IndexCache(path)
    assert str(path) in (info.value.hint or "")


def test_use_after_close_is_a_store_error(tmp_path: Path) -> None:
    cache = IndexCache(tmp_path / "c.sqlite")
    cache.close()
    cache.close()
    with pytest.raises(StoreError, match="after close"):
        cache.search("x")


def test_a_damaged_line_in_the_cache_is_index_data_error(cache: IndexCache) -> None:
    cache.replace_index("main", COMMIT, expert("expert-sql", "0.1.0"))
    conn = sqlite3.connect(cache.path)
    conn.execute("UPDATE lines SET line = '{\"v\":1}'")
    conn.commit()
    conn.close()
    with pytest.raises(IndexDataError, match=r"index cache main: expert-sql 0\.1\.0"):
        cache.lines_for("expert-sql")
