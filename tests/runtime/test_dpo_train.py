"""`method: dpo` on the tiny real model: preference pairs, from scratch and after SFT.

The pairs prefer the JSON answer ``{"color": "<word>"}`` to a prose one; the held-out pairs
use words the training pairs never show, so a rising share of held-out pairs won is the
preference generalising, not memorised.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hxpm.errors import DatasetError
from hxpm.services.training import TrainRequest, train_expert
from tests.runtime.test_train import (
    HELDOUT,
    WORDS,
    color,
    edit_manifest,
    make_expert,
    recipe,
    write_jsonl,
)


def pair(word: str) -> dict[str, str]:
    return {
        "prompt": f"color of {word}",
        "chosen": json.dumps({"color": word}),
        "rejected": json.dumps({"shape": word}),  # as long as the chosen one
    }


@pytest.fixture
def store(cli, tiny):
    from hxpm.store.store import Store

    r = cli("base", "add", "hxpm/tiny", "--path", tiny.base)
    assert r.code == 0, r.err
    s = Store.from_env()
    yield s
    s.close()


def _dpo_expert(root: Path, digest: str, dpo: dict | None = None, **config) -> Path:
    training = recipe(method="dpo", learning_rate=0.005, batch_size=5, warmup_steps=0, **config)
    # Pure DPO at the SFT rate: these tests look at the DPO loss alone (log 2 at the start).
    training["dpo"] = {"learning_rate": 0.005, "sft_weight": 0, **(dpo or {})}
    training["dataset"] = {
        "path": "datasets/pairs.jsonl",
        "validation_path": "datasets/pairs-heldout.jsonl",
    }
    sft = [color(w) for w in WORDS]
    d = make_expert(root, "expert-color", digest, train=sft, training=training)
    write_jsonl(d / "datasets" / "pairs.jsonl", [pair(w) for w in WORDS])
    write_jsonl(d / "datasets" / "pairs-heldout.jsonl", [pair(w) for w in HELDOUT])
    return d


def test_dpo_from_scratch_lowers_the_loss_and_prefers_chosen_answers_on_held_out_pairs(
    store, tiny, tmp_path
):
    d = _dpo_expert(tmp_path, tiny.digest)
    result = train_expert(store, TrainRequest(d, device="cpu", threads=1, max_steps=30))
    assert result.method == "dpo" and result.examples == len(WORDS)
    assert result.started_from is None  # nothing trained before: a fresh adapter
    # The loss starts at log 2 (policy = reference) and falls.
    assert result.first_loss == pytest.approx(0.6931, abs=1e-3)
    assert result.last_loss < 0.3, result.last_loss
    assert result.preference is not None
    before, after = result.preference
    assert after == 1.0 and after > before, result.preference
    assert (d / "adapter_model.safetensors").is_file()


def test_dpo_continues_from_the_sft_adapter_and_takes_it_as_reference(store, tiny, tmp_path):
    d = _dpo_expert(tmp_path, tiny.digest)
    edit_manifest(d, lambda m: m["training"]["config"].update(method="sft"))
    edit_manifest(
        d,
        lambda m: m["training"]["dataset"].update(
            path="datasets/train.jsonl",
            validation_path="datasets/heldout.jsonl",
            preference_path="datasets/pairs.jsonl",
            preference_validation_path="datasets/pairs-heldout.jsonl",
        ),
    )
    sft = train_expert(store, TrainRequest(d, device="cpu", threads=1, max_steps=40))
    assert sft.method == "sft"
    trained = (d / "adapter_model.safetensors").read_bytes()
    dpo = train_expert(store, TrainRequest(d, device="cpu", threads=1, max_steps=10, method="dpo"))
    assert dpo.method == "dpo" and dpo.started_from == d
    # Policy == reference at the first step, so the loss is log 2 there too.
    assert dpo.first_loss == pytest.approx(0.6931, abs=1e-3)
    assert dpo.last_loss < dpo.first_loss
    assert dpo.preference is not None and dpo.preference[1] >= dpo.preference[0]
    assert (d / "adapter_model.safetensors").read_bytes() != trained


def test_sft_refuses_preference_pairs_naming_the_line(store, tiny, tmp_path):
    d = _dpo_expert(tmp_path, tiny.digest)
    with pytest.raises(DatasetError, match=r"pairs\.jsonl line 1: .*method is sft"):
        train_expert(store, TrainRequest(d, device="cpu", method="sft", max_steps=1))
    assert not (d / "adapter_model.safetensors").exists()


def test_training_dpo_has_its_own_gentler_defaults_and_is_validated():
    from hxpm.errors import ManifestError
    from hxpm.runtime.recipe import parse_recipe

    training = recipe(method="sft", learning_rate=0.005, epochs=10, warmup_steps=10)
    r = parse_recipe({"training": training})
    assert r.config_for("sft") == r.config  # SFT never reads training.dpo
    dpo = r.config_for("dpo")
    assert dpo.method == "dpo" and dpo.learning_rate == pytest.approx(0.0001)
    assert (dpo.epochs, dpo.warmup_steps, dpo.sft_weight, dpo.beta) == (1.0, 0, 1.0, 0.1)
    assert (dpo.rank, dpo.target_modules) == (r.config.rank, r.config.target_modules)
    training["dpo"] = {"learning_rate": 1e-4, "epochs": 2, "beta": 0.5, "sft_weight": 0.25}
    dpo = parse_recipe({"training": training}).config_for("dpo")
    assert (dpo.learning_rate, dpo.epochs, dpo.beta, dpo.sft_weight) == (1e-4, 2, 0.5, 0.25)
    training["dpo"] = {"learning_rate": 0, "sft_weight": -1, "beta": "x", "bogus": 1}
    with pytest.raises(ManifestError) as e:
        parse_recipe({"training": training})
    fields = {p[0] for p in e.value.problems}
    assert {"training.dpo.learning_rate", "training.dpo.sft_weight", "training.dpo.beta"} <= fields
    training["dpo"] = {"bogus": 1}
    assert any(
        "training.dpo: ignored bogus" in w for w in parse_recipe({"training": training}).warnings
    )


def test_dpo_adds_the_chosen_answers_nll_when_sft_weight_is_set(store, tiny, tmp_path):
    d = _dpo_expert(tmp_path, tiny.digest, dpo={"sft_weight": 1.0})
    result = train_expert(store, TrainRequest(d, device="cpu", threads=1, max_steps=8))
    # log 2 (policy = reference) plus the mean token NLL of the chosen JSON on a random base
    assert result.first_loss > 0.6931 + 1.0, result.first_loss
    assert result.last_loss < result.first_loss
