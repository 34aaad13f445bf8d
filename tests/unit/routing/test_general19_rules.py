"""The rules docs/routing.md ("After general18") added after the first runs of general19.tsv
(1,271 general prompts) and blind65 to blind67: a verb in capitals after its subject is a
relationship type, "takes ... returns" describes a function, a question ending "<language>
pls" asks for code, "what query should I write to ..." asks for the code of a task, "sentence
type: ..." is a label question, "into alphabetical order" orders and does not label, more
words that show English in its everyday sense, "graph paper" is paper, and database products
are weighed like languages.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.code_questions import code_request, code_to_write
from hxpm.routing.labels import SENTENCE_TYPE_TASK, label_question, labelling_request
from hxpm.routing.markers import technical_marker
from hxpm.routing.shapes import language_shapes
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


@pytest.mark.parametrize(
    ("prompt", "shows_cypher"),
    [
        ("list every Climber who SUMMITED the Peak named 'Eiger'", True),
        ("which Author has REVIEWED more than three Books?", True),
        ("every Vendor that SUPPLIES a Hospital in Leeds", True),
        # acronyms and shouting are no relationship types
        ("which POS system is best for a bakery", False),
        ("everyone has GPS now, do pilots still learn map reading?", False),
        # emphasis after a plain noun or a name
        ("our team that HATES meetings wants async standups", False),
        ("my friend Sam who LOVES trains is visiting", False),
    ],
)
def test_a_verb_in_capitals_after_a_label_is_a_relationship_type(
    prompt: str, shows_cypher: bool
) -> None:
    assert ("cypher" in language_shapes(tokenize(prompt), prompt)) is shows_cypher


def test_a_relationship_verb_alone_routes_a_graph_request() -> None:
    decision = ROUTER.route("find every Climber who SUMMITED the Peak named 'Eiger'")
    assert decision.chosen == "expert-cypher"
    assert ROUTER.route("our team that HATES meetings wants async standups").chosen is None


@pytest.mark.parametrize(
    ("prompt", "marked"),
    [
        ("a small helper that takes a list of tide heights and returns the highest", True),
        ("something that accepts two dates and gives back the days between them", True),
        # taking and returning things in everyday life
        ("the shop takes returns within 30 days, right?", False),
        ("she takes the bus and returns at six", True),  # read as code: harmless alone
    ],
)
def test_takes_then_returns_describes_a_function(prompt: str, marked: bool) -> None:
    found = technical_marker(tokenize(prompt), prompt)
    assert (found is not None and "takes" in found) is marked


def test_a_function_described_in_python_keeps_python_technical() -> None:
    prompt = "I need a little helper in Python that takes a list of lap times and returns the best"
    assert ROUTER.route(prompt).chosen == "expert-python"


@pytest.mark.parametrize(
    ("prompt", "asked"),
    [
        ("who directed the most films in our movie graph? cypher pls", "cypher pls"),
        ("how many refunds were over 50 last week? postgres please.", "postgres please"),
        # a language named elsewhere, or no language before the please
        ("is cypher hard to learn, please be honest", None),
        ("what's the capital of peru, quick please", None),
    ],
)
def test_a_question_ending_with_its_language_asks_for_code(prompt: str, asked: str | None) -> None:
    assert code_request(tokenize(prompt)) == asked


def test_who_question_ending_with_cypher_pls_is_routed() -> None:
    decision = ROUTER.route(
        "who are the friends of friends of dana in our climbing club? cypher pls"
    )
    assert decision.chosen == "expert-cypher"
    assert "asks for code" in decision.reason


@pytest.mark.parametrize(
    ("prompt", "asked"),
    [
        ("what query should I write to find members who joined in May?", "what query should ..."),
        ("which statement do we use for counting rows per day", "which statement do ..."),
        # a shell command, or advice on what to write
        ("what command do I run to restart postgres", None),
        ("what should I write in a query letter to a literary agent", None),
    ],
)
def test_a_question_for_the_code_of_a_task(prompt: str, asked: str | None) -> None:
    assert code_to_write(tokenize(prompt)) == asked


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("Tell me the sentence type: Where did you park the van", SENTENCE_TYPE_TASK),
        ("what type of sentence is this? Hand me the torch.", SENTENCE_TYPE_TASK),
        ("kind of sentence - The ferry leaves at noon", SENTENCE_TYPE_TASK),
        # the sentence type asked about in general, with no sentence handed over
        ("what sentence type do recipes use most?", None),
    ],
)
def test_the_sentence_type_named_then_a_sentence_is_a_label_question(
    prompt: str, task: str | None
) -> None:
    found = label_question(prompt)
    assert (found[0] if found else None) == task


@pytest.mark.parametrize(
    ("prompt", "labels"),
    [
        ("sort these names into alphabetical order: Ada, Zoe, Mo", False),
        ("can you sort these dates in ascending order: 3 May, 1 April", False),
        ("sort these emails by type: 'Your invoice is attached', 'Team lunch Friday'", True),
    ],
)
def test_sorting_into_an_order_labels_nothing(prompt: str, labels: bool) -> None:
    assert (labelling_request(tokenize(prompt)) is not None) is labels


@pytest.mark.parametrize(
    "prompt",
    [
        "what's a good mnemonic for the order of adjectives in English?",
        "is there a word in English for your sister-in-law's brother?",
        "why is English spelling so irregular compared with Spanish?",
    ],
)
def test_words_about_the_language_show_english_in_its_everyday_sense(prompt: str) -> None:
    assert ROUTER.route(prompt).chosen is None


def test_graph_paper_is_paper_even_with_a_scale() -> None:
    assert ROUTER.route("help me plan a patio on graph paper, 1 square = 50cm").chosen is None


@pytest.mark.parametrize(
    "prompt",
    ["mysql or redis for session storage?", "postgres or snowflake for analytics?"],
)
def test_a_database_product_is_weighed_like_a_language(prompt: str) -> None:
    # both went to the SQL expert before the products were listed as rivals
    assert ROUTER.route(prompt).chosen is None
