"""The rules docs/routing.md ("After general28") added after round 27 (general28.tsv, held out
at 1ec64b9, and blind86 and blind87): a summary, gist, tl;dr or critique of a handed-over text
is prose whatever the text holds; a tool's error pasted under its label ("dbt error: ...")
wants an explanation; restarting, reloading, partitioning, archiving and disks are running a
database; a sentence asked for is prose.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.artifacts import asks_for_prose
from hxpm.routing.reasons import reported_error
from hxpm.routing.requests import editing_request, request_frame
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


@pytest.mark.parametrize(
    ("prompt", "framed"),
    [
        # identifiers and symbols inside the text summarised do not make it code
        ('tldr: "the sync_orders job now retries (max 3) before paging on-call"', True),
        ('give me the gist of this: "we moved user_id to a uuid column; no downtime"', True),
        ('critique this status update: "db-prod-2 failover took 41s (target: 30s)"', True),
        # an edit that is not a summary keeps code as code
        ('rewrite this: "SELECT name FROM users WHERE age > 30"', False),
        # code in the request itself is code
        ("tl;dr of users.find_all(): it loads everything, right?", False),
    ],
)
def test_a_digest_frames_the_text_it_hands_over(prompt: str, framed: bool) -> None:
    assert bool(request_frame(tokenize(prompt), False)) is framed


@pytest.mark.parametrize(
    ("prompt", "editing"),
    [
        ("tl;dr of this? 'the office moves to the fourth floor in May'", "tl;dr"),
        ("what's the gist of this memo", "gist"),
        ("one-line summary of this changelog please", "summary of"),
        ("critique my cover letter", "critique"),
        ("write a summary table of sales", None),
    ],
)
def test_digest_words_make_an_editing_request(prompt: str, editing: str | None) -> None:
    assert editing_request(tokenize(prompt)) == editing


@pytest.mark.parametrize(
    ("prompt", "error"),
    [
        ('dbt error: "relation analytics.orders does not exist"', "dbt error"),
        ("Tableau says: Data source error: login failed for user svc_bi", "source error"),
        # any error, not a named kind of one
        ("it throws an error: def total(xs): return sum(xs", None),
        ("I get the same error: connection refused", None),
    ],
)
def test_a_labelled_tool_error(prompt: str, error: str | None) -> None:
    assert reported_error(tokenize(prompt)) == error


@pytest.mark.parametrize(
    ("prompt", "prose"),
    [
        ("give me a sentence for the newsletter saying the database upgrade is done", True),
        ("write two sentences announcing the new SQL training", True),
        # a query is asked for, the sentence is not
        ("give me the query that counts users", False),
    ],
)
def test_a_sentence_asked_for_is_prose(prompt: str, prose: bool) -> None:
    """Prose asked for lifts the shield an artifact request gives a prompt against the
    intent model's veto (veto.py); the model still decides."""
    assert asks_for_prose(tokenize(prompt)) is prose


@pytest.mark.parametrize(
    ("prompt", "chosen"),
    [
        (
            (
                'Summarise in one line: "the nightly load skipped the orders table after '
                'order_total was renamed to total_cents; dashboards were stale until 10:00"'
            ),
            None,
        ),
        ('tl;dr? "We pause the Rust rewrite of billing until Q3; Java gets only fixes."', None),
        ('dbt error: "Database Error in model stg_orders: column amount does not exist"', None),
        ("do I have to restart MySQL after changing innodb_buffer_pool_size?", None),
        ("our events table in Postgres doubles each quarter. partitioning or archiving?", None),
        # the requests these rules must leave alone
        ("count the rows in the orders table where status is 'late'", "expert-sql"),
        ("write a python function that returns the square of x", "expert-python"),
        (
            "is 'summarise the report by Friday' a question, a statement or a command?",
            "expert-english-basic",
        ),
    ],
)
def test_round_27_prompts_go_where_their_writers_meant(prompt: str, chosen: str | None) -> None:
    assert ROUTER.route(prompt).chosen == chosen
