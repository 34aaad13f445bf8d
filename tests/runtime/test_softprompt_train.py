"""Soft-prompt tuning (``adapter_type: "prompt"``) on the tiny real model, end to end.

``hxpm train`` trains PEFT prompt-tuning vectors on the frozen base and writes them as
``soft_prompts/<name>.safetensors`` beside a placeholder LoRA (B = 0: it changes nothing);
``hxpm eval`` and, after packaging and installing, ``hxpm run`` prepend them. The task is the
color task of test_train (a fixed JSON format the random base cannot produce); the held-out
words are never seen in training.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hxpm.errors import ManifestError, UsageError
from hxpm.services.training import TrainRequest, train_expert
from tests.runtime.test_train import BASE, HELDOUT, WORDS, color, make_expert, recipe

torch = pytest.importorskip("torch")

TOKENS = 16


@pytest.fixture
def store(cli, tiny):
    from hxpm.store.store import Store

    r = cli("base", "add", BASE, "--path", tiny.base)
    assert r.code == 0, r.err
    s = Store.from_env()
    yield s
    s.close()


def _prompt_expert(root: Path, digest: str, **config) -> Path:
    settings = {"num_virtual_tokens": TOKENS, "learning_rate": 0.1, "warmup_steps": 0}
    training = recipe(adapter_type="prompt", **{**settings, **config})
    return make_expert(
        root,
        "expert-color",
        digest,
        train=[color(w) for w in WORDS],
        heldout=[color(w) for w in HELDOUT],
        training=training,
        evaluation={"metric": "token_f1"},
    )


def test_trained_soft_prompt_beats_the_base_and_round_trips_through_install(
    cli, store, tiny, tmp_path
):
    from safetensors.torch import load_file

    d = _prompt_expert(tmp_path, tiny.digest)
    result = train_expert(store, TrainRequest(d, device="cpu", threads=1, max_steps=150))
    assert result.last_loss < result.first_loss * 0.7, (result.first_loss, result.last_loss)
    sp = d / "soft_prompts" / "expert-color.safetensors"
    assert result.soft_prompt == sp
    (tensor,) = load_file(str(sp)).values()
    assert tuple(tensor.shape) == (TOKENS, 64)
    declared = json.loads((d / "manifest.json").read_text())["soft_prompts"]
    assert declared == [
        {"name": "expert-color", "path": "soft_prompts/expert-color.safetensors", "tokens": TOKENS}
    ]
    # The placeholder LoRA changes nothing: every B matrix is zero.
    lora = load_file(str(d / "adapter_model.safetensors"))
    assert all(not t.any() for k, t in lora.items() if "lora_B" in k)
    # hxpm eval (the directory): held-out words the soft prompt never saw
    r = cli("eval", d, "--device", "cpu", "--json")
    assert r.code == 0, r.err
    scores = r.json()
    assert scores["expert_score"] > scores["base_score"], scores
    # What 150 steps of 16 vectors learn on this 64-wide random base: the answer's JSON form
    # (the word itself is beyond them; a LoRA learns it, test_train).
    assert all(e["expert_output"].startswith('{"color": "') for e in scores["examples"])
    assert not any(e["base_output"].startswith("{") for e in scores["examples"])
    # package -> install -> run: the installed copy answers as the directory did
    r = cli("install", d, "--unsafe-allow-unsigned")
    assert r.code == 0, r.err
    outputs = [
        cli(
            "run",
            "--prompt",
            f"color of {w}",
            "--expert",
            "expert-color",
            "--device",
            "cpu",
            "--max-new-tokens",
            "16",
            "--json",
        ).json()["output"]
        for w in HELDOUT
    ]
    assert outputs == [e["expert_output"] for e in scores["examples"]][: len(HELDOUT)], outputs


def test_a_soft_prompt_recipe_is_checked_before_training(store, tiny, tmp_path):
    d = _prompt_expert(tmp_path, tiny.digest, num_virtual_tokens=0)
    with pytest.raises(ManifestError, match=r"training\.config\.num_virtual_tokens"):
        train_expert(store, TrainRequest(d, device="cpu", max_steps=1))
    d = _prompt_expert(tmp_path / "b", tiny.digest, soft_prompt_name="../up")
    with pytest.raises(ManifestError, match=r"training\.config\.soft_prompt_name"):
        train_expert(store, TrainRequest(d, device="cpu", max_steps=1))
    d = _prompt_expert(tmp_path / "c", tiny.digest)
    with pytest.raises(UsageError, match="cannot train a soft prompt"):
        train_expert(store, TrainRequest(d, device="cpu", max_steps=1, method="dpo"))
    assert not (d / "soft_prompts").exists() and not (d / "adapter_model.safetensors").exists()
