"""The rules docs/routing.md ("After general30") added after round 29 (general30.tsv, held out
at 96e390b, and blind90 and blind91): a later clause that asks why after a comma or a dash
wants reasons; a why-question about code it shows is no code expert's (an arrow still hands
the question itself over as a sentence to label); "sort it: ..." files one text; "show me in
Cypher how to ..." asks for code in the language it names.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.code_questions import code_to_write
from hxpm.routing.labels import BY_TEXT_ALONE, labelling_request
from hxpm.routing.reasons import asks_why
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("this one: SELECT name FROM pets WHERE age != 3 - why does it drop the NULL ages", True),
        ("In Python, why does sorted() return a list and not the same type", True),
        ("our nightly export — why is it twice as big as last week?", True),
        # a sentence handed over after a colon or a question mark is material, not a question
        ("Tell me the sentence type: Why is the lift out of order again?", False),
        ("question or statement? why did the ferry leave early", False),
        # a "why" that starts no question of its own
        ("list the reasons, why not", False),
    ],
)
def test_a_later_clause_can_ask_why(prompt: str, why: bool) -> None:
    assert (asks_why(tokenize(prompt).words) is not None) is why


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("why does `let a = b; b.len()` not compile in Rust? b is a Vec<u8>", None),
        ("why does `print(x)` inside my python function return None", None),
        # the arrow hands the why-question over to be labelled
        ("Why is the canteen shut on Mondays? <- question or statement?", "expert-english-basic"),
        # asking for code, not reasons
        ("write a rust function that returns the last element of a slice", "expert-rust"),
    ],
)
def test_a_why_question_about_shown_code_goes_to_the_base(
    prompt: str, expected: str | None
) -> None:
    assert ROUTER.route(prompt).chosen == expected, ROUTER.route(prompt).reason


def test_sorting_one_text_files_it() -> None:
    one = labelling_request(tokenize("sort it pls: Lamb stew for 12 - 2kg lamb, 1kg carrots"))
    assert one is not None and BY_TEXT_ALONE not in one[1]
    many = labelling_request(tokenize("sort these pls: Ben Nevis, Snowdon, Scafell Pike"))
    assert many is not None and BY_TEXT_ALONE in many[1]
    prompt = (
        "found this in the old drive, sort it please: Lentil soup for 20 - 2kg red lentils, "
        "4 onions, 3l stock. Simmer 40 min, blend, season."
    )
    assert ROUTER.route(prompt).chosen == "expert-document-classifier"
    # items to put in order stay with the base
    assert ROUTER.route("sort these pls: 3/4, 0.7, 5/8, 72%").chosen is None


@pytest.mark.parametrize(
    ("prompt", "asked"),
    [
        ("show me in Cypher how to list the Films a Director DIRECTED", True),
        ("tell me in sql how to count the rows of orders", True),
        # no language named, or no "how to"
        ("show me in the garden how to prune roses", False),
        ("show me in python why this fails", False),
    ],
)
def test_how_to_shown_in_a_named_language_asks_for_code(prompt: str, asked: bool) -> None:
    assert (code_to_write(tokenize(prompt)) is not None) is asked
