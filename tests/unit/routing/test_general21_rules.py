"""The rules docs/routing.md ("After general20") added after the first runs of general21.tsv
(1,280 general prompts) and blind71 to blind73: nodes "joined by" a name in capitals name a
relationship type, "... Python 3 please" names the answer's language, "wherever <column>
is ..." filters, a sentence handed over before "what kind of sentence is that?" or pointed
at by an arrow is asked about, "a question, or a statement?" offers two labels, and "my
museum label" is a label, not labelling.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.code_questions import closing_language
from hxpm.routing.identifiers import identifier_query
from hxpm.routing.labels import SENTENCE_TYPE_TASK, label_question, labelling_request
from hxpm.routing.shapes import language_shapes
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


@pytest.mark.parametrize(
    ("prompt", "shows_cypher"),
    [
        ("which vets treated more than 5 pets? Vet and Pet are nodes joined by TREATED", True),
        ("Station nodes connected via LINKS_TO, count them per line", True),
        # no nodes named first
        ("our two offices are connected via VPN, is that secure?", False),
    ],
)
def test_nodes_joined_by_a_name_in_capitals(prompt: str, shows_cypher: bool) -> None:
    assert ("cypher" in language_shapes(tokenize(prompt), prompt)) is shows_cypher


@pytest.mark.parametrize(
    ("prompt", "language"),
    [
        ("a helper that trims each string in a list? Python 3 please.", "python"),
        ("count the rows per day, sql pls", "sql"),
        ("can you send it over, please", None),
        ("tell me about the year 3 please", None),
    ],
)
def test_a_closing_please_names_the_answers_language(prompt: str, language: str | None) -> None:
    assert closing_language(tokenize(prompt).words) == language


def test_a_closing_language_keeps_python_technical() -> None:
    prompt = "knock up a helper that strips whitespace from each string in a list? Python 3 please."
    assert ROUTER.route(prompt).chosen == "expert-python"


def test_wherever_filters_as_where_does() -> None:
    prompt = "set status to 'closed' in tickets wherever opened_at is before 2020-01-01"
    assert identifier_query(prompt) == "wherever opened_at is"


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("'Has the bus left already?' - what kind of sentence is that?", SENTENCE_TYPE_TASK),
        ("Pass me the salt. <- is that a command?", SENTENCE_TYPE_TASK),
        (
            'He wrote "Why bother" with no mark. Is it a question, or a statement?',
            SENTENCE_TYPE_TASK,
        ),
        # asked in general, with nothing handed over
        ("what kind of sentence is that supposed to be in a poem", None),
    ],
)
def test_the_sentence_asked_about_comes_first(prompt: str, task: str | None) -> None:
    found = label_question(prompt)
    assert (found[0] if found else None) == task


@pytest.mark.parametrize(
    ("prompt", "labels"),
    [
        ('Proofread my museum label: "This bowl, made in 1750 were found in Kent."', False),
        ("Our inbox filter needs a label for this one: Mix 200g flour and two eggs.", True),
        ("label this email by type: 'Your invoice INV-22 is attached'", True),
    ],
)
def test_my_label_is_a_label_not_labelling(prompt: str, labels: bool) -> None:
    assert (labelling_request(tokenize(prompt)) is not None) is labels


def test_proofreading_a_label_is_no_classification() -> None:
    prompt = 'Proofread my museum label: "This bowl, made in 1750 were found in Kent."'
    assert ROUTER.route(prompt).chosen is None
