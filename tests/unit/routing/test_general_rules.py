"""The rules docs/routing.md ("Rules from the general sets") added after the first runs of
the general sets (general.tsv to general6.tsv, 5,918 general prompts) and blind19 to
blind29: the text an editing or translation request hands over is not its topic; edit verbs
take a text; choices and concepts asked without a question mark; cue words of an everyday
sense; code asked in a language an expert does not cover; maths is not code; what a
classification verb classifies; a quotation is material; and smaller readings.

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts); the prompts that only check a route share one table at the end."""

from __future__ import annotations

import pytest

from hxpm.routing.artifacts import asks_for_data
from hxpm.routing.languages import programming_languages
from hxpm.routing.markers import code_marker
from hxpm.routing.requests import editing_request, request_frame
from hxpm.routing.senses import cued_senses
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import about_reason, demo_router

ROUTER = demo_router()
CLASSIFIER = "expert-document-classifier"


def _chosen(prompt: str) -> str | None:
    return ROUTER.route(prompt).chosen


def _reasons(prompt: str) -> str:
    return ROUTER.route(prompt).reason


# --- the text an editing or translation request hands over -------------------------------------


@pytest.mark.parametrize(
    ("prompt", "frame"),
    [
        ("make this friendlier: the Python job failed again", {"make", "this", "friendlier"}),
        ('translate "the query is closed" into Spanish', {"translate"}),
        ("shorten: ok", set()),  # too little handed over to be a text
        ("rewrite: SELECT name FROM t WHERE x = 1", set()),  # code is handed over
        ("fix this: my_table has no rows", set()),  # an identifier is code
        ("how do I join two tables", set()),  # nothing handed over
    ],
)
def test_request_frame(prompt: str, frame: set[str]) -> None:
    tokens = tokenize(prompt)
    assert request_frame(tokens, False) == frame


@pytest.mark.parametrize(
    ("prompt", "edit"),
    [
        ("fix this sentence: he go home", "fix ... sentence"),
        ("correct my english please: I am agree", "correct ... english"),
        ("check english: me and him goes", "check ... english"),
        ("shorten this paragraph for a tweet", "shorten"),
        ("check whether the sentence is a question", None),  # the text is not the verb's object
        ("fix the function so it returns a list", None),
    ],
)
def test_edit_verbs_take_a_text(prompt: str, edit: str | None) -> None:
    assert editing_request(tokenize(prompt)) == edit


# --- choices and concepts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("DuckDB vs SQLite for a small analytics notebook", "choice"),
        ("pros and cons of Rust for a hobby game", "concept"),
        ("Cypher versus SQL, explain it like I'm a new hire", "choice"),
        ("is Postgres a good fit for storing sensor readings?", "choice"),
        ("is JSON good enough as a config format?", "choice"),
        ("what do people use Neo4j for?", "choice"),
        ("when does a graph database make more sense than MySQL?", "choice"),
        ("should my team learn Rust or Go next year?", "choice"),
        ("conceptually, what does a Python decorator do", "concept"),
        ('is "JSON" a programming language? a colleague says so', "concept"),
    ],
)
def test_choices_and_concepts_are_about_the_technology(prompt: str, why: str) -> None:
    reason = about_reason(prompt)
    assert reason is not None and why in reason, reason


@pytest.mark.parametrize(
    "prompt",
    [
        "sales 2024 vs 2023 per region from the sales table",  # no two technologies weighed
        "make a JSON object for a red scarf, size M",  # an artifact is asked
        "write the SQL a good fit for the report needs: total per month",
        "which products are used for repairs in the parts table",  # no question mark, no "use"
    ],
)
def test_choice_words_in_a_task_are_part_of_the_task(prompt: str) -> None:
    assert about_reason(prompt) is None


# --- cue words of an everyday sense -------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "cued"),
    [
        ("bar or pie graph for the club's budget?", {"graph": "bar"}),
        ("my python hasn't eaten its mice this week", {"python": "mice"}),
        ("how many rows of seats fit in the hall", {"row": "seats"}),
        ("find the rows where seats > 100 in venues", {"row": "seats"}),  # a cue only
        ("list every row of the orders table", {}),
    ],
)
def test_cued_senses(prompt: str, cued: dict[str, str]) -> None:
    assert cued_senses(tokenize(prompt)) == cued


