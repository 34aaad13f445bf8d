"""The rules docs/routing.md added after the third blind set's first run (78 of 90, 8 general
prompts routed): a prompt *about* a technology (its price, a choice, a refusal of the
output, prose asked for) is not a request for an expert's output; a data format named as
the answer's ("as CSV") or as the input of a request in another language ("Go: read a JSON
file") is not the format expert's task; a heading "Go:" names the language; a summary is an
editing-like request.

Each rule is tried on prompts other than the blind set's, traps included, over the demo
experts as published (manifests plus profiles from their real training prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.artifacts import output_formats
from hxpm.routing.intent import about_request
from hxpm.routing.languages import programming_languages
from hxpm.routing.requests import editing_request
from hxpm.routing.shapes import language_shapes
from hxpm.routing.text import is_question, tokenize
from tests.unit.routing.test_shapes import _reasons, demo_router


def _about(prompt: str) -> str | None:
    tokens = tokenize(prompt)
    found = about_request(tokens, bool(language_shapes(tokens, prompt)), is_question(tokens))
    return None if found is None else found.reason


# --- about, not for ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("Does Postgres have a free tier on any cloud?", "price"),
        ("How much does a Rust certification cost?", "price"),
        ("What is the licensing of MySQL for commercial use?", "price"),
        ("Should I learn Cypher or SQL first?", "advice"),
        ("Is JSON or YAML better for config files?", "choice"),
        ("Describe the graph model for a library in prose, no Cypher.", "prose"),
        ("Describe the graph model for a library, no Cypher.", "refuses"),
        ("Look at my python loop and tell me what's slow, don't rewrite it", "refuses"),
        ("Sketch the tables for a blog just describe them", "prose"),
    ],
)
def test_about_markers(prompt: str, why: str) -> None:
    reason = _about(prompt)
    assert reason is not None and why in reason, reason


@pytest.mark.parametrize(
    "prompt",
    [
        "Sort the rows of invoices by price",  # a column, not what the technology costs
        "Which orders cost more than 100 in the orders table?",
        "Write a SQL query: which is better selling, product A or B?",  # asks for an artifact
        "fix this function but don't change its signature: def f(x): return x",  # constraint
        "Write a Cypher MATCH over the neo4j graph, not SQL",  # refuses SQL only (below)
    ],
)
def test_not_about(prompt: str) -> None:
    reason = _about(prompt)
    assert reason is None or "'not sql'" in reason, reason


@pytest.mark.parametrize(
    ("prompt", "chosen"),
    [
        ("How much does a Neo4j Aura instance cost per month?", None),
        ("Is Rust or Go better for a first systems language?", None),
        ("Explain the tables of a library schema in prose, no SQL", None),
        ("Review my Python for naming only, don't rewrite it: def f(a,b): return a+b", None),
        # Its own output is still its task; refusing SQL leaves the Cypher expert.
        ("Write a Cypher MATCH over the neo4j graph, not SQL", "expert-cypher"),
        ("write a sql query that lists the price of each product", "expert-sql"),
        ("Sort the rows of invoices by price", "expert-sql"),
    ],
)
def test_about_routes(prompt: str, chosen: str | None) -> None:
    assert demo_router().route(prompt).chosen == chosen


def test_explain_names_the_about_rule() -> None:
    reasons = _reasons("How much does Neo4j cost for a startup?", "expert-cypher")
    assert any("a prompt about the technology, not for its output" in r for r in reasons)


# --- data formats: the answer's, or another language's input ---------------------------------


def test_output_formats() -> None:
    assert output_formats(tokenize("export the list as CSV")) == {"csv": "csv"}
    assert output_formats(tokenize("print it in YAML please")) == {"yaml": "yaml"}
    assert output_formats(tokenize("read the csv file")) == {}  # the input


@pytest.mark.parametrize(
    ("prompt", "chosen"),
    [
        ("Make 5 rows of sample customers as CSV with columns id and city", None),
        ("Java: how do I parse a JSON string into a map?", None),
        ("load a json file into a pandas dataframe and drop empty rows", "expert-python"),
        # JSON asked as the answer stays with the JSON expert.
        ("format as json: item jacket, colour grey, size XL", "expert-json"),
    ],
)
def test_format_routes(prompt: str, chosen: str | None) -> None:
    assert demo_router().route(prompt).chosen == chosen


def test_heading_names_the_language() -> None:
    tokens = tokenize("Go: how do I read a file line by line?")
    assert programming_languages(tokens, False) == {"go": "Go".lower()}
    assert programming_languages(tokenize("let's go: the bus leaves at 5"), False) == {}


# --- summaries are editing-like ---------------------------------------------------------------


def test_summary_is_an_editing_request() -> None:
    assert editing_request(tokenize("Summarize this paragraph in one sentence: ...")) is not None
    d = demo_router().route("Summarise this email in plain English: 'Per our call, ...'")
    assert d.chosen is None
