"""The rules docs/routing.md ("After general23") added after the first runs of general23.tsv
(1,863 general prompts) and blind77: a JSON object with other fields than the expert's own
(its description's ``{item, color, size}``) is another object; "json for a ..." and "an
example JSON record" name the answer's format; "just explain", "without rewriting it", "I
don't need a rewritten query" and "I'll fix it myself" refuse the output; connecting a tool
to a database is setting it up; "could he get in legal trouble" asks for advice; "walk me
through" asks for an explanation; "a recipe for disaster" and "is that a bug or is ..." are
no label questions; "this chord chart label" is a label, not labelling; "suggest something
punchier" asks for a better text; a conversion into MongoDB is no SQL; a request for prose
("draft a job ad", "write release notes from this changelog: ...") is not the expert's whose
words stand only in the text handed over.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.artifacts import asks_for_prose, output_formats
from hxpm.routing.fields import asked_fields, other_fields, schema_fields
from hxpm.routing.intent import about_request, refused_output
from hxpm.routing.labels import label_question, labelling_request
from hxpm.routing.requests import conversion_request, editing_request
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()
JSON_SCHEMA = schema_fields("get a fixed-schema JSON object {item, colour, size} (demo)")


def test_the_schema_comes_from_the_description() -> None:
    assert {"item", "color", "size"} == JSON_SCHEMA
    assert schema_fields("Turn a simple request into one line of SQL") == frozenset()


@pytest.mark.parametrize(
    ("prompt", "foreign"),
    [
        ("json for a lighthouse record: name, year built, height in metres", 3),
        ("an example JSON record for a pump with pump_id, flow_lpm and status", 3),
        # the expert's own fields, one aside, or values only: not another object
        ("JSON with item, colour and size for a navy blazer, 42R, price 90", 0),
        ("burgundy waistcoat, 40R - give me the json", 0),
        ("as json: brand Nike, grey joggers, size M", 0),
    ],
)
def test_other_fields_make_another_object(prompt: str, foreign: int) -> None:
    assert len(other_fields(JSON_SCHEMA, asked_fields(tokenize(prompt)))) == foreign


@pytest.mark.parametrize(
    ("prompt", "chosen"),
    [
        ("Give me a JSON object for a lighthouse: name, year built, height", None),
        ("an example json record for a pump with pump_id, flow_lpm and status", None),
        ("JSON object for a teal rain jacket, size M", "expert-json"),
    ],
)
def test_a_json_object_of_other_fields_stays_with_the_base(prompt: str, chosen: str | None) -> None:
    assert ROUTER.route(prompt).chosen == chosen


@pytest.mark.parametrize(
    ("prompt", "found"),
    [
        ("json for a lighthouse record: name, year built", "json for a"),
        ("give me an example JSON record for a pump", "a json record"),
        ("json: red scarf, one size", None),
    ],
)
def test_json_for_a_names_the_answers_format(prompt: str, found: str | None) -> None:
    assert output_formats(tokenize(prompt)).get("json") == found


@pytest.mark.parametrize(
    ("prompt", "refused"),
    [
        ("why is SELECT * FROM rides slow on a big table? just explain the reasons", True),
        ("Without rewriting it, explain why SELECT name FROM pets ORDER BY age is slow", True),
        ("is this query slow: SELECT * FROM logs - I don't need a rewritten query", True),
        ('explain the risk in $q = "SELECT * FROM t WHERE id=" . $id, I\'ll fix it myself', True),
        # a constraint on the rewrite, a need of something else, a loop not written
        ("rewrite this query but don't change the column names: SELECT a FROM t", False),
        ("I don't need the old rows, delete them from logs", False),
        ("sum a list in python without writing a loop", False),
    ],
)
def test_refusals_of_the_output(prompt: str, refused: bool) -> None:
    assert (refused_output(tokenize(prompt)) is not None) is refused


@pytest.mark.parametrize(
    ("prompt", "about"),
    [
        ("how do I connect Metabase to a MySQL database?", True),
        ("How do I connect to a Postgres server from Go?", True),
        ("could my son get in legal trouble for a python bot that books tickets?", True),
        ("walk me through the bellman-ford algorithm on a small graph", True),
        # a relationship connects nodes; a query walked through is handed over
        ("how do I connect two Person nodes with a KNOWS relationship?", False),
        ("walk me through this query", False),
    ],
)
def test_about_the_technology(prompt: str, about: bool) -> None:
    tokens = tokenize(prompt)
    assert (about_request(tokens, False, True) is not None) is about


@pytest.mark.parametrize(
    ("prompt", "asked"),
    [
        ("It's a recipe for disaster: two cooks, one oven. How do I plan the day?", False),
        ("is that a bug or is the limit only checked client-side? how do I find out", False),
        ("is this a recipe or a contract? 'Whisk two eggs with the sugar'", True),
    ],
)
def test_idioms_and_clauses_are_no_label_questions(prompt: str, asked: bool) -> None:
    assert (label_question(prompt) is not None) is asked


@pytest.mark.parametrize(
    ("prompt", "labelling"),
    [
        ("translate this chord chart label into Spanish: 'Acordes en Re mayor'", False),
        ("please label this text by type: 'Invoice 22, total due 40 EUR'", True),
        ("can you label this for me: 'Whisk two eggs with the sugar'", True),
    ],
)
def test_a_label_after_its_noun_phrase_is_a_noun(prompt: str, labelling: bool) -> None:
    assert (labelling_request(tokenize(prompt)) is not None) is labelling


@pytest.mark.parametrize(
    ("prompt", "editing"),
    [
        ("The opening sentence is weak. Can you suggest something punchier?", True),
        ("this sentence feels flat, give me three stronger openers", True),
        ("give me a better name for the orders table", True),
        ("suggest a sentence that uses 'serendipity'", False),
    ],
)
def test_a_better_text_asked_for_is_an_edit(prompt: str, editing: bool) -> None:
    assert (editing_request(tokenize(prompt)) is not None) is editing


def test_a_sentence_to_strengthen_stays_with_the_base() -> None:
    prompt = 'The sentence "Sales rose across all regions" feels empty. Suggest something punchier?'
    assert ROUTER.route(prompt).chosen is None


def test_a_conversion_into_mongodb_is_not_sql() -> None:
    prompt = "convert this to a MongoDB query: SELECT * FROM riders WHERE active = 1"
    conversion = conversion_request(tokenize(prompt))
    assert conversion is not None and conversion.target == "mongodb"
    assert ROUTER.route(prompt).chosen is None
    assert ROUTER.route("convert this to SQL: every rider who is active").chosen == "expert-sql"


@pytest.mark.parametrize(
    ("prompt", "prose"),
    [
        ("Draft a job ad for a data manager who knows SQL", True),
        ("write release notes from this changelog: - fix json parser", True),
        ("Write a two-sentence label about it for children", True),
        ("draft and then write a short toast for the python club", True),
        # code asked for, and a one-line query is no length of prose
        ("write a one-line query for the orders table", False),
        ("draft a query that counts the orders", False),
    ],
)
def test_prose_asked_for(prompt: str, prose: bool) -> None:
    assert asks_for_prose(tokenize(prompt)) is prose


@pytest.mark.parametrize(
    ("prompt", "chosen"),
    [
        ("Write user-facing release notes from this changelog: - bump serde - fix panic", None),
        ("Draft a job ad for a data analyst. Must know Postgres and dbt; remote is fine.", None),
        # the expert's task named in the request itself
        ("write a rust function from this note: - returns the square of x", "expert-rust"),
    ],
)
def test_a_request_for_prose_is_not_the_handed_texts_expert(
    prompt: str, chosen: str | None
) -> None:
    assert ROUTER.route(prompt).chosen == chosen


@pytest.mark.parametrize(
    ("prompt", "chosen"),
    [
        ("My lease mentions a dining table and chairs in Appendix A. Do I own them?", None),
        ("Walk me through Dijkstra's algorithm on a graph with 6 nodes", None),
        ("Please tidy up this markdown table: | name | role | |--|--| | ana | qa |", None),
    ],
)
def test_everyday_tables_and_graphs(prompt: str, chosen: str | None) -> None:
    assert ROUTER.route(prompt).chosen == chosen