# --- small readings -----------------------------------------------------------------------------


def test_a_slip_in_a_long_code_word_still_shows_code() -> None:
    assert code_marker(tokenize("a fucntion to add two numbers"), "") == "'fucntion'"
    assert _chosen("funtion in pyhton that doubles a number") == "expert-python"
    # ...but an English word one slip from a code word is that word
    assert code_marker(tokenize("a dark stout from the old brewery"), "") is None


@pytest.mark.parametrize(
    ("prompt", "asks"),
    [
        ("can you give me the item/color/size object for a grey hoodie, L?", True),
        ("could you give me the data for it as JSON?", True),
        ("can you give me advice on what colour scarf to buy?", False),
    ],
)
def test_giving_a_piece_of_data_asks_for_data(prompt: str, asks: bool) -> None:
    assert asks_for_data(tokenize(prompt)) is asks


def test_a_question_asking_for_the_object_goes_to_the_format_expert() -> None:
    prompt = "Boots for the crew, black, size 44 - can you give me the item/color/size object?"
    assert _chosen(prompt) == "expert-json", _reasons(prompt)


def test_a_task_word_with_its_material_is_not_outweighed_by_the_material() -> None:
    prompt = (
        "Categorise this: Hot chocolate for four. Warm a litre of milk, whisk in 100 g of dark "
        "chocolate and a spoon of sugar, serve with cream."
    )
    assert _chosen(prompt) == "expert-document-classifier", _reasons(prompt)
    # ...while classifying a thing that is not a text is still not the task
    assert _chosen("categorise these knots: bowline, reef, clove hitch") is None


@pytest.mark.parametrize(
    "prompt",
    [
        "Excel formula to count the rows where column B says paid",
        "google sheets: sum column C where A is after today",
    ],
)
def test_spreadsheet_formulas_are_another_language(prompt: str) -> None:
    assert "spreadsheet formula" in programming_languages(tokenize(prompt), False)
    assert _chosen(prompt) is None, _reasons(prompt)


def test_item_names_any_object_not_a_garment() -> None:
    assert _chosen("give me a json array of four picnic basket items with prices") is None
    prompt = "give me a json object for this item: a red wool scarf, size M"
    assert _chosen(prompt) == "expert-json", _reasons(prompt)


# --- after general2.tsv and blind21/22 -----------------------------------------------------------


def test_a_format_the_answers_come_in_is_not_the_task() -> None:
    # the classifier declares format:json (its answers are JSON): that alone does not pick it
    prompt = "Make JSON for this cake order: 2-tier carrot cake, serves 20, pickup Friday 9am"
    assert _chosen(prompt) is None, _reasons(prompt)
    prompt = "json for a navy wool jumper, size M"
    assert _chosen(prompt) == "expert-json", _reasons(prompt)


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("history of Rust, who started it", "concept"),
        ("p-value meaning", "concept"),
        ("how do I explain to a client what a JSON file is", "concept"),
        ("when should we switch the shop from spreadsheets to Postgres?", "choice"),
    ],
)
def test_concepts_framed_by_their_first_or_last_word(prompt: str, why: str) -> None:
    reason = about_reason(prompt)
    assert reason is not None and why in reason, reason


def test_explaining_the_users_own_work_is_not_a_concept_question() -> None:
    assert about_reason("explain this cypher query") is None
    assert about_reason("explain my rust function") is None


@pytest.mark.parametrize(
    ("prompt", "edit"),
    [
        ("improve this LinkedIn summary: 8 years in retail", "improve ... summary"),
        ("edit this for tone: we are switching provider", "edit ... tone"),
        ("polish my cover letter please", "polish ... letter"),
    ],
)
def test_more_edited_texts(prompt: str, edit: str) -> None:
    assert editing_request(tokenize(prompt)) == edit


# --- after general3.tsv and blind23/24 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("sqlite or postgres for a club's membership list?", "choice"),
        ("mysql or postgres for a tiny shop, does it matter", "choice"),
        ("when would a team choose Neo4j over Postgres?", "choice"),
        ("does it support JSON columns, Postgres I mean?", "concept"),
    ],
)
def test_two_technologies_weighed(prompt: str, why: str) -> None:
    reason = about_reason(prompt)
    assert reason is not None and why in reason, reason


