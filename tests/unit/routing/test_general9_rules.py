"""The rules docs/routing.md ("Rules from general7 to general10") added after the first runs
of general9.tsv and general10.tsv (2,788 general prompts) and blind36 to blind41: a longer
topic before a generic question, a quoted claim a why-question asks about, `useful` and
careers as advice, "help me understand", setting a tool up, a plain question's lone everyday
word, a language named before `interface`/`type`, a table of contents, "into plain
English", "german to english:" as a translation, a question after a comma, other query
languages, cues of a human relationship, and "make ... sound" further apart.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.intent import about_request
from hxpm.routing.languages import named_as_language, translation_request
from hxpm.routing.requests import editing_request
from hxpm.routing.senses import cued_senses
from hxpm.routing.task_fit import Context
from hxpm.routing.text import generic_opener, is_question, tokenize
from tests.unit.routing.test_shapes import about_reason, demo_router

ROUTER = demo_router()


def test_a_topic_of_a_few_words_before_a_generic_question() -> None:
    assert generic_opener(tokenize("in the human eye, what is the retina for")) == "what is"
    assert generic_opener(tokenize("in my orders table what is the newest row")) is None


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("is learning Rust useful for a firmware job?", "choice or advice ('useful')"),
        ("what careers use SQL apart from data analysis?", "choice or advice ('careers')"),
        ("can you help me understand the columns on my energy bill", "concept ('help')"),
        ("how do I set up Neo4j locally to practise?", "concept ('set')"),
    ],
)
def test_more_questions_about_a_technology(prompt: str, why: str) -> None:
    reason = about_reason(prompt)
    assert reason is not None and why in reason, reason


def test_understanding_the_users_own_query_is_still_the_experts() -> None:
    # code shown: the explanation is of the user's work ("Why the generic rule has exceptions")
    tokens = tokenize("help me understand this: SELECT name FROM pets WHERE age > 3")
    assert about_request(tokens, True, is_question(tokens)) is None


def test_a_language_named_before_interface_or_type() -> None:
    before, _ = named_as_language(tokenize("a TypeScript interface for an invoice line"))
    assert "typescript" in before
    before, _ = named_as_language(tokenize("a Kotlin type for a booking with a category"))
    assert "kotlin" in before


def test_table_of_contents_is_an_idiom() -> None:
    cued = cued_senses(tokenize("how long should the table of contents be for a thesis"))
    assert cued == {"table": "table of contents"}


def test_plain_english_asks_for_an_edit() -> None:
    assert editing_request(tokenize("put this into plain English: 'the lessee shall …'"))


@pytest.mark.parametrize(
    ("prompt", "asked"),
    [
        ("german to english: Ich habe keine Zeit", "german to english"),
        ("spanish into french please: no tengo tiempo", "spanish into french"),
        ("english to a graph query: people who know Ann", None),  # one language only
    ],
)
def test_a_pair_of_languages_asks_for_a_translation(prompt: str, asked: str | None) -> None:
    assert translation_request(tokenize(prompt)) == asked


_ROUTES: list[tuple[str, str | None]] = [
    ("in the human heart, what is the function of the left ventricle", None),
    ("why do people say Python is 'batteries included'? my colleague keeps saying it", None),
    # ...a quotation is still material when the question is not a why-question
    ("what's the sentence type of 'has the parcel arrived yet'", "expert-english-basic"),
    ("is learning SQL useful for a job in hospital admin?", None),
    (
        "can you help me understand the table on my council tax bill, there's a column for band",
        None,
    ),
    ("Write a TypeScript interface for a parcel with weight, postcode and category.", None),
    ("how do I set up a local Postgres on my laptop just to practise, which installer", None),
    ("What order should the table of contents follow for a recipe book of 40 recipes?", None),
    (
        "Put this clause into plain English: 'The Tenant shall keep the Premises in good repair'",
        None,
    ),
    ("italian to english: La vita è bella quando il sole splende.", None),
    # a handed-over bug report that mentions an installer is still a document to classify
    (
        (
            "What kind of document is this? Steps: run the installer, tick Backup. Expected: "
            "a backup. Actual: error 0x80."
        ),
        "expert-document-classifier",
    ),
]


@pytest.mark.parametrize(("prompt", "expert"), _ROUTES)
def test_routes_as_the_rules_say(prompt: str, expert: str | None) -> None:
    decision = ROUTER.route(prompt)
    assert decision.chosen == expert, decision.reason


# --- a plain question needs more backing for a lone everyday word -------------------------------


@pytest.mark.parametrize(
    ("prompt", "expert"),
    [
        ("how do I select the right bike saddle for long rides?", None),
        ("what counts as a dental record when you change practices?", None),
        ("how do travel apps decide which category my trip goes in?", None),
        # code, a named language or a task with its material keep the expert
        ("how do I select rows where age > 30 from users?", "expert-sql"),
        ("in python, how do I merge two dicts?", "expert-python"),
        ("statement or command? Lock the side gate after nine.", "expert-english-basic"),
    ],
)
def test_a_plain_question_needs_more_backing(prompt: str, expert: str | None) -> None:
    decision = ROUTER.route(prompt)
    assert decision.chosen == expert, decision.reason


def test_plain_question_is_a_question_with_nothing_shown_or_asked_for() -> None:
    assert Context(code=False, material=False, question=True, artifact=False).plain_question()
    assert not Context(code=False, material=False, question=True, artifact=True).plain_question()
    assert not Context(code=True, material=False, question=True, artifact=False).plain_question()


# --- after general10 and blind39 to blind41 -----------------------------------------------------


def test_a_question_after_a_comma() -> None:
    assert is_question(tokenize("my towels smell musty, what am i doing wrong"))
    assert not is_question(tokenize("rows from orders, what they cost and when"))


def test_make_sound_reaches_further() -> None:
    prompt = "make the note we send to our landlord sound polite: the boiler is broken again"
    assert editing_request(tokenize(prompt)) == "make ... sound"


_ROUTES_10: list[tuple[str, str | None]] = [
    ("my black jeans keep fading in the wash, what am i doing wrong", None),
    ("when should a charity use a graph database instead of a spreadsheet", None),
    # ...but the handed-over text of a label question is not the question
    ("What kind of sentence is this: when should the guests arrive", "expert-english-basic"),
    (
        (
            'Make this message to the board sound less alarming: "The database outage cost us '
            'a day, I take full responsibility."'
        ),
        None,
    ),
    ("I'm drawing my parents and want it to show their relationship after 40 years", None),
    ("How would I write a SPARQL query listing every film whose director is 'Varda'?", None),
    ("Item: navy raincoat, size M. I need it as the usual structured object.", "expert-json"),
]


@pytest.mark.parametrize(("prompt", "expert"), _ROUTES_10)
def test_routes_after_general10(prompt: str, expert: str | None) -> None:
    decision = ROUTER.route(prompt)
    assert decision.chosen == expert, decision.reason
