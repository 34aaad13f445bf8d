"""The rules docs/routing.md ("After general11") added after the first runs of general11.tsv
(1,567 general prompts) and blind42/43: what "get", "make" and "give" ask for, a tool's
error in quotes, "what do ... mean", frameworks weighed, certifications, an edit verb
before a colon, a comparison further after the edited text, examples of a sentence to
write, a question after a heading's colon, cues for `cargo`, `table` and `sentence`, R by
its libraries, PDO, a table heading before a dash, recency words, and a relationship type
written with its colon.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.artifacts import asks_for_artifact
from hxpm.routing.identifiers import identifier_query
from hxpm.routing.intent import about_request
from hxpm.routing.languages import programming_languages
from hxpm.routing.requests import editing_request, writing_request
from hxpm.routing.shapes import language_shapes
from hxpm.routing.text import is_question, tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


@pytest.mark.parametrize(
    ("prompt", "asks"),
    [
        ("is Rust enough to get a junior embedded job?", False),
        ("will I get better at SQL by doing puzzles?", False),
        ("how does caching make page loads faster?", False),
        ("give me pros and cons of a graph database", False),
        # ...and the same verbs still ask for things
        ("get the names from the members table", True),
        ("make a JSON object for a red scarf", True),
        ("give me the query for the top 5 members", True),
    ],
)
def test_what_get_make_and_give_ask_for(prompt: str, asks: bool) -> None:
    assert asks_for_artifact(tokenize(prompt)) is asks


def test_an_edit_verb_before_a_colon_hands_over_the_text() -> None:
    assert editing_request(tokenize("pls correct: me and him goes to market yesterday"))
    # "check:" asks a question more often than for an edit
    assert editing_request(tokenize("I want to check: is this line a question?")) is None


def test_a_comparison_may_come_a_few_words_after_the_text() -> None:
    prompt = "make this email to the school office more polite: 'Where is the refund.'"
    assert editing_request(tokenize(prompt)) == "make ... more"


def test_examples_of_a_sentence_are_a_writing_request() -> None:
    prompt = "give me an example of a complex sentence for my class"
    assert writing_request(tokenize(prompt)) == "give ... sentence"


def test_a_question_after_a_headings_colon() -> None:
    assert is_question(tokenize("physics homework: what's the difference between mass and weight"))


def test_r_by_its_libraries_and_php_by_pdo() -> None:
    assert "r" in programming_languages(tokenize("dplyr: keep rows where age > 30"), True)
    assert "php" in programming_languages(tokenize("open a PDO connection to MySQL"), False)
    assert "r" not in programming_languages(tokenize("plan r: move the tables outside"), False)


def test_a_table_heading_before_a_dash_and_recency_words() -> None:
    raw = "ferry_sailings - the 5 most recent sailings, newest departed_at first"
    assert identifier_query(raw) is not None


def test_a_relationship_type_written_with_its_colon() -> None:
    raw = "which Farm nodes reach Market nodes through :SUPPLIES? just the query"
    assert "cypher" in language_shapes(tokenize(raw), raw)
    clock = "meet at 10:30 by the Station"  # no capitals after the colon
    assert "cypher" not in language_shapes(tokenize(clock), clock)


_ROUTES: list[tuple[str, str | None]] = [
    ("Conceptually, how does a hash index make lookups faster?", None),
    ("Should I learn SQL or Tableau first to get better at dashboards?", None),
    ('how do i fix "command not found: node" on my laptop', None),
    ("Which certifications are respected for Rust developers these days?", None),
    ("Laravel or Django for a small booking site?", None),
    ("how do you read a bus timetable table, what do the rows and columns mean", None),
    ("How do cargo ships stay upright in a storm?", None),
    ("What's a 'sentence' in music, like a melody phrase?", None),
    ("can you make this message to my neighbour more friendly? 'Your hedge is on my car.'", None),
    ("Give me an example of a compound sentence and a complex sentence for my lesson.", None),
    ("my son's english homework: what's the difference between a phrase and a clause", None),
    ("R dplyr: how do I keep only the rows where score is above 50?", None),
    ("thinking of a career change: is Postgres enough to get a junior data job?", None),
    # ...while the experts keep their own
    (
        "ferry_sailings - show me the 10 most recent sailings, newest departed_at first",
        "expert-sql",
    ),
    (
        "which Farm nodes are linked to more than 3 Market nodes through :SUPPLIES? just the query",
        "expert-cypher",
    ),
]


@pytest.mark.parametrize(("prompt", "expert"), _ROUTES)
def test_routes_as_the_rules_say(prompt: str, expert: str | None) -> None:
    decision = ROUTER.route(prompt)
    assert decision.chosen == expert, decision.reason


# --- after general12 and blind44 to blind46 -----------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("What is a trait in Rust? Just curious, not looking for code.", "refuses the output"),
        ("Flask vs FastAPI for a tiny API, which is simpler? opinions only", "asks for prose"),
        ("I get ModuleNotFoundError for numpy after installing it, why?", "tool's error"),
    ],
)
def test_refusals_prose_and_errors_after_general12(prompt: str, why: str) -> None:
    tokens = tokenize(prompt)
    about = about_request(tokens, False, is_question(tokens))
    assert about is not None and why in about.reason, about


def test_make_this_more_formal_is_an_edit() -> None:
    prompt = "make this more formal: hey just checking the invoice got paid"
    assert editing_request(tokenize(prompt)) == "make ... more"
    assert ROUTER.route(prompt).chosen is None
