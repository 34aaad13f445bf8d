"""The intent model (hxpm/routing/intent_model.py) and its veto (hxpm/routing/veto.py):
the shipped file's format and provenance, deterministic training, masking, and which
decisions the veto may touch (docs/routing.md, "The intent model")."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from hxpm.routing import veto
from hxpm.routing.intent_model import (
    TECH_MASK,
    IntentModel,
    IntentModelError,
    bundled,
    dump,
    features,
    parse,
    static_tech_words,
    train,
)
from hxpm.routing.text import tokenize
from tests.unit.routing.test_shapes import demo_router

ROOT = Path(__file__).resolve().parents[3]


def _words(prompt: str) -> tuple[str, ...]:
    return tokenize(prompt).words


def test_features_mask_technology_words_and_are_sorted() -> None:
    found = features(_words("write a rust function"), frozenset({"rust"}))
    assert found == sorted(found)
    assert f"u:{TECH_MASK}" in found and "u:rust" not in found
    assert f"b:a {TECH_MASK}" in found and "len:0" in found


def test_dump_and_parse_round_trip() -> None:
    model = IntentModel(-1.5, {"u:write": 2.25, "b:is it": -0.5})
    text = dump(model, ["provenance line"])
    assert text.startswith("# provenance line\n")
    assert parse(text) == model


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("u:write\t1.0\n", "no <bias> line"),
        ("<bias>\t0.1\nu:write 1.0\n", "line 2: expected 'feature<TAB>weight'"),
        ("<bias>\t0.1\nu:write\tinf\n", "line 2"),
        ("<bias>\tzero\n", "line 1"),
    ],
)
def test_parse_rejects_what_is_not_the_documented_shape(text: str, message: str) -> None:
    with pytest.raises(IntentModelError, match=message):
        parse(text)


def test_training_is_deterministic_and_needs_both_kinds() -> None:
    rows = [
        (_words("write a function that adds two numbers"), True),
        (_words("list the users older than 30"), True),
        (_words("what should I cook tonight"), False),
        (_words("how do I fix a flat tyre"), False),
    ]
    first, second = train(rows, frozenset()), train(list(rows), frozenset())
    assert first == second
    assert first.probability(_words("write a function that adds"), frozenset()) > 0.5
    assert first.probability(_words("what should I cook"), frozenset()) < 0.5
    with pytest.raises(IntentModelError, match="both kinds"):
        train(rows[:2], frozenset())


def test_the_shipped_model_is_what_training_gives() -> None:
    # scripts/train_intent_model.py retrains from the routing sets and compares, byte for
    # byte, with hxpm/routing/intent_model.txt
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_intent_model.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    model = bundled()
    assert len(model.weights) > 1000
    assert "rust" in static_tech_words() and "json" in static_tech_words()


def test_the_shipped_model_reads_frames() -> None:
    tech = static_tech_words()
    request = bundled().probability(_words("write a python function that sums a list"), tech)
    general = bundled().probability(_words("is python enough to get a junior job?"), tech)
    assert request > 10 * general and general < veto.INTENT_THRESHOLD < request


def test_a_general_prompt_the_rules_route_is_vetoed() -> None:
    decision = demo_router().route(
        "I keep mixing up statements and questions when I learn english, any tips"
    )
    assert decision.chosen is None
    assert "intent model" in decision.reason


@pytest.mark.parametrize(
    ("prompt", "expert"),
    [
        ("relationships between characters in a novel, as a graph", None),  # plain
        ("select name from users where age > 30", "expert-sql"),  # a code symbol
        # asks for the code that does a task
        (
            "what query should I write to list members who joined in 2024 from members?",
            "expert-sql",
        ),
        ("is 'Close the door.' a command?", "expert-english-basic"),  # a label question
        ("avg weight_kg in parcels", "expert-sql"),  # a snake_case name
        ("explain this cypher query", "expert-cypher"),  # points at a piece of code
    ],
)
def test_the_veto_speaks_only_where_nothing_backs_the_expert(
    monkeypatch: pytest.MonkeyPatch, prompt: str, expert: str | None
) -> None:
    # a model that reads every prompt as general, though not certain of it (P 0.001, above
    # veto.GATED_THRESHOLD): what is still routed is what the gates keep
    monkeypatch.setattr(veto, "bundled", lambda: _model_reading(0.001))
    assert demo_router().route(prompt).chosen == expert


@pytest.mark.parametrize(
    "prompt",
    [
        "select name from users where age > 30",
        "is 'Close the door.' a command?",
        "avg weight_kg in parcels",
    ],
)
def test_a_certain_model_overrules_the_gates(monkeypatch: pytest.MonkeyPatch, prompt: str) -> None:
    # below GATED_THRESHOLD the model's reading wins even where the rules see code or a task
    assert demo_router().route(prompt).chosen is not None
    monkeypatch.setattr(veto, "bundled", lambda: _model_reading(veto.GATED_THRESHOLD / 2))
    decision = demo_router().route(prompt)
    assert decision.chosen is None
    assert "the bar for a prompt its code or request shields" in decision.reason


def _model_reading(p: float) -> IntentModel:
    """A model that gives every prompt P(request) = p."""
    return IntentModel(math.log(p / (1 - p)), {})


def _routes_at(monkeypatch: pytest.MonkeyPatch, p: float, prompts: list[str]) -> list[str | None]:
    """The experts ``prompts`` go to when the intent model reads each at P(request) = p."""
    monkeypatch.setattr(veto, "bundled", lambda: _model_reading(p))
    return [demo_router().route(q).chosen for q in prompts]


@pytest.mark.parametrize(
    ("p", "kept"),
    [(0.02, ["expert-python", "expert-sql", None]), (0.005, [None, None, None])],
)
def test_a_prompt_naming_its_language_needs_a_surer_model(
    monkeypatch: pytest.MonkeyPatch, p: float, kept: list[str | None]
) -> None:
    # between the two thresholds only the prompts naming the chosen expert's language stay
    prompts = [
        "how do i reverse the order of words in a string in python3",
        "is SQL hard to learn for someone with zero coding background",
        "relationships between characters in a novel, as a graph",
    ]
    assert _routes_at(monkeypatch, p, prompts) == kept


@pytest.mark.parametrize(
    ("p", "kept"),
    [(0.006, ["expert-python", "expert-json"]), (0.004, [None, None])],
)
def test_a_prompt_asking_for_something_made_needs_the_surest_model(
    monkeypatch: pytest.MonkeyPatch, p: float, kept: list[str | None]
) -> None:
    # an artifact asked for keeps the expert above the strictest bar, language named or not
    # (a piece of code asked for keeps it at any P: test_general20_rules.py)
    prompts = [
        "give me an example in python of adding two numbers",
        "give me the object for a red wool scarf, size small, as json",
    ]
    assert _routes_at(monkeypatch, p, prompts) == kept
    assert veto.ARTIFACT_THRESHOLD < veto.NAMED_LANGUAGE_THRESHOLD < veto.INTENT_THRESHOLD


def test_the_shipped_model_vetoes_a_question_about_a_language() -> None:
    decision = demo_router().route("best free way to learn SQL as a total beginner?")
    assert decision.chosen is None
    assert "stricter bar" in decision.reason
    converted = demo_router().route("translate this JSON into a python dict")
    assert converted.chosen == "expert-python"  # a conversion into its language
