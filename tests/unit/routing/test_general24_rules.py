"""The rules docs/routing.md ("After general24") added after round 23 (general24.tsv, held out
at b509f7a, and blind78 and blind79): "explain what this ... does", "what does this ... do"
and "in plain language" ask for an explanation in prose; running a database (its settings,
an upgrade, replication, downtime) is no query; "is it a bad idea to ..." asks for advice;
"capitalise" shows the everyday sense of "sentence". The veto's certain reading (P below
GATED_THRESHOLD, test_intent_model.py) came from the same round.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.intent import about_request, refused_output
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


@pytest.mark.parametrize(
    ("prompt", "prose"),
    [
        ("explain what this rust code does: fn f(x: u32) -> u32 { x * 2 }", True),
        ("what does this python line do: xs[::-1]", True),
        ("What does 'SELECT DISTINCT' do in practice?", True),
        # the first "what does this" is no question about code; the second one is
        ("what does this mean for us? and what does `xs[::-1]` do?", True),
        ("my boss can't read this error, explain it in plain language: 'ERROR 1045'", True),
        # a concept, not a piece pointed at; and code asked for "line by line"
        ("what does a python decorator do", False),
        ("read a file line by line in Python", False),
        ("write a function that returns what the user typed", False),
    ],
)
def test_an_explanation_is_prose(prompt: str, prose: bool) -> None:
    assert (refused_output(tokenize(prompt)) is not None) is prose


@pytest.mark.parametrize(
    ("prompt", "about"),
    [
        ("autovacuum is falling behind on our biggest Postgres table, what should I tune?", True),
        ("what usually breaks when migrating from MySQL 5.7 to 8?", True),
        ("how do I tell if our database server is CPU-bound?", True),
        ("is it a bad idea to call a table 'user'?", True),
        # a query asked for, in a question
        ("which orders in the orders table shipped late?", False),
    ],
)
def test_running_a_database_is_no_query(prompt: str, about: bool) -> None:
    assert (about_request(tokenize(prompt), False, True) is not None) is about


@pytest.mark.parametrize(
    ("prompt", "chosen"),
    [
        ("explain what this python code does: [x for x in xs if x > 3]", None),
        ("Postgres replication lag keeps growing on the replica, what should I check?", None),
        ("do you capitalise 'gran' in the middle of a sentence?", None),
        # the expert's own requests
        ("python function that returns the largest item of a list", "expert-python"),
        ("is 'Close the door.' a command?", "expert-english-basic"),
    ],
)
def test_round_23_prompts_go_where_their_writers_meant(prompt: str, chosen: str | None) -> None:
    assert ROUTER.route(prompt).chosen == chosen
