"""`hxpm train --resume` refuses checkpoints of another run (recipe, seed or data changed)."""

from __future__ import annotations

import pytest

from hxpm.errors import UsageError
from hxpm.services.training import TrainRequest, train_expert
from tests.runtime.test_train import WORDS, color, edit_manifest, make_expert
from tests.runtime.test_train import store as store


def test_resume_refuses_when_the_recipe_or_the_data_changed(store, tiny, tmp_path):
    d = make_expert(tmp_path, "expert-color", tiny.digest, train=[color(w) for w in WORDS])
    edit_manifest(d, lambda m: m["training"]["config"].update(save_steps=2))
    train_expert(store, TrainRequest(d, device="cpu", threads=1, max_steps=4))
    checkpoints = sorted(p.name for p in (d / "checkpoints" / "tiny").iterdir())
    weights = (d / "adapter_model.safetensors").read_bytes()
    edit_manifest(d, lambda m: m["training"]["config"].update(learning_rate=0.02))
    with pytest.raises(UsageError, match="belong to another run"):
        train_expert(store, TrainRequest(d, device="cpu", threads=1, max_steps=4, resume=True))
    edit_manifest(d, lambda m: m["training"]["config"].update(learning_rate=0.01))
    with pytest.raises(UsageError, match="belong to another run"):  # another seed
        train_expert(store, TrainRequest(d, device="cpu", max_steps=4, resume=True, seed=3))
    with (d / "datasets" / "train.jsonl").open("a") as f:
        f.write('{"prompt": "color of ruby", "completion": "{\\"color\\": \\"ruby\\"}"}\n')
    with pytest.raises(UsageError, match="belong to another run"):  # a line added
        train_expert(store, TrainRequest(d, device="cpu", max_steps=4, resume=True))
    assert sorted(p.name for p in (d / "checkpoints" / "tiny").iterdir()) == checkpoints
    assert (d / "adapter_model.safetensors").read_bytes() == weights
