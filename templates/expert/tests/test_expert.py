"""Checks to run before training or publishing this expert: ``python -m pytest tests``.

The manifest must pass ``hxpm validate`` and every dataset line must be a JSON object with a
non-empty string ``prompt`` and ``completion``. Add tests for your task below.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    return data


def _dataset_paths() -> list[Path]:
    dataset = _manifest()["training"]["dataset"]
    return [ROOT / dataset["path"], ROOT / dataset["heldout"]]


def test_manifest_validates() -> None:
    manifest = pytest.importorskip("hxpm.core.manifest", reason="hxpm is not installed here")
    m = manifest.Manifest.load(ROOT / "manifest.json")  # raises, listing every problem
    assert m.variants, "at least one base model variant"


@pytest.mark.parametrize("path", _dataset_paths(), ids=lambda p: p.name)
def test_dataset_lines_have_prompt_and_completion(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines, f"{path.name} is empty: run python datasets/generate.py"
    for number, line in enumerate(lines, 1):
        row = json.loads(line)
        assert isinstance(row, dict), f"{path.name}:{number}: expected a JSON object"
        for key in ("prompt", "completion"):
            value = row.get(key)
            assert isinstance(value, str) and value.strip(), (
                f"{path.name}:{number}: expected a non-empty string {key!r}"
            )


def _prompts(path: Path) -> set[str]:
    return {json.loads(line)["prompt"] for line in path.read_text(encoding="utf-8").splitlines()}


def test_heldout_prompts_are_not_trained_on() -> None:
    train, heldout = (_prompts(p) for p in _dataset_paths())
    assert not train & heldout, "held-out prompts also appear in the training set"
