"""The rules docs/routing.md added after the fourth, fifth and sixth blind sets' first runs
(78, 87 and 86 of 90): questions about a concept and reviews in prose are about a technology;
"my"/"our" supply material only when they own a piece of work; a language named after
"in"/"to" past another is the answer's; a format expert is not asked for an object its
training prompts never describe; word classes; snake_case names in a query's places; a
language named by its place; sorting and label questions.

Each rule is tried on prompts other than the blind sets', traps included, over the demo
experts as published (manifests plus profiles from their real training prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.identifiers import IDENTIFIER_QUERY
from hxpm.routing.labels import CLASSIFY_TASK, SENTENCE_TYPE_TASK, label_question, labelling_request
from hxpm.routing.languages import named_as_language, programming_languages, target_language
from hxpm.routing.markers import code_marker
from hxpm.routing.profile import Profile
from hxpm.routing.profile_index import ProfileIndex
from hxpm.routing.shapes import language_shapes
from hxpm.routing.text import artifact_marker, tokenize
from tests.unit.routing.test_blind3_rules import _about
from tests.unit.routing.test_shapes import _reasons, demo_router

ROUTER = demo_router()


def _chosen(prompt: str) -> str | None:
    return ROUTER.route(prompt).chosen


# --- about, not for: concepts and reviews ------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("What does YAML stand for?", "concept"),
        ("Is SQL short for something?", "concept"),
        ("How do MySQL and Postgres differ?", "concept"),
        ("What are the advantages of Rust over C++?", "concept"),
        ("Could you review my Python for readability? def f(x): return x*2", "review"),
        ("Give me feedback on this query: SELECT * FROM t", "review"),
    ],
)
def test_concept_questions_and_reviews_are_about_the_technology(prompt: str, why: str) -> None:
    reason = _about(prompt)
    assert reason is not None and why in reason, reason


@pytest.mark.parametrize(
    "prompt",
    [
        "write a query for the difference between two dates",  # an artifact is asked
        "review and fix this SQL: SELEC name FORM users",  # a rewrite is asked
        "SELECT price - cost AS difference FROM items",  # code shown, no question
    ],
)
def test_a_concept_word_in_a_task_is_part_of_the_task(prompt: str) -> None:
    assert _about(prompt) is None


def test_a_refused_review_is_no_review() -> None:
    prompt = "is 'Shut the gate.' a statement or a command? just the type, no feedback"
    assert _about(prompt) is None
    assert _chosen(prompt) == "expert-english-basic"


def test_a_review_in_prose_goes_to_the_base_a_fix_to_the_expert() -> None:
    assert (
        _chosen("Can you review this Rust for idioms? fn f(x: i32) -> i32 { return x+1; }") is None
    )
    assert _chosen("review and fix this Rust: fn f(x: i32) -> i32 { x + }") == "expert-rust"


# --- "my"/"our" ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "marker"),
    [
        ("what does our analyst mean by a LEFT JOIN?", None),
        ("what is JSON, my manager keeps saying it", None),
        ("what is wrong with my query", "my"),
        ("what does our sales table look like in SQL", "our"),
    ],
)
def test_possessives_supply_material_only_when_they_own_work(
    prompt: str, marker: str | None
) -> None:
    assert artifact_marker(tokenize(prompt), prompt) == marker


def test_a_concept_question_that_names_a_colleague_goes_to_the_base() -> None:
    assert _chosen("What's the difference between GROUP BY and ORDER BY? Our intern asked.") is None


# --- the answer's language ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "target"),
    [
        ("the Kotlin version of a Python dict comprehension in Java", "java"),
        ("rewrite this python loop in rust", "rust"),
        ("python function that reads a json file", None),  # one language
        ("is Rust faster than Go?", None),  # no 'in'/'to' before the later one
    ],
)
def test_target_language(prompt: str, target: str | None) -> None:
    tokens = tokenize(prompt)
    named = {**programming_languages(tokens, True)}
    for word in ("python", "rust"):
        if word in tokens.words:
            named.setdefault(word, word)
    assert target_language(tokens, named) == target


def test_the_starting_language_is_not_asked_for() -> None:
    assert _chosen("How would I write a Python generator in JavaScript?") is None
    # The answer's language keeps its expert (expert-rust excludes 'python', so a Go source)
    assert _chosen("port this Go helper to rust: func double(x int) int { return 2 * x }") == (
        "expert-rust"
    )


# --- the object, not only the format -----------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("turn this booking into JSON: guest Ana Ruiz, room 12, two nights", None),
        ("as JSON please: flight BA123, seat 14C, gate 22", None),
        ("give me a JSON object for a movie with a title and a year", None),
        ("turn this into JSON: a navy parka, size XL", "expert-json"),
        ("as json: olive linen trousers, medium", "expert-json"),
        ("Classify this text and answer as JSON: 'Mix the flour and bake for 20 minutes.'", None),
    ],
)
def test_a_format_expert_needs_an_object_its_data_describes(
    prompt: str, expected: str | None
) -> None:
    d = ROUTER.route(prompt)
    if expected is None and "Classify" in prompt:
        assert d.chosen == "expert-document-classifier"  # the classifier's own request
        return
    assert d.chosen == expected, d.reason
    if expected is None:
        reasons = " ".join(next(s for s in d.scores if s.name == "expert-json").reasons)
        assert "never describe" in reasons or "score 0" in reasons


# --- word classes --------------------------------------------------------------------------------


def _index(*terms: dict[str, float]) -> ProfileIndex:
    return ProfileIndex([Profile(100, t) for t in terms])


def test_a_profile_that_knows_three_colours_knows_an_unseen_one() -> None:
    colours = {"red": 0.2, "green": 0.2, "blue": 0.2, "coat": 0.3}
    two = {"red": 0.2, "green": 0.2, "coat": 0.3}
    pm = _index(colours, two).match("a teal coat")
    knows, falls_short = pm[0], pm[1]
    assert dict(knows.contributions)["teal"] > 0
    assert "teal" not in dict(falls_short.contributions)  # two colours are not a class
    assert knows.by_class > 0 and knows.direct_similarity < knows.similarity
    assert knows.positive == 1  # the coat only: a class member is not a favoured term


def test_a_word_the_profile_knows_itself_is_not_counted_twice() -> None:
    pm = _index({"red": 0.2, "green": 0.2, "blue": 0.2, "teal": 0.05}).match("teal")[0]
    assert pm.by_class == 0 and dict(pm.contributions)["teal"] > 0


def test_word_classes_route_unseen_garments_but_not_style_advice() -> None:
    assert _chosen("json for a mustard corduroy parka, XL") == "expert-json"
    assert _chosen("{item, color, size} for a turquoise cardigan in small") == "expert-json"
    assert _chosen("What colour scarf goes with a teal coat?") is None
    assert "by word class" in " ".join(_reasons("as json: a maroon kilt, large", "expert-json"))


# --- snake_case names in a query's places ---------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "found"),
    [
        ("how many parcels in depot_stock are older than 30 days", True),
        ("avg_fare per route_id", True),
        ("delete everything in old_bookings where trip_date is before 2020", True),
        ("vehicles where fuel_level is below 10", True),
        ("avg trip_minutes from journeys", True),
        ("I saved it in my_docs, show me how to open it", False),
        ("write a function total_by_region that sums amount per region_id", False),
        ("count the words in file_name.txt", False),
    ],
)
def test_identifier_query_shape(prompt: str, found: bool) -> None:
    shape = language_shapes(tokenize(prompt), prompt).get("sql", "")
    assert shape.startswith(IDENTIFIER_QUERY) is found, shape


def test_identifier_queries_route_to_sql_unless_another_language_is_named() -> None:
    assert _chosen("how many parcels in depot_stock are older than 30 days") == "expert-sql"
    assert _chosen("pandas: drop rows of df where fuel_level is below 10") == "expert-python"


# --- a language named by its place ------------------------------------------------------------


def test_named_by_place() -> None:
    before, heading = named_as_language(tokenize("rust: celsius to kelvin"))
    assert heading == {"rust"} and not before
    before, heading = named_as_language(tokenize("a pyhton helper to sort names"))
    assert before == {"pyhton"} and not heading
    assert _chosen("rust: celsius to kelvin") == "expert-rust"
    assert _chosen("pyhton fn that counts the vowels of a word") == "expert-python"
    assert _chosen("rust on the garden gate, how do I treat it?") is None


def test_the_request_frame_does_not_back_an_everyday_word() -> None:
    # "need" is in the Rust expert's training prompts ("I need a fn that ..."): it is how a
    # request is framed, not what it is about, so it does not make "cargo" Rust's.
    assert _chosen("How much cargo room would a trailer need for six bikes?") is None
    assert _chosen("I need a fn that doubles an i32") == "expert-rust"


def test_a_relationship_type_with_rels() -> None:
    shapes = language_shapes(
        tokenize("path from A to B over LINKS rels"), "path from A to B over LINKS rels"
    )
    assert shapes.get("cypher") == "the relationship type 'LINKS'"


def test_a_solar_array_is_not_code_a_numpy_array_is() -> None:
    assert code_marker(tokenize("the rooftop array"), "the rooftop array") is None
    assert _chosen("There is rust on the frame of the rooftop array, how do I treat it?") is None
    assert _chosen("use numpy to get the max of array v") == "expert-python"


def test_a_question_asking_for_data_written_out_is_a_request() -> None:
    prompt = "Stock note: grey wool joggers, large. Can you output it as item, color and size?"
    assert _chosen(prompt) == "expert-json"
    assert _chosen("Which colour joggers go with a grey hoodie?") is None


def test_a_prose_semicolon_is_not_code() -> None:
    assert code_marker(tokenize("it is late; how do I ask"), "it is late; how do I ask") is None
    assert code_marker(tokenize("x = 1; y = 2"), "x = 1; y = 2") is not None
    prompt = "our relationship with the supplier is strained; how do I fix it?"
    assert _chosen(prompt) is None


# --- sorting requests and label questions ------------------------------------------------------


def test_sorting_a_text_into_a_kind_is_a_labelling_request() -> None:
    assert labelling_request(tokenize("file this email under the correct category")) is not None
    assert labelling_request(tokenize("sort the laundry into the right pile")) is None  # no text
    assert labelling_request(tokenize("sort this into the correct document pile: 'Dear Sir, ...'"))
    assert labelling_request(tokenize("label this email for the archive: 'Your order shipped'"))
    assert labelling_request(tokenize("label this email for the archive")) is None  # no text
    assert _chosen("put this document in the right folder: 'Total due: 40 EUR by 1 May'") == (
        "expert-document-classifier"
    )


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("Is 'Shut the window.' a command?", SENTENCE_TYPE_TASK),
        ("is this one an exclamation? 'What a day!'", SENTENCE_TYPE_TASK),
        ("Receipt or invoice? 'Paid in full, thank you, 12.50'", CLASSIFY_TASK),
        ("is this a recipe: 'Whisk two eggs with milk'", CLASSIFY_TASK),
        ("Is this a good question?", None),  # no text handed over
        ("Is 'Python' a good first language?", None),  # not a kind of the two tasks
        ("coffee or tea? I can't decide", None),
    ],
)
def test_label_questions(prompt: str, task: str | None) -> None:
    found = label_question(prompt)
    assert (found[0] if found else None) == task


def test_label_questions_reach_their_experts() -> None:
    assert _chosen("Is 'Shut the window.' a command?") == "expert-english-basic"
    assert _chosen("Receipt or invoice? 'Paid in full, thank you, 12.50'") == (
        "expert-document-classifier"
    )
    assert _chosen("Is this a good question?") is None


# --- robustness ---------------------------------------------------------------------------------


def test_word_salad_from_every_set_never_breaks_the_router() -> None:
    """Rules that read a prompt's shape (formats, requests, labels, headings) must not assume
    a shape they did not check: 4000 prompts stitched at random from runs of 1-5 words of
    every routing set's prompts route to a valid decision. (A StopIteration that once
    escaped from "put this document in the right folder: ..." is pinned by the sorting test
    above; this salad does not reach it, so it guards the common shapes only.)"""
    import random
    from pathlib import Path

    sets = Path(__file__).resolve().parents[2] / "fixtures" / "routing"
    prompts = [
        line.split("\t")[0].split()
        for f in sorted(sets.glob("*.tsv"))
        for line in f.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    rng = random.Random(14)
    names = {c.name for c in ROUTER.candidates}
    for _ in range(4000):
        parts = []
        for _ in range(rng.randint(1, 4)):
            words = rng.choice(prompts)
            start = rng.randrange(len(words))
            parts += words[start : start + rng.randint(1, 5)]
        d = ROUTER.route(" ".join(parts))
        assert d.chosen is None or d.chosen in names


# --- blind9 and blind10's rules ------------------------------------------------------------------


BLIND9_AND_10: list[tuple[str, str | None]] = [
    # a function word backs nothing: "first" and "around" are in any prompt
    ("Is a python curled around a skull a good first tattoo?", None),
    # a short heading before a colon names the language
    ("plain rust please: double an i32", "expert-rust"),
    ("quick python please: sum a list", "expert-python"),
    # an aggregate of a snake_case column, a ranking by one
    ("distinct trail_name values from hikes", "expert-sql"),
    ("top 3 climbers by route_count", "expert-sql"),
    # what users call JSON without saying it; "sz" for size
    ("structured record please: a lilac blouse, small", "expert-json"),
    ("structured record please: guest Ana Ruiz, room 12, two nights", None),
    ("red wool coat sz 12", "expert-json"),
    # 'bucket' as a verb, with the text handed over
    (
        "bucket this one: 'Total due 20 EUR by Friday, account 1234'",
        "expert-document-classifier",
    ),
    # a rewrite of a sentence's tone is an edit, not a sentence type
    ("make this sentence sound friendlier: 'Send it now.'", None),
    # is it a sensible choice: advice
    ("Is Postgres a sensible choice for a tiny club website, or overkill?", None),
    # an order of flowers is not a garment, whatever the format
    ("Make me a JSON object describing a cake order: flavour, tiers, date", None),
]


# --- blind11 and blind12's rules -----------------------------------------------------------------


BLIND11_AND_12: list[tuple[str, str | None]] = [
    # a quoted letter is no language C; "to Go" names Go in a prompt with code
    ("every row in ship_cabins where deck is 'C'", "expert-sql"),
    ("Convert this to Go: def half(x): return x / 2", None),
    # a table written with its columns, and a comparison
    (
        "gig_slots(band, stage, minutes, start_at) - which slots run more than 45 minutes?",
        "expert-sql",
    ),
    # more garments
    ("tutu - lilac - age 4-5", "expert-json"),
    # "this is a <kind>" as well as "is this a <kind>"; a bare "label pls:"
    (
        "Tell me if this is a statement or not: The ferry leaves at noon.",
        "expert-english-basic",
    ),
    (
        "label pls: 'Invoice 88: 3 crates of apples, 45 EUR, due in 30 days'",
        "expert-document-classifier",
    ),
    (
        "sort this document by type: 'Dear tenant, the rent rises to 900 in May.'",
        "expert-document-classifier",
    ),
    # classifying things that are not texts: not the classification task
    ("Can you classify these birds for my notebook: robin, wren, kestrel?", None),
    (
        "How do gardeners classify a rose's scent? What makes 'strong' differ from 'light'?",
        None,
    ),
    (
        "classify these emails: 'Your parcel is on its way' / 'Invoice 77 attached'",
        "expert-document-classifier",
    ),
]


def test_a_keyword_and_its_synonym_are_one_task_word() -> None:
    prompt = "I have to classify the shells we found. What categories do collectors use?"
    assert _chosen(prompt) is None


# --- blind13's rules -----------------------------------------------------------------------------


BLIND13: list[tuple[str, str | None]] = [
    ("miles to km in python", "expert-python"),  # the answer's language, last
    ("a python in the garden shed, what do I do?", None),
    ("pull {item, color, size} out of 'a mustard cargo jacket, size M'", "expert-json"),
    ("is 'tidy your room' an order or a statement", "expert-english-basic"),
    ("quick query about annual leave: how much of the 5.6 weeks is left after 7 months?", None),
]


def test_a_decimal_is_not_a_file_name() -> None:
    assert code_marker(tokenize("5.6 weeks"), "5.6 weeks") is None
    assert code_marker(tokenize("open main.py"), "open main.py") == "a file name"


def test_blind15_and_blind16_rules() -> None:
    # "label" as a noun at the end is no labelling request, with a quotation or not
    assert _chosen("Translate 'best before June' into Spanish for a jam label") is None
    assert _chosen("label pls: 'Invoice 12, 40 EUR, due Friday'") == "expert-document-classifier"
    # why a query is slow asks for reasons; a faster query asked for is a query
    assert _chosen("Why is my MySQL query so slow when I sort by name?") is None
    assert _chosen("write a faster sql query for the ten newest orders") == "expert-sql"


@pytest.mark.parametrize(
    "prompt",
    [":" * 100_000, "a" * 200_000, "sort this " * 20_000 + "into", "x_y(" + "a, " * 30_000],
    ids=["colons", "one-long-word", "repeated-verb", "open-column-list"],
)
def test_hostile_prompts_route_in_linear_time(prompt: str) -> None:
    """A run of colons once cost a regular expression quadratic time (5.8 s for 30,000), a
    60,000-letter word the misspelling lookup 1 s, a repeated verb the labelling scan 4 s for
    50,000 characters. Each is linear now: the bound is loose (quadratic would take minutes)
    so that a loaded machine does not fail it."""
    import time

    start = time.perf_counter()
    ROUTER.route(prompt)
    assert time.perf_counter() - start < 10.0


# --- quoted words --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "marker"),
    [
        ("her relationship with the agency was 'complicated'", "quoted words"),
        ('the word "serendipity"', "quoted words"),
        ("where kind is 'card'", "a quoted literal"),  # a value after "is"
        ("'5 apples'", "a quoted literal"),  # not only words
        ('say "hello there" then x = 1', "="),  # a stronger marker after it wins
    ],
)
def test_quoted_words_are_the_weakest_code_marker(prompt: str, marker: str) -> None:
    assert code_marker(tokenize(prompt), prompt) == marker


QUOTED_WORDS_AND_CYPHER: list[tuple[str, str | None]] = [
    # quoted words do not take an everyday word out of its everyday sense
    ("My sister said her relationship with her boss was 'fine'. Should I believe her?", None),
    ("My nephew wrote me a cypher: 'Uryyb gurer' - can you crack it?", None),
    # ...but a quoted sentence is what "this sentence" names
    ("Is this sentence asking or telling: 'Has the bus left yet'", "expert-english-basic"),
    # a conversion's target names its language, everyday sense or not
    # (expert-cypher excludes 'sql' itself, not its aliases: docs/routing.md)
    ("convert this postgres query to cypher", "expert-cypher"),
    ("cypher query for every Person node", "expert-cypher"),
]


# --- blind17 and blind18's rules ----------------------------------------------------------------


BLIND17_AND_18: list[tuple[str, str | None]] = [
    ("list every booking in room_bookings made after 2026-01-01", "expert-sql"),
    (
        "Is this a recipe, a letter, or what? 'Whisk the eggs with sugar'",
        "expert-document-classifier",
    ),
    ("Make this sentence shorter: 'I am writing to you in order to ask about the fee.'", None),
    ("Write a JSON schema for a library loan with fields book, member and due", None),
    ("Pros and cons of a graph database for our club? We have 40 members.", None),
    ("In plain terms, how is a graph database different from SQL?", None),
    ("Is this sentence grammatically right: 'Each of them have left.'", None),
    ("grey linen trousers, 32 waist", "expert-json"),
]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [*BLIND9_AND_10, *BLIND11_AND_12, *BLIND13, *QUOTED_WORDS_AND_CYPHER, *BLIND17_AND_18],
)
def test_later_rounds_route_as_their_rules_say(prompt: str, expected: str | None) -> None:
    """One table for the rounds after blind8: each list above holds one round's rules,
    traps included."""
    assert _chosen(prompt) == expected, ROUTER.route(prompt).reason
