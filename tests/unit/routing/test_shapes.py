"""The rules of docs/routing.md that read a prompt's shape, not only its words: ecosystem
aliases, task synonyms, query-language shapes, editing requests and the technical-prompt
floor on the profile (hxpm/routing/shapes.py, scoring.py).

The candidates are the demo experts as published: their manifests' routing fields and
profiles built from their real training prompts (experts/*/datasets/train.jsonl)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from hxpm.routing import RouteCandidate, Router
from hxpm.routing.markers import technical_marker
from hxpm.routing.profile import build_profile
from hxpm.routing.requests import editing_request
from hxpm.routing.scoring import TECHNICAL_FLOOR
from hxpm.routing.shapes import language_shapes
from hxpm.routing.text import tokenize

EXPERTS = Path(__file__).resolve().parents[3] / "experts"


def _demo(name: str, **changes: object) -> RouteCandidate:
    manifest = json.loads((EXPERTS / name / "manifest.json").read_text())
    routing = manifest.get("routing", {})
    lines = (EXPERTS / name / "datasets" / "train.jsonl").read_text().splitlines()
    fields: dict[str, object] = {
        "keywords": tuple(routing.get("keywords", ())),
        "exclude_keywords": tuple(routing.get("exclude_keywords", ())),
        "priority": routing.get("priority", 0.5),
        "capabilities": tuple(manifest.get("capabilities", ())),
        "profile": build_profile(json.loads(line)["prompt"] for line in lines),
    }
    fields.update(changes)
    return RouteCandidate(name, str(manifest["version"]), **fields)  # type: ignore[arg-type]


NAMES = (
    "expert-cypher",
    "expert-document-classifier",
    "expert-english-basic",
    "expert-json",
    "expert-python",
    "expert-rust",
    "expert-sql",
)


@cache
def about_reason(prompt: str) -> str | None:
    """Why intent.about_request reads the prompt as *about* a technology (no code shown), or
    None: the rule files' shared check."""
    from hxpm.routing.intent import about_request
    from hxpm.routing.text import is_question, tokenize

    tokens = tokenize(prompt)
    about = about_request(tokens, False, is_question(tokens))
    return None if about is None else about.reason


def demo_router() -> Router:
    return Router([_demo(n) for n in NAMES])


def _reasons(prompt: str, name: str, router: Router | None = None) -> tuple[str, ...]:
    d = (router or demo_router()).route(prompt)
    return next(s for s in d.scores if s.name == name).reasons


# --- ecosystem aliases -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected", "alias"),
    [
        ("read a csv with pandas and print the mean of column price", "expert-python", "pandas"),
        ("use numpy to compute the mean of array x", "expert-python", "numpy"),
        ("serde: deserialize a struct from a string", "expert-rust", "serde"),
    ],
)
def test_a_library_names_its_language(prompt: str, expected: str, alias: str) -> None:
    d = demo_router().route(prompt)
    assert d.chosen == expected, d.reason
    assert any(f"as alias {alias!r}" in r for r in d.scores[0].reasons), d.scores[0].reasons


def test_a_manifest_excludes_a_library_alias() -> None:
    py = _demo("expert-python", exclude_keywords=("rust", "pandas"))
    d = Router([py]).route("read a csv with pandas and print the mean of column price")
    assert d.chosen is None
    assert any("excluded by 'pandas'" in r for r in d.scores[0].reasons)


def test_the_animal_is_not_the_library() -> None:
    assert demo_router().route("Where can I see giant pandas in China?").chosen is None
    keywords_only = Router([RouteCandidate("expert-python", "1.0.0", ("python",))])
    d = keywords_only.route("Write a short story about two pandas who find a kite.")
    assert d.chosen is None and "everyday sense" in d.scores[0].reasons[0]


# --- task synonyms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        'which category does this belong to: "Your package has shipped and will arrive Tuesday"',
        "which category fits this email: your invoice for May is attached, amount 45 GBP",
        "categorise the following: Add two eggs and stir for a minute",
    ],
)
def test_category_asks_the_classifier(prompt: str) -> None:
    d = demo_router().route(prompt)
    assert d.chosen == "expert-document-classifier", d.reason


def test_category_is_a_synonym_of_classify_and_keeps_its_everyday_sense() -> None:
    cls = RouteCandidate("expert-cls", "1.0.0", ("classify",), priority=0.9)
    d = Router([cls]).route("categories for these tickets: login fails, refund please")
    assert "as synonym 'category' ('categories')" in d.scores[0].reasons[0]
    assert Router([cls]).route("What category of hurricane was Katrina?").chosen is None
    # An excluded synonym is evidence against, as an excluded alias is.
    strict = RouteCandidate("expert-cls", "1.0.0", ("classify",), ("category",), 0.9)
    assert Router([strict]).route("which category: a recipe for soup").chosen is None


# --- language shapes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "language", "shape"),
    [
        ("MATCH the shortest path between two airports", "cypher", "the clause 'MATCH'"),
        ("give me the MATCH ... RETURN for all Movie nodes", "cypher", "the clause 'MATCH'"),
        ("total sales per region, GROUP BY region", "sql", "the clause 'GROUP BY'"),
        ("add a FRIEND relationship between Bob and Carol", "cypher", "the relationship type"),
        ("delete all edges of type LIKES", "cypher", "the relationship type 'LIKES'"),
        ("get the top 5 products by revenue from order_items", "sql", "the table name"),
        ("join order_lines with products", "sql", "the table name 'order_lines'"),
        ("from collections import Counter, count the words", "python", "'from ... import'"),
        ("import numpy as np and make an identity matrix", "python", "'import ... as'"),
        ("let mut v = Vec::new(); push three numbers", "rust", "'let mut'"),
        ("why does println! need a format string", "rust", "'println!'"),
    ],
)
def test_shapes_name_a_language(prompt: str, language: str, shape: str) -> None:
    found = language_shapes(tokenize(prompt), prompt)
    assert shape in found.get(language, ""), found


