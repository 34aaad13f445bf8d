"""The rules docs/routing.md ("Rules from general7 and general8") added after the first runs
of general7.tsv and general8.tsv (2,732 general prompts) and blind30 to blind35: setting a
tool up or a tool's own error, best practice and "makes sense", explaining "in words",
advice asked by "which ... should I", a choice asked by "would you", a passive "get", CSS and
"Swift UI" as languages, more everyday cues, f(x) and x values as maths, more edited texts,
the words of a handed-over text in a translation, sorting things into categories, a topic
before a generic question, and "in what ..." as a question.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.artifacts import asks_for_artifact
from hxpm.routing.intent import about_request
from hxpm.routing.labels import classified_object
from hxpm.routing.languages import named_as_language, programming_languages
from hxpm.routing.markers import snake_case_name
from hxpm.routing.requests import editing_request
from hxpm.routing.senses import cued_senses, maths_cue
from hxpm.routing.shapes import language_shapes
from hxpm.routing.text import generic_opener, is_question, tokenize
from tests.unit.routing.test_shapes import about_reason, demo_router

ROUTER = demo_router()
CLASSIFIER = "expert-document-classifier"


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("how do I install cargo on my work laptop?", "concept ('install')"),
        ("how to uninstall the old postgres before upgrading", "concept ('uninstall')"),
        ("Python or Kotlin for a first Android app, which would you pick?", "choice"),
        ("when would you use a graph database for a parts catalogue?", "choice"),
        ("which shirt size should I buy for a broad chest?", "choice or advice ('which')"),
        ("what category should I file my hobby income under?", "choice or advice ('what')"),
        ("should we keep the rota in SQL or in a shared sheet?", "choice or advice ('should')"),
        ("how do document stores handle joins differently?", "concept ('differently')"),
        ("is a graph database basically a set of linked tables?", "concept ('basically')"),
        ("how did JSON get invented, and by whom?", "concept ('invented')"),
        ("the terminal says cargo: command not found, help", "tool's error"),
        ("is it good practice to keep prices in a JSON column?", "choice"),
        ("when does it make sense to split a Rust crate in two?", "choice"),
        ("sqlite vs duckdb quick explanation", "choice or advice ('vs')"),
        ("in physics is a vector the same thing as a ray?", "concept ('same')"),
    ],
)
def test_questions_about_a_technology(prompt: str, why: str) -> None:
    reason = about_reason(prompt)
    assert reason is not None and why in reason, reason


@pytest.mark.parametrize(
    "prompt",
    [
        # the advice words stop at an output noun: the query is what is asked for
        "what query should I write to count bookings per day?",
        # installing is data here, not a question about setting a tool up
        "list the apps installed after May from the installs table",
        # "get" with an object asks for it
        "how do I get every row where status is open from tickets?",
    ],
)
def test_requests_that_only_look_like_questions_about_it(prompt: str) -> None:
    assert about_reason(prompt) is None


def test_explaining_in_words_refuses_the_query_even_with_code() -> None:
    prompt = "SELECT * FROM t WHERE name LIKE '%a%' is slow: explain in words why"
    tokens = tokenize(prompt)
    about = about_request(tokens, True, is_question(tokens))
    assert about is not None and "in words" in about.reason


def test_a_passive_get_asks_for_nothing() -> None:
    assert not asks_for_artifact(tokenize("when did JSON get standardised?"))
    assert asks_for_artifact(tokenize("get the names from the members table"))


def test_css_and_swift_ui_are_languages() -> None:
    css = tokenize("CSS for a card grid with two cards per row on tablets")
    assert "css" in programming_languages(css, False)
    swift = tokenize("how do I make a toggle in Swift UI that hides a label?")
    before, _ = named_as_language(swift)
    assert "swift" in before


@pytest.mark.parametrize(
    ("prompt", "cued"),
    [
        ("does a speeding fine go on your criminal record?", {"record": "criminal"}),
        ("in what order should I paint the walls and ceiling", {"order": "in what order"}),
        ("keep a record of what we spend on seeds in a notebook", {"record": "notebook"}),
        ("the top row of shelves in the pantry wobbles", {"row": "shelves"}),
        ("a scarf in rust orange for autumn", {"rust": "orange"}),
    ],
)
def test_more_cues_of_everyday_senses(prompt: str, cued: dict[str, str]) -> None:
    assert cued_senses(tokenize(prompt)) == cued


def test_a_node_pattern_with_a_capital_label_is_cypher() -> None:
    prompt = "path from (:Station {name:'Leeds'}) to (s:Station)"
    assert "cypher" in language_shapes(tokenize(prompt), prompt)
    hint = "def area(x: int) -> int, (y: float)"  # Python parameters: lowercase types
    assert "cypher" not in language_shapes(tokenize(hint), hint)


def test_a_snake_case_name_is_material() -> None:
    assert snake_case_name(tokenize("whats the max wave_height in buoy_log")) == "wave_height"
    assert snake_case_name(tokenize("whats the best wave height for surfing")) is None
    assert snake_case_name(tokenize("what is __init__ for")) is None  # a dunder is no column


def test_in_what_opens_a_question() -> None:
    assert is_question(tokenize("in what year did the first database appear"))
    assert not is_question(tokenize("in the orders table count the rows"))


def test_a_topic_before_a_generic_question() -> None:
    assert generic_opener(tokenize("in chemistry what is a mole")) == "what is"
    assert generic_opener(tokenize("in rust, what is a trait object")) == "what is"
    assert generic_opener(tokenize("in the users table find the oldest")) is None


@pytest.mark.parametrize(
    ("prompt", "cue"),
    [
        ("is g(x) = 3x - 1 onto the reals?", "an equation in x"),
        ("can two x values share one y value in a function?", "x values"),
        ("label the x axis of my function plot", "x axis"),
        ("what are the domain and range of 2/(x+1)", "domain and range"),
    ],
)
def test_function_notation_is_maths(prompt: str, cue: str) -> None:
    assert maths_cue(tokenize(prompt)) == cue


@pytest.mark.parametrize(
    ("prompt", "edit"),
    [
        ("polish this tweet: we shipped the new app today and it is great", "tweet"),
        ("make this headline under 60 characters: Local bakery wins award", "under"),
        ("sort out the spelling in this note: 'we has left the keys'", "sort out"),
    ],
)
def test_more_edited_texts(prompt: str, edit: str) -> None:
    asked = editing_request(tokenize(prompt))
    assert asked is not None and edit in asked


@pytest.mark.parametrize(
    ("prompt", "thing"),
    [
        ("put these costs into tax categories: fuel, laptop, lunch with a client", "costs"),
        ("sort my spices into groups: cumin, paprika, basil", "spices"),
    ],
)
def test_sorting_things_into_categories_is_not_classifying_a_text(prompt: str, thing: str) -> None:
    assert classified_object(tokenize(prompt)) == thing


def test_sorting_texts_into_categories_still_classifies_them() -> None:
    prompt = "sort these emails into categories: 'Your invoice #88 is attached', 'Lunch?'"
    assert classified_object(tokenize(prompt)) is None


_ROUTES: list[tuple[str, str | None]] = [
    # setting a tool up
    ("how do i install cargo on a chromebook, rustup keeps failing", None),
    # a choice asked with "would you"
    ("Go or Node for a websocket chat server, which would you pick?", None),
    ("When would you use Neo4j rather than Postgres for a recipe site?", None),
    # advice asked by "which ... should I"
    ("I'm between a 10 and a 12, which coat size should I order?", None),
    ("What category should I put handmade candles under on my shop?", None),
    # ...but not when the question names the output
    ("what query should I write to list members who joined in 2024 from members?", "expert-sql"),
    # concepts
    ("Is a graph database basically just tables with arrows, or is there more to it?", None),
    ("how did Python get its name, who came up with it", None),
    # CSS and Swift UI are languages no demo expert writes
    ("CSS for a pricing table with 3 plans per row that stacks on phones", None),
    ("How do I make a slider in Swift UI that updates a label's value?", None),
    # everyday senses
    ("what counts as a police record when you apply to volunteer with kids", None),
    ("in what order should I plant the tomatoes and the basil", None),
    ('my VS Code terminal says "node: not found" after installing, what now', None),
    # function notation and x values are maths
    ("Is h(x) = x^3 a one-to-one function?", None),
    ("Is it still a function if one x value maps to three y values?", None),
    # a translation's handed-over text is not its topic
    (
        'Translate this into natural English: "Il est en retard parce que le train est en panne."',
        None,
    ),
    # ...but a phrase of the request is its task
    (
        "fix the grammar and tell me the sentence type: she walk to school yesterday",
        "expert-english-basic",
    ),
    # more edited texts
    (
        (
            "Make this tweet under 280 characters: We finally launched the cafe loyalty app after "
            "a year of testing and we cannot wait"
        ),
        None,
    ),
    # sorting things, not texts, into categories
    ("help me put these purchases into the right tax categories: paint, train fare, rent", None),
    (
        (
            "sort these emails into categories: 'Invoice 4521 attached, due in 30 days', "
            "'Bake at 180C for 40 minutes'"
        ),
        CLASSIFIER,
    ),
    # a topic before a generic question
    ("in grammar what's a dangling modifier sentence", None),
    # a tool's own error; best practice; "makes sense"; "in words"
    ("vs code says python interpreter not found after the update, how to fix", None),
    ("is it bad practice to keep a json column in postgres for settings", None),
    ("When does it make sense to move from SQLite to Postgres?", None),
    (
        "our report runs SELECT * FROM sales WHERE note LIKE '%x%', explain in words why it crawls",
        None,
    ),
    # everyday senses: shelves, chess, rust orange; domain and range
    ("The bottom row of shelves in the shed is bowing. How do I brace it?", None),
    ("in chess, is a file the same thing as a column?", None),
    ("domain and range of the function 5/(x+2)?", None),
    # "sort out" fixes a text, it does not classify it
    (
        (
            "can you sort out the grammar in this note to my landlord: 'we was away and the boiler "
            "have broke'"
        ),
        None,
    ),
    # "sequel" said for SQL, a snake_case name as material, sorted by, a node pattern
    ("gimme the sequel for the lowest rain_mm in weather_log during june", "expert-sql"),
    ("whats the avg wait_min in ferry_queue for route 'Isle A'", "expert-sql"),
    ("show me the five newest rows in parking_fines sorted by issued_at", "expert-sql"),
    (
        "shortest path between (:Station {name:'York'}) and (:Station {name:'Bath'})",
        "expert-cypher",
    ),
    # ...and a film's sequel is not SQL
    ("is the sequel to that space film worth watching?", None),
]


@pytest.mark.parametrize(("prompt", "expert"), _ROUTES)
def test_routes_as_the_rules_say(prompt: str, expert: str | None) -> None:
    decision = ROUTER.route(prompt)
    assert decision.chosen == expert, decision.reason
