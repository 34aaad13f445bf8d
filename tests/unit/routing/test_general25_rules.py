"""The rules docs/routing.md ("After general25") added after round 24 (general25.tsv, held out
at 2f37798, and blind80 and blind81): a request for prose (an email, a summary) made by a
verb that makes a text is no code expert's; upgrades, backups, encryption and replicas are
running a database, read before any text handed over; "into plain english" asks for prose;
"get out of this mess" gets nothing made; phrasal verbs and idioms are words of a language;
"whom", "usage" and "tenses" show the everyday sense of "English".

Each rule is tried on prompts written for this file (not the fixtures'), traps included,
over the demo experts as published (manifests plus profiles from their real training
prompts)."""

from __future__ import annotations

import pytest

from hxpm.routing.artifacts import asks_for_artifact, asks_for_prose_only
from hxpm.routing.intent import about_request, refused_output
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import demo_router

ROUTER = demo_router()


@pytest.mark.parametrize(
    ("prompt", "prose"),
    [
        ("write me a short email telling the team about the SQL Server freeze", True),
        ("give me 15 phrasal verbs with 'take' and an example for each", True),
        # a code piece beside the prose, and what a function returns
        ("write a query for a report of sales by month", False),
        ("python: return how many letters a sign needs, ignoring spaces", False),
    ],
)
def test_prose_only(prompt: str, prose: bool) -> None:
    assert asks_for_prose_only(tokenize(prompt)) is prose


@pytest.mark.parametrize(
    ("prompt", "about"),
    [
        ("Neo4j 4.4 to 5 upgrade: what breaks?", True),
        ("should backups be encrypted before they leave the database server?", True),
        ("our MySQL replica lags every night, what should I look at?", True),
        # a bug report handed over after a colon mentions them too
        ("What kind of document is this? Steps: open settings, tick Backup. Actual: crash", False),
    ],
)
def test_running_a_database(prompt: str, about: bool) -> None:
    assert (about_request(tokenize(prompt), False, True) is not None) is about


def test_into_plain_english_asks_for_prose() -> None:
    prompt = 'translate this error into plain english: "Msg 9002, the log for database X is full"'
    assert refused_output(tokenize(prompt)) is not None


def test_getting_out_of_a_mess_makes_nothing() -> None:
    assert not asks_for_artifact(tokenize("how do I get out of this mess with EF migrations"))
    assert asks_for_artifact(tokenize("get the rows out of orders where total > 5"))


@pytest.mark.parametrize(
    ("prompt", "chosen"),
    [
        ("Write me a short email to the app team about the SQL Server migration freeze.", None),
        # (quoted, 'whom' is a quoted word, which the cue does not outweigh: still a miss)
        ("is whom still used in modern English?", None),
        ("how do the tenses change in reported speech in English?", None),
        ("Python: given a sign's wording, return how many letters to paint", "expert-python"),
    ],
)
def test_round_24_prompts_go_where_their_writers_meant(prompt: str, chosen: str | None) -> None:
    assert ROUTER.route(prompt).chosen == chosen