@pytest.mark.parametrize(
    "prompt",
    [
        "match the shortest path between two airports",  # not written as code
        "Our team had a great MATCH yesterday, write a recap",  # a word in capitals in prose
        "I WON THE MATCH TODAY, SELECT A SONG TO CELEBRATE",  # a shouted prompt
        "a friend relationship between Bob and Carol",
        "from my_pkg import helper",  # a Python module, not a table
        "convert names from snake_case to camelCase",  # a conversion
        "load the rows from data_2024.csv",  # a file
        "import the photos from my phone as a new album",  # English, not Python
    ],
)
def test_prose_is_no_shape(prompt: str) -> None:
    found = language_shapes(tokenize(prompt), prompt)
    assert "cypher" not in found and "sql" not in found, found
    if "my_pkg" not in prompt:
        assert "python" not in found, found


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("MATCH the shortest path between two airports", "expert-cypher"),
        ("add a FRIEND relationship between Bob and Carol", "expert-cypher"),
        ("get the top 5 products by revenue from order_items", "expert-sql"),
        ("from collections import Counter, count the words in x", "expert-python"),
    ],
)
def test_a_shape_reaches_the_expert(prompt: str, expected: str) -> None:
    d = demo_router().route(prompt)
    assert d.chosen == expected, d.reason
    assert any(" through the " in r for r in d.scores[0].reasons), d.scores[0].reasons


def test_a_shape_counts_once_with_its_keyword() -> None:
    # "MATCH" and "cypher" are one keyword, as an alias and its name are.
    d = demo_router().route("cypher: MATCH (n) RETURN n")
    cypher = d.scores[0]
    assert d.chosen == "expert-cypher" and cypher.keyword_hits.count("cypher") == 1


def test_an_expert_without_the_language_is_not_hit_by_its_shape() -> None:
    other = RouteCandidate("expert-x", "1.0.0", ("graph",))
    assert Router([other]).route("MATCH the shortest path").chosen is None


# --- editing requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "found"),
    [
        ("fix the spelling in this sentence: I recieved it", "fix ... spelling"),
        ("the grammar here is off, can you correct it", "correct ... grammar"),
        ("Please proofread this: their going home", "proofread"),
        ("spell-check my essay", "spell-check"),
        ("fix the borrow checker error in my rust code", None),
        ("is this a question or a statement: fix the door", None),
    ],
)
def test_editing_request(prompt: str, found: str | None) -> None:
    assert editing_request(tokenize(prompt)) == found


@pytest.mark.parametrize(
    "prompt",
    [
        "fix the spelling in this sentence: I recieved the pakage yesterday",
        "Can you rephrase this sentence so it sounds friendlier: send me the report now",
        "the grammar in this text is off, can you fix it: me and him goes to school",
        "improve the wording of this sentence: we did a lot of things",
    ],
)
def test_an_editing_request_is_not_a_sentence_type_question(prompt: str) -> None:
    d = demo_router().route(prompt)
    assert d.chosen is None, d.reason
    assert any("editing request" in r for r in _reasons(prompt, "expert-english-basic"))


def test_an_editing_request_still_reaches_an_expert_that_edits() -> None:
    editor = RouteCandidate(
        "expert-grammar", "1.0.0", ("grammar", "spelling"), capabilities=("task:correction",)
    )
    router = Router([_demo("expert-english-basic"), editor])
    d = router.route("fix the spelling in this sentence: I recieved the pakage yesterday")
    assert d.chosen == "expert-grammar", d.reason


def test_more_than_the_text_keeps_the_match() -> None:
    # "sentence type" is the expert's task, not the text being edited.
    d = demo_router().route("fix the grammar and tell me the sentence type: he go home now")
    assert d.chosen == "expert-english-basic", d.reason


# --- the technical floor on the profile ------------------------------------------------------


def test_the_profile_cannot_sink_a_specific_keyword_in_a_technical_prompt() -> None:
    prompt = "make this more pythonic: for i in range(len(xs)): print(xs[i])"
    d = demo_router().route(prompt)
    assert d.chosen == "expert-python", d.reason
    floor = f"profile counted as {-TECHNICAL_FLOOR:+.2f}"
    assert any(floor in r for r in d.scores[0].reasons), d.scores[0].reasons


def test_no_floor_in_prose_or_for_an_everyday_word_behind_capitals_alone() -> None:
    flask = RouteCandidate("expert-python", "1.0.0", ("python", "flask"), profile=None)
    profiled = _demo("expert-python", keywords=("python", "flask"))
    for cand in (flask, profiled):
        d = Router([cand]).route("I saw a FLASK of tea at the market, is it worth buying?")
        assert d.chosen is None, d.reason
    # A name in capitals may be emphasis: "relationship" keeps its everyday sense.
    boss = "I need advice on my relationship with my BOSS"
    assert demo_router().route(boss).chosen is None
    assert any("everyday sense" in r for r in _reasons(boss, "expert-cypher"))
    prose = "Summarize the French revolution in two sentences."
    assert not any("prompt is technical" in r for r in _reasons(prose, "expert-english-basic"))


def test_shouting_is_not_technical() -> None:
    prompt = "HOW DO I GET RUST OFF MY BIKE CHAIN?"
    assert technical_marker(tokenize(prompt), prompt) is None
    assert demo_router().route(prompt).chosen is None
