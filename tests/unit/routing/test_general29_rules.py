"""The rules docs/routing.md ("After general29") added after round 28 (general29.tsv, held out
at 76a4af3, and blind88 and blind89): code shown and nothing else is a weaker shield from the
intent model; proofs, optimisers, misuse and "who's right?" are questions about a topic; a
verb after "when you" is a condition, not an order; a technology's name before a colon is a
topic; the aggregate-per-group and "insert into" phrasings of a query, and "match ... return"
in lower case; "shortest path" makes
"graph" technical; label questions with no kind named ("which type is this?") or three kinds
listed; "sort this into one of our categories" names where a text goes.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.artifacts import asks_for_artifact_at, asks_for_prose
from hxpm.routing.labels import CLASSIFY_TASK, label_question, labelling_request
from hxpm.routing.shapes import language_shapes
from hxpm.routing.text import tokenize
from hxpm.routing.veto import GATED_THRESHOLD, SHOWN_CODE_THRESHOLD
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


def test_code_shown_alone_is_a_bar_between_the_gated_one_and_the_others() -> None:
    assert GATED_THRESHOLD < SHOWN_CODE_THRESHOLD <= 0.02


@pytest.mark.parametrize(
    "prompt",
    [
        # a setting's snake_case name is no query asked for
        "is shared_preload_libraries read on reload or only at start? we changed it at noon",
        "our checkout_sessions table grew 40% in a month, is that something to worry about?",
        "does max_connections matter if everything goes through a pooler anyway",
    ],
)
def test_a_question_that_only_names_a_setting_goes_to_the_base(prompt: str) -> None:
    assert ROUTER.route(prompt).chosen is None, ROUTER.route(prompt).reason


@pytest.mark.parametrize(
    "prompt",
    [
        "prove that a graph with n vertices and no cycles has at most n-1 edges",
        "proof that every connected graph has a spanning tree?",
        "is the query optimizer in sqlite cost based or rule based",
        "storing sessions in Neo4j, is that a misuse of the database?",
        "colleague says raw SQL beats an ORM for reporting, I say sqlalchemy. who's right?",
        "ORM or plain SQL for a small flask app",
        "neo4j: what happens on disk when you delete a node with many relationships?",
        "Tell me a short story about a lonely database table, the first 400 words",
    ],
)
def test_questions_about_a_topic_go_to_the_base(prompt: str) -> None:
    assert ROUTER.route(prompt).chosen is None, ROUTER.route(prompt).reason


@pytest.mark.parametrize(
    ("prompt", "index", "asks"),
    [
        ("what happens when you create a relationship", 4, False),
        ("if I write to it twice, which one wins", 2, False),
        ("create a relationship between them", 0, True),
        ("can you write a function", 2, True),
    ],
)
def test_a_verb_after_when_you_is_a_condition(prompt: str, index: int, asks: bool) -> None:
    words = tokenize(prompt).words
    assert asks_for_artifact_at(words, index) is asks


@pytest.mark.parametrize(
    ("prompt", "prose"),
    [
        ("write the first 250 words of a ghost story set in a server room", True),
        ("write a function that returns the first 3 words of a string", False),
    ],
)
def test_a_length_in_many_words_is_prose(prompt: str, prose: bool) -> None:
    assert asks_for_prose(tokenize(prompt)) is prose


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("total spend per customer from invoices", "expert-sql"),
        ("avg rating per genre from films pls", "expert-sql"),
        ("insert a new record into suppliers: name Acme, city Leeds", "expert-sql"),
        ("insert into members a new one: Ana, joined 2024-03-01", "expert-sql"),
        ("insert a new courier into couriers: name Bo, van 7", "expert-sql"),
        ("match riders who BOOKED a trip with driver 'Lee', return their names", "expert-cypher"),
        ("match a wine to a spicy thai green curry and return the best one", None),
        ("shortest path between stop 'Oak Road' and stop 'Pier' in the graph", "expert-cypher"),
        # an average per month from a source that is not a table, a picture put into a document
        ("what was the average rainfall per month from the met office last year?", None),
        ("how do I insert a picture into word without it jumping around", None),
    ],
)
def test_query_phrasings_and_graph_paths(prompt: str, expected: str | None) -> None:
    assert ROUTER.route(prompt).chosen == expected, ROUTER.route(prompt).reason


def test_the_phrasings_are_shapes_of_sql() -> None:
    prompt = "insert a new row into riders: name Ola, zone east"
    assert "insert a new row into riders" in language_shapes(tokenize(prompt), prompt)["sql"]
    prompt = "count of orders per region from sales"
    assert "from sales" in language_shapes(tokenize(prompt), prompt)["sql"]
    prompt = "insert a new row into excel: name Ola"
    assert "sql" not in language_shapes(tokenize(prompt), prompt)


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("Pay 120.00 EUR to Harbour Print by 3 May, ref 8812, VAT incl. which type is this?", True),
        # a rash described is no document
        ("red itchy patches on both arms since Monday, worse at night. what type is it?", False),
        ("The council voted on Tuesday to close the pool. <- what sort of text is that", True),
        ("Lentil soup - 200g lentils, 1 onion; simmer. is this a recipe, news or contract", True),
        ("Either party may end it with notice --- what is it, invoice, contract, news", True),
        ("The mayor opened the bridge on Friday, officials said. -- news, contract or what?", True),
        # no text handed over, or the kind of a sentence
        ("which type is this", False),
        ('"Has the van left yet?" which type is it, for my sentence worksheet', False),
        # three things listed that are no kinds of document
        ("my son, my daughter, my wife: what gift for each?", False),
    ],
)
def test_label_questions_without_a_kind_named(prompt: str, task: bool) -> None:
    asked = label_question(prompt)
    assert (asked is not None and asked[0] == CLASSIFY_TASK) is task, asked


def test_sorting_into_our_categories_names_where_the_text_goes() -> None:
    found = labelling_request(tokenize("sort this into one of our doc categories: Rain again"))
    assert found is not None and "categor" in found[1]
    prompt = "sort this into one of our doc categories: Rain closed three roads, police said"
    assert ROUTER.route(prompt).chosen == "expert-document-classifier"
    # sorting items handed over orders them: no document kind asked for
    assert ROUTER.route("sort these by height: Ben Nevis, Snowdon, Scafell Pike").chosen is None
