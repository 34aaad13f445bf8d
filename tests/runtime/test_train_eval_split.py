"""`hxpm eval DIR` without --dataset: the recipe's heldout, else its test_path."""

from __future__ import annotations

import shutil

import pytest

from hxpm.errors import UsageError
from hxpm.services.evaluation import EvalRequest, evaluate_expert
from tests.runtime.test_train import HELDOUT, WORDS, color, edit_manifest, make_expert, write_jsonl
from tests.runtime.test_train import store as store


def test_eval_uses_test_path_when_there_is_no_heldout(store, tiny, tmp_path):
    d = make_expert(tmp_path, "expert-color", tiny.digest, train=[color(w) for w in WORDS])
    for name in ("adapter_config.json", "adapter_model.safetensors"):  # any real adapter
        shutil.copy(tiny.adapters["lora-a"] / name, d / name)
    write_jsonl(d / "datasets" / "test.jsonl", [color(w) for w in HELDOUT[:2]])

    def use_test_split(m: dict) -> None:
        del m["training"]["dataset"]["heldout"]
        m["training"]["dataset"]["test_path"] = "datasets/test.jsonl"

    edit_manifest(d, use_test_split)
    result = evaluate_expert(store, EvalRequest(d, None, device="cpu"))
    assert result.dataset.endswith("test.jsonl") and result.n == 2
    edit_manifest(d, lambda m: m["training"]["dataset"].pop("test_path"))
    with pytest.raises(UsageError, match="no held-out set"):
        evaluate_expert(store, EvalRequest(d, None, device="cpu"))
