"""The rules docs/routing.md ("After general19") added after the first runs of general20.tsv
(1,378 general prompts) and blind68 to blind70: a piece of code asked for keeps the prompt
from the intent model, "improve the opening line of ..." edits a text, a plural before
"table" names a database table with or without "the", and "with <column> under ..."
filters as "where" does.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import math

import pytest

from hxpm.routing import veto
from hxpm.routing.artifacts import asks_for_code
from hxpm.routing.identifiers import identifier_query, named_table
from hxpm.routing.intent_model import IntentModel
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


@pytest.mark.parametrize(
    ("prompt", "code"),
    [
        ("Write a Rust function that formats a duration as mm:ss for our player UI", True),
        ("give me a query for the ten newest bookings", True),
        # prose is made, or nothing
        ("can you write an email to query a charge on my bill", False),
        ("write a short speech about the python club's first year", False),
        ("what does a function do in maths", False),
    ],
)
def test_a_piece_of_code_asked_for(prompt: str, code: bool) -> None:
    assert asks_for_code(tokenize(prompt)) is code


def test_a_piece_of_code_asked_for_is_kept_from_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # a model that reads every prompt as general, though not certain of it (P 0.001, above
    # veto.GATED_THRESHOLD): only the gates keep an expert
    monkeypatch.setattr(veto, "bundled", lambda: IntentModel(math.log(0.001 / 0.999), {}))
    kept = demo_router().route("Write a Rust function that formats a duration as mm:ss for our UI")
    assert kept.chosen == "expert-rust"
    vetoed = demo_router().route(
        "write me a short quiz with question and command sentences for year 3"
    )
    assert vetoed.chosen is None  # expert-english-basic's, were the model silent


def test_improving_a_line_edits_a_text() -> None:
    prompt = (
        "can you improve the opening line of my cover letter: "
        '"I have always loved building things in python."'
    )
    assert ROUTER.route(prompt).chosen is None


@pytest.mark.parametrize(
    ("prompt", "table"),
    [
        ("distinct postcodes in estates table", "the estates table"),
        ("count the rows in our bookings table", "the bookings table"),
        # a table of furniture or of sums
        ("help with the 7 times table", None),
        ("where to put drinks table at a wedding", None),
    ],
)
def test_a_plural_before_table_names_a_database_table(prompt: str, table: str | None) -> None:
    assert named_table(prompt) == table


@pytest.mark.parametrize(
    ("prompt", "found"),
    [
        (
            "every flat in lettings with monthly_rent under 900",
            "with monthly_rent under",
        ),
        ("a dict with user_id and name keys", None),
    ],
)
def test_with_a_column_and_a_comparison_filters(prompt: str, found: str | None) -> None:
    assert identifier_query(prompt) == found


def test_a_query_asked_with_a_filter_routes_to_sql() -> None:
    decision = ROUTER.route("lsit every flat in lettings with monthly_rent under 900")
    assert decision.chosen == "expert-sql"
