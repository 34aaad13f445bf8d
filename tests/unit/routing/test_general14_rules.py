"""The rules docs/routing.md ("After general13") added after the first runs of general14.tsv
to general17.tsv (5,430 general prompts) and blind50 to blind61: a prose piece asked for
is no artifact of an expert, "get" before a condition or after "did" asks for nothing,
"<language> one liner" names the language, a word only code uses makes a named language
meant, "make ... faster" reaches past a quotation and takes any comparative, an ordering
word makes a snake_case table a query's, Rust's types show Rust, more languages no demo
expert writes and no-code tools, "whose <column> =" filters, and "is this line a
command?" asks a label question.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.artifacts import asks_for_artifact, asks_for_prose
from hxpm.routing.identifiers import identifier_query
from hxpm.routing.labels import CLASSIFY_TASK, SENTENCE_TYPE_TASK, label_question
from hxpm.routing.languages import programming_languages, uses_code_words
from hxpm.routing.shapes import language_shapes
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


@pytest.mark.parametrize(
    ("prompt", "prose"),
    [
        ("write a thank-you note to the database team for the migration weekend", True),
        ("can you write an email to query a late delivery from our supplier", True),
        ("draft and then write a short speech for the python club's tenth birthday", True),
        ("help me write a one-page summary of the database migration for the board", True),
        # the thing made is code or data, or nothing is made
        ("write a query for the members who joined in May", False),
        ("give me the json object for a grey hoodie, size M", False),
        ("is a toast the same as a speech?", False),
    ],
)
def test_a_prose_piece_is_what_a_writing_request_makes(prompt: str, prose: bool) -> None:
    assert asks_for_prose(tokenize(prompt)) is prose


@pytest.mark.parametrize(
    ("prompt", "expert"),
    [
        ("write a farewell email for our sql developer, she is moving to Lisbon", None),
        ("write a short poem about a rusty gate for my allotment newsletter", None),
        # the prose piece is handed over as material, or code is asked for
        ("write a query that lists the emails in the subscribers table", "expert-sql"),
        ("write a python function that counts the words in an email", "expert-python"),
    ],
)
def test_a_request_for_prose_is_read_by_the_intent_model(prompt: str, expert: str | None) -> None:
    assert ROUTER.route(prompt).chosen == expert


@pytest.mark.parametrize(
    ("prompt", "asks"),
    [
        ("what roles could I get if I learn cypher properly?", False),
        ("which jobs can you get when you know rust", False),
        # "get" that takes what it fetches
        ("get all rows from visitors where the ticket is a season pass", True),
    ],
)
def test_get_before_a_condition_asks_for_nothing(prompt: str, asks: bool) -> None:
    assert asks_for_artifact(tokenize(prompt)) is asks


def test_five_topic_ideas_are_prose() -> None:
    assert not asks_for_artifact(tokenize("give me 5 fresh topic ideas for my grammar blog"))


@pytest.mark.parametrize(
    ("prompt", "languages"),
    [
        ("perl one liner to count the lines of a log", {"perl": "perl"}),
        ("a ruby one-liner that squares each number", {"ruby": "ruby"}),
        ("go oneliner to print the date", {"go": "go"}),
        # the gem, the verb: no language without the code noun
        ("ruby one of the birthstones for july?", {}),
        ("go one step further with the garden plan", {}),
    ],
)
def test_a_one_liner_names_its_language(prompt: str, languages: dict[str, str]) -> None:
    assert programming_languages(tokenize(prompt), False) == languages


def test_a_one_liner_in_another_language_is_not_the_python_experts() -> None:
    assert ROUTER.route("ruby one liner to sort words by length").chosen is None
    assert ROUTER.route("python one-liner to sort words by length").chosen == "expert-python"


def test_make_faster_reaches_past_a_quotation() -> None:
    assert not asks_for_artifact(tokenize('they claim the cache will make the site "3x faster"'))
    assert asks_for_artifact(tokenize("make a rust function that doubles a number"))


@pytest.mark.parametrize(
    ("prompt", "expert"),
    [
        ("python fahrenheit to celsius func", "expert-python"),
        ("rust: sum of a vec of floats", "expert-rust"),
        # no word only code uses: the snake, the bike chain
        ("my python keeps hiding under its water bowl", None),
    ],
)
def test_a_word_only_code_uses_makes_a_named_language_meant(
    prompt: str, expert: str | None
) -> None:
    assert ROUTER.route(prompt).chosen == expert


def test_code_words_are_words_only_code_uses() -> None:
    assert uses_code_words(tokenize("drop the rows of df where it is NaN"))
    assert not uses_code_words(tokenize("drop the kids at the pool"))


@pytest.mark.parametrize(
    ("prompt", "asks"),
    [
        ("how can I make my cover letter punchier?", False),
        ("make the intro more formal please", False),
        ("where did the word 'bug' get its meaning?", False),
        # a thing made, and "get" that fetches
        ("make a query for the tallest trees in park_trees", True),
        ("how do I get the rows where price is null", True),
    ],
)
def test_comparatives_and_did_get_ask_for_nothing_made(prompt: str, asks: bool) -> None:
    assert asks_for_artifact(tokenize(prompt)) is asks


@pytest.mark.parametrize(
    ("prompt", "found"),
    [
        ("the 3 cheapest rooms in hotel_rooms by nightly_rate", "in hotel_rooms"),
        ("show boats in harbour_berths, largest first", "in harbour_berths"),
        # no ordering or aggregate word: a folder, not a table
        ("open the files in my_docs", None),
    ],
)
def test_an_ordering_word_makes_a_snake_case_table_a_query(prompt: str, found: str | None) -> None:
    assert identifier_query(prompt) == found


@pytest.mark.parametrize(
    ("prompt", "shows_rust"),
    [
        ("a function taking &[u32] that returns the max", True),
        ("fill a Vec<f32> with zeros", True),
        ("convert a &str to uppercase", True),
        ("sum a list of usize values", True),
        # youth teams and cameras
        ("our u16 squad needs a new kit sponsor", False),
        ("is u8 football too young for heading the ball?", False),
    ],
)
def test_rust_types_show_rust(prompt: str, shows_rust: bool) -> None:
    shapes = language_shapes(tokenize(prompt), prompt)
    assert ("rust" in shapes) is shows_rust


@pytest.mark.parametrize(
    ("prompt", "languages"),
    [
        ("Write a PowerShell script that renames the scans", {"powershell": "powershell"}),
        ("a pascal program to add two numbers", {"pascal": "pascal"}),
        # a unit, a speech sound
        ("what is a pascal of pressure", {}),
        ("my son has a slight lisp", {}),
    ],
)
def test_more_languages_no_demo_expert_writes(prompt: str, languages: dict[str, str]) -> None:
    assert programming_languages(tokenize(prompt), False) == languages


def test_a_powershell_script_is_no_sql_request() -> None:
    prompt = "Write a PowerShell script that copies the records folder every night"
    assert ROUTER.route(prompt).chosen is None


@pytest.mark.parametrize(
    ("prompt", "expert"),
    [
        ("how do I add a rollup to my airtable base that counts linked records", None),
        ("power bi: show each region's sales as a share of the column total", None),
        ("my pivot table shows counts instead of sums, how do I change it", None),
        # SQL named still asks for SQL
        ("write a sql query for the total sales per region in the orders table", "expert-sql"),
    ],
)
def test_a_no_code_tool_is_not_sql(prompt: str, expert: str | None) -> None:
    assert ROUTER.route(prompt).chosen == expert


def test_whose_filters_a_column_as_where_does() -> None:
    assert identifier_query("all riders whose ride_count > 10") == "whose ride_count >"
    assert identifier_query("a friend whose dog is lovely") is None


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("is this line a command? 'Close the hatch before take-off.'", SENTENCE_TYPE_TASK),
        ("is this email an invoice? 'Amount due: 40 GBP by Friday'", CLASSIFY_TASK),
        # no text handed over
        ("is this line a command or a suggestion in the army?", None),
    ],
)
def test_this_line_is_the_handed_text(prompt: str, task: str | None) -> None:
    found = label_question(prompt)
    assert (found[0] if found else None) == task
