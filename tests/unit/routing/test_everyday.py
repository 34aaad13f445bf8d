"""Technology words with an everyday sense ("rust" on a bike chain, a kitchen "table"): a lone
hit counts little unless the prompt is technical or its profile backs the technical sense."""

from __future__ import annotations

import pytest

from hxpm.routing import RouteCandidate, Router
from hxpm.routing.aliases import has_everyday_sense
from hxpm.routing.markers import technical_marker
from hxpm.routing.profile import build_profile
from hxpm.routing.scoring import EVERYDAY_FACTOR
from hxpm.routing.text import tokenize

RUST_PROMPTS = [f"Rust: write fn f that returns x plus {n} as an i32" for n in range(30)]
SQL_PROMPTS = [f"drop the table orders_{n} and keep the rows of customers" for n in range(30)]


def _router(with_profiles: bool) -> Router:
    rust = RouteCandidate(
        "expert-rust",
        "1.0.0",
        keywords=("rust", "fn"),
        capabilities=("language:rust",),
        profile=build_profile(RUST_PROMPTS) if with_profiles else None,
    )
    sql = RouteCandidate(
        "expert-sql",
        "1.0.0",
        keywords=("sql", "table"),
        profile=build_profile(SQL_PROMPTS) if with_profiles else None,
    )
    return Router([rust, sql])


@pytest.mark.parametrize("with_profiles", [True, False])
@pytest.mark.parametrize(
    "prompt",
    [
        "How do I get rust off my bike chain?",
        "We need a new kitchen table, wood or glass?",
        "I need a table for two at 8pm, how should I phrase the email?",
    ],
)
def test_an_everyday_sense_goes_to_the_bare_base(prompt: str, with_profiles: bool) -> None:
    decision = _router(with_profiles).route(prompt)
    assert decision.chosen is None, decision.reason
    top = max(decision.scores, key=lambda s: s.score)
    assert any("everyday sense" in r for r in top.reasons), top.reasons


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("rust: parse the string x into an i32", "expert-rust"),  # an identifier
        ("read a file line by line in rust", "expert-rust"),  # a programming word
        ("delete all rows from the users_archive table", "expert-sql"),  # an identifier
        ("count the rows in the table ORDERS", "expert-sql"),  # a shouted name
        ("drop the table orders", "expert-sql"),  # the profile backs "table"
    ],
)
def test_a_technical_prompt_keeps_the_full_weight(prompt: str, expected: str) -> None:
    decision = _router(True).route(prompt)
    assert decision.chosen == expected, decision.reason


def test_the_weight_is_cut_by_the_documented_factor() -> None:
    score = _router(False).route("We need a new kitchen table").scores
    sql = next(s for s in score if s.name == "expert-sql")
    assert f"+{EVERYDAY_FACTOR:.1f}" in sql.reasons[0], sql.reasons


def test_two_words_of_the_expert_are_not_a_lone_word() -> None:
    # "table" and "sql" together: no everyday reading, full weight for both.
    decision = _router(False).route("sql for a table of guests")
    assert decision.chosen == "expert-sql"
    assert not any("everyday" in r for s in decision.scores for r in s.reasons)


@pytest.mark.parametrize(
    ("prompt", "marker"),
    [
        ("Give me the records in payments where kind is 'card'", "a quoted literal"),
        ("delete all edges of type LIKES", "'LIKES'"),
        ("ＳＥＬＥＣＴ everything", "'SELECT'"),
        ("rename every .txt", "a file name"),
        ("read the whole file", "'file'"),
        ("top 5 from order_items", "an identifier"),
        ("what does f(x) return", "a call"),
        ("open main.py", "a file name"),
    ],
)
def test_technical_markers(prompt: str, marker: str) -> None:
    assert technical_marker(tokenize(prompt), prompt) == marker


@pytest.mark.parametrize(
    "prompt",
    ["she don't like apples", "How do I get rust off my bike chain? OK.", "I am in the US now"],
)
def test_prose_has_no_technical_marker(prompt: str) -> None:
    assert technical_marker(tokenize(prompt), prompt) is None


def test_plurals_keep_the_everyday_sense() -> None:
    assert has_everyday_sense("tables") and has_everyday_sense("rust")
    assert not has_everyday_sense("postgres") and not has_everyday_sense("numpy")
    # The library is named after the animal: alone in prose, "pandas" are animals.
    assert has_everyday_sense("pandas") and not has_everyday_sense("panda")
