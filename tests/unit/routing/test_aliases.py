"""Matching that survives real phrasing: aliases, word forms, -ize/-ise (routing/aliases.py)."""

from __future__ import annotations

import pytest

from hxpm.routing import RouteCandidate, Router
from hxpm.routing.aliases import base_of_word_form

SQL = RouteCandidate(
    "expert-sql",
    "0.1.0",
    ("sql", "table", "query"),
    ("cypher", "neo4j"),
    0.85,
    ("tech:sql", "language:sql"),
)
CYPHER = RouteCandidate(
    "expert-cypher", "0.1.0", ("cypher", "graph"), ("sql",), 0.85, ("language:cypher",)
)
PY = RouteCandidate("expert-python", "0.1.0", ("python", "def"), ("rust",), 0.9, ("tech:python",))
JSON = RouteCandidate("expert-json", "0.1.0", ("json",), (), 0.7, ("format:json",))
CLS = RouteCandidate(
    "expert-classifier", "0.1.0", ("categorize", "class"), (), 0.9, ("task:classification",)
)
ROUTER = Router([SQL, CYPHER, PY, JSON, CLS])


@pytest.mark.parametrize(
    ("prompt", "expected", "evidence"),
    [
        ("count customers per country in postgres", "expert-sql", "alias 'postgres'"),
        ("MySQL: newest five orders", "expert-sql", "alias 'mysql'"),
        ("sqlite3 command for the newest rows", "expert-sql", "alias 'sqlite' ('sqlite3')"),
        ("the T-SQL for yesterday's sales", "expert-sql", "matched keyword 'sql'"),
        ("newest rows in mssql", "expert-sql", "alias 'mssql'"),
        ("opencypher: count Team nodes", "expert-cypher", "alias 'opencypher'"),
        ("neo4j: list the people Alice knows", "expert-cypher", "alias 'neo4j'"),
        ("a python3 function reversing a string", "expert-python", "as 'python3'"),
        # ("make this loop pythonic", no loop shown, the intent model reads as general)
        ("a pythonic way to reverse a list", "expert-python", "alias 'pythonic'"),
        ("py function that squares x", "expert-python", "alias 'py'"),
        ("jsonify this record: red bag", "expert-json", "as 'jsonify'"),
        ("categorise these tickets", "expert-classifier", "as 'categorise'"),
    ],
)
def test_real_phrasing_reaches_the_expert(prompt: str, expected: str, evidence: str) -> None:
    d = ROUTER.route(prompt)
    assert d.chosen == expected, d.reason
    assert any(evidence in r for r in d.scores[0].reasons), d.scores[0].reasons


def test_an_alias_counts_once_with_its_keyword() -> None:
    both = ROUTER.route("postgres sql")
    one = ROUTER.route("sql")
    assert both.scores[0].keyword_hits == ("sql",)
    assert both.scores[0].score == one.scores[0].score


def test_word_forms_only_for_technology_names() -> None:
    # "class" is a keyword but no technology name: "classify" is not "class" + "ify". (CLS
    # also lists "categorize", whose task synonym "classify" is: test_shapes.py.)
    only_class = RouteCandidate("expert-x", "0.1.0", ("class",), (), 0.9)
    d = Router([only_class]).route("classify these")
    assert d.chosen is None
    assert base_of_word_form("classify") == ("class", "-ify form")  # the shape alone matches


def test_manifest_overrides_an_alias_by_excluding_it() -> None:
    # A SQL expert for one dialect only: "mysql" listed as an exclusion is never an alias.
    strict = RouteCandidate("expert-pg", "0.1.0", ("sql",), ("mysql",), 0.5, ("tech:sql",))
    d = Router([strict]).route("mysql query for orders")
    assert d.chosen is None
    assert any("excluded by 'mysql'" in r for r in d.scores[0].reasons)
    assert Router([strict]).route("postgres query for orders").chosen == "expert-pg"


def test_cypher_expert_excluding_sql_is_not_reached_by_sql_aliases() -> None:
    d = ROUTER.route("convert this postgres query to cypher")
    cypher = next(s for s in d.scores if s.name == "expert-cypher")
    assert cypher.excluded_by == ()  # aliases are evidence *for* an expert, never exclusions
    assert d.chosen in ("expert-sql", "expert-cypher")


@pytest.mark.parametrize("prompt", ["c3po is a droid", "h2 heading", "the i18n team"])
def test_version_suffix_needs_a_real_name(prompt: str) -> None:
    assert ROUTER.route(prompt).chosen is None
