"""`hxpm eval`: the bare base against base + closure + expert on a held-out set, and the
metrics that score them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hxpm.errors import ManifestError, NotFoundError, UsageError
from hxpm.runtime.metrics import METRICS, score, scorer
from hxpm.runtime.recipe import MetricSpec, parse_evaluation
from hxpm.services.evaluation import EvalRequest, evaluate_expert
from tests.runtime.test_train import (
    HELDOUT,
    WORDS,
    color,
    edit_manifest,
    make_expert,
    store,  # noqa: F401 - the fixture
    write_jsonl,
)


@pytest.fixture(scope="module")
def trained(tiny, base_ref, tmp_path_factory) -> Path:
    """An expert directory with a trained color adapter (runtime API: no store needed)."""
    from hxpm.runtime.recipe import Example, TrainConfig
    from hxpm.runtime.train import TrainJob, train

    root = tmp_path_factory.mktemp("eval")
    d = make_expert(
        root,
        "expert-color",
        tiny.digest,
        train=[color(w) for w in WORDS],
        heldout=[color(w) for w in HELDOUT],
        evaluation={"metric": "json_valid"},
    )
    train(
        TrainJob(
            base_ref,
            TrainConfig(
                rank=8, alpha=16, learning_rate=0.01, batch_size=8, warmup_steps=5, max_length=96
            ),
            tuple(Example(**color(w)) for w in WORDS),
            d,
            max_steps=200,
            device="cpu",
        )
    )
    return d


@pytest.fixture
def expert(trained, tmp_path) -> Path:
    return shutil.copytree(trained, tmp_path / "expert-color")


def test_eval_of_an_installed_expert_by_name(cli, store, expert):  # noqa: F811
    assert cli("install", expert, "--unsafe-allow-unsigned").code == 0
    ticks: list[tuple[int, int]] = []
    result = evaluate_expert(
        store,
        EvalRequest(None, expert / "datasets" / "heldout.jsonl", installed="color", device="cpu"),
        on_item=lambda *a: ticks.append(a),
    )
    assert result.metric == "json_valid" and result.n == len(HELDOUT)
    assert result.experts == ("expert-color",) and result.name == "expert-color"
    assert result.expert_score >= 0.75 > result.base_score  # the format generalises
    assert ticks == [(i, 2 * len(HELDOUT)) for i in range(1, 2 * len(HELDOUT) + 1)]
    first = result.examples[0]
    assert set(first) == {"prompt", "expected", "base_output", "expert_output"}
    assert first["prompt"] == f"color of {HELDOUT[0]}"
    assert json.loads(first["expert_output"])["color"]
    record = result.to_dict()
    assert record["schema"] == "hxpm.eval/1" and record["n"] == len(HELDOUT)


def test_eval_of_a_directory_defaults_to_the_recipe_heldout(store, expert):  # noqa: F811
    edit_manifest(expert, lambda m: m.update(evaluation={"metric": "exact_match"}))
    write_jsonl(expert / "datasets" / "heldout.jsonl", [color(w) for w in WORDS])
    result = evaluate_expert(store, EvalRequest(expert, None, device="cpu", limit=6))
    assert result.n == 6 and result.metric == "exact_match"
    assert result.dataset.endswith("heldout.jsonl")
    assert result.expert_score == 1.0 and result.base_score == 0.0
    assert all(ex["expert_output"] == ex["expected"] for ex in result.examples)


def test_the_batch_size_changes_the_time_not_the_answers(store, expert):  # noqa: F811
    results = [
        evaluate_expert(store, EvalRequest(expert, None, device="cpu", batch_size=size))
        for size in (1, 3, 16)
    ]
    assert results[0].expert_score >= 0.75 > results[0].base_score
    for other in results[1:]:
        assert other.examples == results[0].examples
        assert other.expert_correct == results[0].expert_correct
        assert other.base_correct == results[0].base_correct


def test_eval_refusals(store, expert, tmp_path):  # noqa: F811
    heldout = expert / "datasets" / "heldout.jsonl"
    for size in (0, 257):
        with pytest.raises(UsageError, match=r"--batch-size: expected an integer from 1 to 256"):
            evaluate_expert(store, EvalRequest(expert, heldout, batch_size=size))
    with pytest.raises(UsageError, match="not both or neither"):
        evaluate_expert(store, EvalRequest(expert, heldout, installed="expert-color"))
    with pytest.raises(NotFoundError, match="expert-nope"):
        evaluate_expert(store, EvalRequest(None, heldout, installed="expert-nope"))
    untrained = make_expert(tmp_path / "u", "expert-raw", "", train=[color("red")])
    with pytest.raises(NotFoundError, match="no trained adapter") as info:
        evaluate_expert(store, EvalRequest(untrained, heldout))
    assert "hxpm train" in info.value.hint
    edit_manifest(expert, lambda m: m.update(evaluation={"metric": "rouge"}))
    with pytest.raises(ManifestError, match=r"evaluation\.metric.*exact_match"):
        evaluate_expert(store, EvalRequest(expert, heldout))
    edit_manifest(expert, lambda m: m.update(evaluation={"metric": "json_exact"}))
    bad = write_jsonl(tmp_path / "bad.jsonl", [color("red"), {"prompt": "p", "completion": "x"}])
    with pytest.raises(UsageError, match=r"bad\.jsonl item 2: .*not valid JSON"):
        evaluate_expert(store, EvalRequest(expert, bad))


@pytest.mark.parametrize(
    ("evaluation", "field"),
    [
        ({"metric": "rouge"}, "evaluation.metric"),
        ({"metric": "regex"}, "evaluation.pattern"),
        ({"metric": "regex", "pattern": "(unclosed"}, "evaluation.pattern"),
        ({"metric": "label", "pattern": "x"}, "evaluation.pattern"),
        ({"metric": 3}, "evaluation.metric"),
        ("exact_match", "evaluation"),
    ],
)
def test_bad_evaluation_sections_name_the_field(evaluation, field):
    with pytest.raises(ManifestError) as info:
        parse_evaluation({"evaluation": evaluation})
    assert [p[0] for p in info.value.problems] == [field]


def test_evaluation_defaults_to_exact_match():
    assert parse_evaluation({}) == MetricSpec("exact_match")
    assert parse_evaluation({"evaluation": {"metric": "regex", "pattern": "a+"}}).pattern == "a+"


@pytest.mark.parametrize(
    ("metric", "output", "expected", "verdict"),
    [
        ("exact_match", "  SELECT 1\n", "SELECT 1", True),
        ("exact_match", "SELECT 1;", "SELECT 1", False),
        ("json_valid", ' {"a": [1, 2]} ', "", True),
        ("json_valid", '{"a": 1', "", False),
        ("json_valid", "NaN", "", False),
        ("json_exact", '{"b": 2, "a": 1.0}', '{"a": 1, "b": 2}', True),
        ("json_exact", '{"a": true}', '{"a": 1}', False),  # JSON true is not 1
        ("json_exact", '{"a": 1}', '{"a": 1, "b": 2}', False),
        ("json_exact", "not json", '{"a": 1}', False),
        ("prefix_match", "  MATCH (n) RETURN n LIMIT 5", "MATCH (n) RETURN n", True),
        ("prefix_match", "RETURN n", "MATCH", False),
        ("label", "Positive.\nBecause the review says so", "positive", True),
        ("label", "spam: obvious", "SPAM", True),
        ("label", "not spam", "not spam", True),
        ("label", "negative", "positive", False),
        ("label", "", "positive", False),
    ],
)
def test_metrics(metric, output, expected, verdict):
    assert scorer(metric)(output, expected) is verdict


def test_regex_metric_matches_the_whole_output():
    judge = scorer("regex", pattern=r"\d{3}-\d{4}")
    assert judge(" 555-1234\n", "") and not judge("call 555-1234", "")
    value, verdicts = score("regex", ["555-1234", "x"], ["", ""], pattern=r"\d{3}-\d{4}")
    assert value == 0.5 and verdicts == (True, False)


def test_unknown_metrics_are_refused():
    assert "json_exact" in METRICS
    with pytest.raises(ValueError, match="unknown metric 'rouge'"):
        scorer("rouge")
