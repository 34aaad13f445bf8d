"""The rules docs/routing.md ("After general27") added after round 26 (general27.tsv, held out
at 303d408, and blind84 and blind85): a question that opens with "why" or asks how other
people cope wants reasons; a named error pasted or a compiler's error code wants an
explanation, not code; more words of running a database; writing *to* someone is prose.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.artifacts import asks_for_prose
from hxpm.routing.intent import about_request
from hxpm.routing.reasons import reported_error
from hxpm.routing.text import is_question, tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


def _about(prompt: str) -> str | None:
    tokens = tokenize(prompt)
    found = about_request(tokens, False, is_question(tokens))
    return None if found is None else found.reason


@pytest.mark.parametrize(
    ("prompt", "reasons"),
    [
        ("why does my numpy array print in scientific notation?", True),
        ("matplotlib: why are my tick labels overlapping?", True),
        ("how do people usually version their database migrations?", True),
        ("do teams actually review every generated query?", True),
        # a sentence to label that opens with "why", and a plain request
        ("why is the bus late again? <- question or statement?", False),
        ("how do I reverse a list in python?", False),
    ],
)
def test_a_why_question_wants_reasons(prompt: str, reasons: bool) -> None:
    assert (_about(prompt) is not None) is reasons


@pytest.mark.parametrize(
    ("prompt", "error"),
    [
        ("my loader dies with ValueError: invalid literal for int()", "valueerror"),
        ("error[E0502]: cannot borrow `v` as mutable because it is also borrowed", "error[...]"),
        ("sqlalchemy.exc.OperationalError: (psycopg2) could not connect", "operationalerror"),
        # an error named as what code should do, and the bare word "error"
        ("write a python function that raises ValueError when the list is empty", None),
        ("it throws an error: def total(xs): return sum(x for x in xs", None),
    ],
)
def test_a_pasted_error(prompt: str, error: str | None) -> None:
    tokens = tokenize(prompt)
    found = reported_error(tokens)
    assert found == error
    # asked for code, the error is what the code does
    if "write a python function" in prompt:
        assert ROUTER.route(prompt).chosen == "expert-python"


@pytest.mark.parametrize(
    ("prompt", "prose"),
    [
        ("write to the client that the migration slips to March", True),
        ("draft to our landlord that the boiler is broken again", True),
        # a table is no one to write to
        ("write to the users table a row for Ada", False),
    ],
)
def test_writing_to_someone_is_prose(prompt: str, prose: bool) -> None:
    assert asks_for_prose(tokenize(prompt)) is prose


@pytest.mark.parametrize(
    ("prompt", "chosen"),
    [
        ("Why does pandas turn my integer column into floats after a merge?", None),
        ("TypeError: 'NoneType' object is not subscriptable -- what am I doing wrong?", None),
        ("error[E0106]: missing lifetime specifier on my struct field, what does it want?", None),
        ("is pgbouncer in transaction mode worth the pooling trouble for a small app?", None),
        ("write to the customer that their refund for the size M jacket is on its way", None),
        # the requests these rules must leave alone
        ("write a python function that returns the square of x", "expert-python"),
        ("count the rows in the orders table where status is 'late'", "expert-sql"),
        ("is 'why is the sky blue' a question, a statement or a command?", "expert-english-basic"),
    ],
)
def test_round_26_prompts_go_where_their_writers_meant(prompt: str, chosen: str | None) -> None:
    assert ROUTER.route(prompt).chosen == chosen