@pytest.mark.parametrize(
    "prompt",
    [
        "choose the rows where plan is 'gold' or 'silver' from members",  # no "over"
        "is 'pick me up at 6' a question or a statement?",
    ],
)
def test_choosing_needs_something_chosen_over(prompt: str) -> None:
    assert about_reason(prompt) is None


def test_code_asked_in_another_language_is_no_format_experts() -> None:
    prompt = "Go program that reads a CSV of expenses and totals them by category"
    assert _chosen(prompt) is None, _reasons(prompt)
    prompt = "google sheets: count the rows where the category column says food"
    assert _chosen(prompt) is None, _reasons(prompt)
    # ...the language's own expert still gets its code
    assert _chosen("python function that totals a list of expenses by category") == (
        "expert-python"
    )


def test_a_heading_word_with_a_cue_keeps_its_everyday_sense() -> None:
    prompt = "Diagramming a sentence: where does the predicate start?"
    assert _chosen(prompt) is None, _reasons(prompt)
    # a heading without a cue still names what follows, and a language's name stays one
    assert _chosen("classify the sentence: Our choir meets on Fridays.") == "expert-english-basic"
    assert _chosen("rust: grams to moles for a given molar mass") == "expert-rust"


# --- after general4.tsv and blind25/26 -----------------------------------------------------------


def test_explain_names_the_cue_word() -> None:
    d = ROUTER.route("a bar graph of this year's rainfall for the class poster")
    cypher = next(s for s in d.scores if s.name == "expert-cypher")
    assert any("'graph' in its everyday sense, as 'bar' shows" in r for r in cypher.reasons)


# --- after general5.tsv and blind27/28 -----------------------------------------------------------


def test_a_quoted_text_is_not_the_question() -> None:
    # "slower" inside the quotation asks nothing about speed
    prompt = "Is 'Please talk a little slower.' a question, a statement or a command?"
    assert _chosen(prompt) == "expert-english-basic", _reasons(prompt)
    assert about_reason("Is 'Please talk a little slower.' a question?") is None
    assert about_reason("why is my postgres so much slower than 'sqlite'?") is not None


def test_a_semicolon_after_a_number_is_prose() -> None:
    prompt = "Summarise in one line: the race ended at kilometre 40; riders wait for the bus."
    assert _chosen(prompt) is None, _reasons(prompt)
    assert code_marker(tokenize("x = 1; y = 2"), "x = 1; y = 2") == "="


# --- the routes the rules give, traps included (after general6.tsv and blind29 too) ------------

