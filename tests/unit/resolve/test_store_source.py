"""Candidates from the index cache are built lazily and read ahead (issue 9): the resolver
gets the same answer as from eagerly parsed lines, parses only the versions it looks at,
and a closure takes a few statements.

Real parts: real signed lines (tests/unit/index helpers), a real SQLite index cache and a
real store; the resolver is the real one.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hxpm.core.versions import Requirement, Version, parse_requirement
from hxpm.errors import HxpmError, InvalidRequirementError
from hxpm.index.cache import IndexCache
from hxpm.index.model import shard_path
from hxpm.resolve import Candidate, InMemorySource, resolve
from hxpm.services.candidates import IndexPayload, StoreSource, candidate_from_line
from hxpm.services.plan import PlanOptions, plan_install
from hxpm.store.paths import StorePaths
from hxpm.store.store import Store
from tests.unit.index import BASE, COMMIT, line_doc

Graph = dict[str, dict[str, list[str]]]  # name -> version -> requires


def _file(name: str, versions: dict[str, list[str]]) -> bytes:
    docs = [line_doc(name, v, requires=reqs, max_chain=64) for v, reqs in versions.items()]
    return b"".join(json.dumps(d, separators=(",", ":")).encode() + b"\n" for d in docs)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(StorePaths(tmp_path / "home"))
    yield s
    s.close()


def _cache_with(store: Store, graph: Graph) -> IndexCache:
    cache = IndexCache(store.paths.index_cache)
    files = [(shard_path(n), _file(n, versions)) for n, versions in graph.items()]
    cache.replace_index_files("main", COMMIT, files)
    return cache


def _selects(cache: IndexCache) -> list[str]:
    seen: list[str] = []
    cache._db.set_trace_callback(seen.append)  # the test's window into the one connection
    return seen


def _resolve(roots: Sequence[str], source: Any) -> dict[str, str]:
    found = resolve([parse_requirement(r) for r in roots], source, base_model=BASE)
    return {c.name: str(c.version) for c in found.experts}


# --- a candidate parsed later is the same value -----------------------------------------------


def _later(parse: Any) -> Candidate:
    return Candidate.with_parsed_later(
        "expert-a",
        Version.parse("1.0.0"),
        parse,
        load_order=5,
        max_chain=10,
        base_models=((BASE, ""),),
        yanked=False,
        origin="main",
        payload=None,
    )


def test_requirements_are_parsed_on_first_read_only() -> None:
    calls: list[int] = []
    requires = (parse_requirement("expert-b@^1.0"),)
    excluded = (parse_requirement("expert-c@<2"),)

    def parse() -> tuple[tuple[Requirement, ...], tuple[Requirement, ...]]:
        calls.append(1)
        return requires, excluded

    later = _later(parse)
    assert calls == []
    assert later.incompatible_with == excluded and later.requires == requires
    assert calls == [1]  # both fields from one parse, kept
    eager = Candidate(
        "expert-a",
        Version.parse("1.0.0"),
        requires,
        excluded,
        load_order=5,
        base_models=((BASE, ""),),
        origin="main",
    )
    assert later == eager and hash(later) == hash(eager) and repr(later) == repr(eager)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        later.nonexistent  # type: ignore[attr-defined]  # noqa: B018


def test_a_bad_requirement_raises_at_every_read_and_nothing_is_kept() -> None:
    def parse() -> tuple[tuple[Requirement, ...], tuple[Requirement, ...]]:
        raise InvalidRequirementError("requires[0]: expected a requirement, got 'Bad Name!'")

    later = _later(parse)
    assert later.name == "expert-a"  # the rest of the candidate reads as usual
    for _ in range(2):
        with pytest.raises(InvalidRequirementError, match=r"requires\[0\]"):
            later.requires  # noqa: B018


# --- the store source over a real cache ---------------------------------------------------------


def _tree(fanout: int, depth: int) -> tuple[Graph, list[str]]:
    """A root requiring ``fanout`` names, each requiring ``fanout`` more, ``depth`` levels;
    every name has an older version requiring nothing."""
    graph: Graph = {}
    level = ["expert-root"]
    for d in range(depth + 1):
        below = [f"expert-d{d}-{i:02d}" for i in range(len(level) * fanout)] if d < depth else []
        for at, name in enumerate(level):
            kids = below[at * fanout : (at + 1) * fanout]
            graph[name] = {"0.1.0": [], "1.0.0": [f"{k}@>=1.0.0" for k in kids]}
        level = below
    return graph, ["expert-root"]


def test_a_closure_is_read_ahead_in_a_statement_pair_per_level(store: Store) -> None:
    graph, roots = _tree(fanout=4, depth=2)  # 1 + 4 + 16 names
    with _cache_with(store, graph) as cache:
        cache.releases_for_names(list(graph))  # check every file once, as a first run does
        seen = _selects(cache)
        got = _resolve(roots, StoreSource(store, cache))
    assert got == dict.fromkeys(graph, "1.0.0")
    reads = [s for s in seen if "FROM lines" in s or "FROM files" in s]
    # 3 levels, two statements each; one pin at a time took one or two per pinned name
    assert len(reads) <= 6, reads


def test_only_the_versions_the_resolver_tries_are_parsed(store: Store) -> None:
    graph, roots = _tree(fanout=3, depth=1)
    with _cache_with(store, graph) as cache:
        source = StoreSource(store, cache)
        _resolve(roots, source)
        listed = [c for name in graph for c in source.candidates_for(name)]
    parsed = [c for c in listed if c._parse_later is None]
    assert {(c.name, str(c.version)) for c in parsed} == {(n, "1.0.0") for n in graph}
    assert len(listed) == 2 * len(graph)


def test_a_damaged_requirement_breaks_only_a_version_the_resolver_looks_at(
    store: Store,
) -> None:
    graph: Graph = {"expert-a": {"0.1.0": [], "1.0.0": []}, "expert-b": {"1.0.0": []}}
    with _cache_with(store, graph) as cache:
        cache.releases_for_names(list(graph))
        conn = sqlite3.connect(cache.path)  # someone edits the cache behind hxpm's back
        conn.execute("UPDATE lines SET requires = 'Bad Name!' WHERE version = '0.1.0'")
        conn.commit()
        conn.close()
        assert _resolve(["expert-a", "expert-b"], StoreSource(store, cache)) == {
            "expert-a": "1.0.0",
            "expert-b": "1.0.0",
        }
        with pytest.raises(HxpmError, match=r"requires\[0\]"):
            _resolve(["expert-a@0.1.0", "expert-b"], StoreSource(store, cache))


def _random_graph(rng: random.Random, names: int) -> Graph:
    """Names require later names, at ranges over versions that exist (some exclusive, so
    that some pins must be undone and some requests conflict)."""
    graph: Graph = {}
    for i in reversed(range(names)):
        versions: dict[str, list[str]] = {}
        for major in range(rng.randint(1, 4)):
            later = [f"expert-r{d:02d}" for d in range(i + 1, names)]
            requires = []
            for dep in rng.sample(later, k=min(rng.randint(0, 3), len(later))):
                known = sorted(graph[dep], key=Version.parse)
                at = rng.randrange(len(known))
                above = known[at + 1 :]
                top = f",<{rng.choice(above)}" if above and rng.random() < 0.4 else ""
                requires.append(f"{dep}@>={known[at]}{top}")
            versions[f"{major}.{rng.randint(0, 2)}.0"] = requires
        graph[f"expert-r{i:02d}"] = versions
    return graph


def _answer(roots: Sequence[str], source: Any) -> dict[str, str] | str:
    try:
        return _resolve(roots, source)
    except HxpmError as exc:
        return f"{type(exc).__name__}: {exc.message}"


@pytest.mark.parametrize("seed", range(8))
def test_the_store_source_answers_as_eagerly_built_candidates_do(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    graph = _random_graph(rng, 24)
    roots = [f"expert-r{i:02d}" for i in rng.sample(range(8), k=3)]
    with _cache_with(store, graph) as cache:
        lines = [cached for name in graph for cached in cache.lines_for(name)]
        eager = InMemorySource(candidate_from_line(c.index, c.line) for c in lines)
        assert _answer(roots, StoreSource(store, cache)) == _answer(roots, eager)


# --- a dry run reads no whole line ---------------------------------------------------------------


def test_a_plan_only_shown_reads_no_whole_line(store: Store) -> None:
    graph, roots = _tree(fanout=2, depth=1)
    _cache_with(store, graph).close()
    shown = plan_install(store, roots, PlanOptions(base=BASE, read_lines=False))
    applied = plan_install(store, roots, PlanOptions(base=BASE))
    assert [(s.action, s.candidate) for s in shown.steps] == [
        (s.action, s.candidate) for s in applied.steps
    ]
    for shown_step, applied_step in zip(shown.steps, applied.steps, strict=True):
        assert isinstance(shown_step.candidate.payload, IndexPayload)
        assert not shown_step.candidate.payload.loaded
        assert applied_step.candidate.payload.loaded  # what apply and lock files read