_ROUTES: list[tuple[str, str | None]] = [
    # words of the handed over text do not pick an expert
    ("soften this for the client: the Rust build broke twice and the JSON export is empty", None),
    ("reword for my manager: the SQL report shows missing rows for March", None),
    ("polish the wording: our Neo4j graph has too many relationship types, says Dana", None),
    ('please translate "send the invoice and the contract today" into German', None),
    ("Fix this sentence please: the python scripts was run by me yesterday.", None),
    ("check my english: I has finish the table of results for the lab.", None),
    # a request that names the task keeps its expert
    ("rewrite this in SQL: every order above 50 euros", "expert-sql"),
    ("rewrite: SELECT name FROM users WHERE age > 30 ORDER BY name", "expert-sql"),
    ("is this a question or a statement: 'the Python job failed'", "expert-english-basic"),
    # a cued everyday sense goes to the base
    ("what graph shows a budget best, a bar or a pie?", None),
    ("my python hasn't eaten its mice this week, should I worry?", None),
    ("how many rows of seats fit in a hall 12 metres deep?", None),
    ("the rust on the garden fence keeps coming back", None),
    # a cue does not hide a technical request
    ("select the rows where seats > 100 from venues", "expert-sql"),  # code outweighs a cue
    ("cypher: find the shortest path in the graph between two Station nodes", "expert-cypher"),
    # what a classification verb classifies
    ("can you classify rocks for me? which types float", None),  # the next sentence aside
    ("categorise pls: 'Invoice 12. Two desks, 300 EUR, due in 14 days.'", CLASSIFIER),
    (
        "Can you classify this for me? 'Invoice 77: 3 chairs, total 90 EUR, due 1 May'",
        CLASSIFIER,
    ),
    # a heading names the answers language
    ("PHP: how do I run a parameterised SQL query with PDO?", None),
    ("SQL: every order above 50 euros from orders", "expert-sql"),
    # a table named by a plural is a database table
    ("list each region just once out of the depots table", "expert-sql"),
    ("which distinct cheeses appear in the pairings table?", "expert-sql"),
    ("how long should the drinks table be for 80 guests", None),
    ("help me learn the times table for 7", None),
    # round three readings
    ("Write a kind note to a colleague who missed three meetings in a row", None),
    ("Can you improve the flow of this bit? SQL joins are fast. Rows match on keys.", None),
    ("raise staff_members.hourly_rate by 3 percent where grade is 'B'", "expert-sql"),
    ("label this doc - LYON, Monday. The city council voted to extend tram hours.", CLASSIFIER),
    (
        "Is it asking something or telling something: 'The tram leaves at six.'",
        "expert-english-basic",
    ),
    ("team jersey navy XL", "expert-json"),
    ("structured data for a red wool beanie, one size", "expert-json"),
    # a cipher needs a cue
    ("cypher for members who follow the account 'Dana'", "expert-cypher"),
    ("my nephew sent a secret cypher to decode: 'Uryyb'", None),
    ("show me in Cypher how to list the Films a Director DIRECTED", "expert-cypher"),
    # a question only a profile backs needs similarity two
    ("Is it rude to borrow a friend's book and return it a year later?", None),
    ("what size coat should I get if I'm between a small and a medium", None),
    ("what is the id of each Book?", "expert-cypher"),  # 3.17: still the expert's
    # a maths problem is not code
    ("Find the derivative of the function g(x) = x^3 cos x", None),
    ("how do I find the domain of a function like 1/(x+2)", None),
    ("python function for the derivative of a polynomial", "expert-python"),
    # a quotation hands over material
    ("whats the sentence type of 'has the parcel arrived yet'", "expert-english-basic"),
    ("What does 'select' mean on a jury form, like 'select juror 12'?", None),
    ("question, statement or order? Bring your boots on Sunday", "expert-english-basic"),
    # round four general prompts stay with the base
    ("Is Neo4j free for a school project?", None),
    ("Should our club keep members in Airtable or a proper database?", None),
    ("At what point should a cafe move from spreadsheets to a real database?", None),
    ("Is Spanish grammar harder than Italian for an English speaker?", None),
    ('On my CV, what does "a strong command of English" really mean?', None),
    ("How does parole work after a long prison sentence?", None),
    ("Make this Teams message friendlier: 'The SQL export is late again. Stop pinging me.'", None),
    ("Is this sentence correct: 'Neither of the teams have won'?", None),
    ("Google Apps Script to email me when a row is added to my sheet", None),
    ("How do I fix a Power Query step that errors after the source file moved?", None),
    (
        "My query to the landlord about the boiler has gone unanswered, how do I chase politely?",
        None,
    ),
    # round five readings
    (
        "For a student learning English: is 'Close the gate' giving an order or asking?",
        "expert-english-basic",
    ),
    ("how do you say 'I am looking for the old records' in Italian", None),
    ("what category does a short film go in at a festival", None),
    ("How do I find the inverse of the function f(x) = 2x - 5?", None),
    ("node: command not found, do I need npm again?", None),
    (
        "Summarise in one line: the choir met on Monday; the concert moved to May.",
        None,
    ),
    # a cue outweighs a lone programming word
    ("Are the Monty Python scripts fine for a school library shelf?", None),
    ("my terminal says node: command not found after I installed npm", None),
    ("python script that prints pet = 'snake' for my reptile shop", "expert-python"),
    # round six readings
    ("cypher to return every Player who SOLVED a Puzzle rated 'hard'", "expert-cypher"),
    ("how do I graph y = 3x - 1 on paper", None),
    ("database indexes explained with a kitchen analogy", None),
    ("is this natural English? I wrote: 'I am living here since two years.'", None),
    ("Edit this for clarity: the app sort of tracks you even when you said no.", None),
]


@pytest.mark.parametrize(("prompt", "expert"), _ROUTES)
def test_routes_as_the_rules_say(prompt: str, expert: str | None) -> None:
    assert _chosen(prompt) == expert, _reasons(prompt)
