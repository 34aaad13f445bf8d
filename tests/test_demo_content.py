"""The built-in demo content: the tiny base in models/ and the seven experts in experts/.

Fast checks only (no training, no generation): manifests, recipes, generators, splits, the
base script's determinism and the recorded scores. Recomputing the scores by running the
trained experts is a separate (slow) check.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hxpm.core.digest import base_model_digest
from hxpm.core.manifest import Manifest

ROOT = Path(__file__).resolve().parents[1]
BASE_DIR = ROOT / "models" / "tiny-qwen3"
EXPERTS_DIR = ROOT / "experts"
BASE_NAME = "hxpm/tiny-qwen3"
EXPERTS = (
    "expert-json",
    "expert-english-basic",
    "expert-cypher",
    "expert-sql",
    "expert-python",
    "expert-rust",
    "expert-document-classifier",
)
CLASSIFIER_REQUIRES = {"expert-json", "expert-english-basic", "expert-cypher"}
MAX_COMPLETION_BYTES = 64
# Experts whose held-out answers combine known values in new ways (a table with a column).
COMPOSITIONAL = {"expert-json", "expert-sql", "expert-cypher"}


def read_jsonl(path: Path) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def manifest(name: str) -> Manifest:
    return Manifest.load(EXPERTS_DIR / name / "manifest.json")


@pytest.fixture(scope="module")
def digest() -> str:
    recorded = (BASE_DIR / "DIGEST").read_text(encoding="ascii").strip()
    assert base_model_digest(BASE_DIR) == recorded, "models/tiny-qwen3 changed: rebuild DIGEST"
    return recorded


def test_all_seven_experts_are_there() -> None:
    found = sorted(p.name for p in EXPERTS_DIR.iterdir() if (p / "manifest.json").is_file())
    assert found == sorted(EXPERTS)


def test_base_readme_states_random_weights_and_digest(digest: str) -> None:
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    assert "RANDOM" in readme and digest in readme


@pytest.mark.parametrize("name", EXPERTS)
def test_manifest_validates_and_names_the_committed_base(name: str, digest: str) -> None:
    m = manifest(name)
    assert m.name == name and str(m.version) == "0.1.0" and m.schema_version == "2.0"
    assert [v.name for v in m.variants] == [BASE_NAME]
    variant = m.variant_for(BASE_NAME)
    assert variant.sha256 == digest
    assert m.routing is not None and m.routing.keywords and m.capabilities
    assert m.license == "Apache-2.0"
    assert (EXPERTS_DIR / name / "LICENSE").read_text().startswith("Copyright")


@pytest.mark.parametrize("name", EXPERTS)
def test_recipe_parses_and_agrees_with_the_variant(name: str) -> None:
    from hxpm.runtime.metrics import check_expected
    from hxpm.runtime.recipe import parse_evaluation, parse_recipe

    m = manifest(name)
    variant = m.variant_for(BASE_NAME)
    recipe = parse_recipe(m.raw, variant_adapter=variant.adapters[0])
    assert recipe.warnings == ()  # no ignored keys, no disagreement with adapters[0]
    assert recipe.dataset.path == "datasets/train.jsonl"
    assert recipe.dataset.heldout == "datasets/heldout.jsonl"
    assert recipe.decoding.temperature == 0.0
    metric = parse_evaluation(m.raw)
    for row in read_jsonl(EXPERTS_DIR / name / "datasets" / "heldout.jsonl"):
        assert check_expected(metric.name, row["completion"]) is None
        assert len(row["completion"].encode()) < recipe.decoding.max_new_tokens


def test_classifier_requires_json_english_and_cypher_and_loads_above_them() -> None:
    clf = manifest("expert-document-classifier")
    assert {r.name for r in clf.requires} == CLASSIFIER_REQUIRES
    for r in clf.requires:
        dep = manifest(r.name)
        assert r.allows(dep.version)
        assert dep.load_order < clf.load_order
        assert not dep.requires
    others = [n for n in EXPERTS if n != "expert-document-classifier"]
    assert all(not manifest(n).requires for n in others)


@pytest.mark.parametrize("name", EXPERTS)
def test_generator_is_deterministic(name: str, tmp_path: Path) -> None:
    datasets = EXPERTS_DIR / name / "datasets"
    for attempt in ("a", "b"):
        subprocess.run(
            [sys.executable, str(datasets / "generate.py"), "--out", str(tmp_path / attempt)],
            check=True,
            capture_output=True,
            timeout=60,
        )
    for file in ("train.jsonl", "heldout.jsonl"):
        fresh = (tmp_path / "a" / file).read_bytes()
        assert fresh == (tmp_path / "b" / file).read_bytes()
        assert fresh == (datasets / file).read_bytes(), f"{name}/datasets/{file} is stale"


@pytest.mark.parametrize("name", EXPERTS)
def test_train_and_heldout_do_not_overlap(name: str) -> None:
    datasets = EXPERTS_DIR / name / "datasets"
    train = read_jsonl(datasets / "train.jsonl")
    heldout = read_jsonl(datasets / "heldout.jsonl")
    assert len(train) >= 500 and 50 <= len(heldout) <= 150
    for row in train + heldout:
        assert set(row) == {"prompt", "completion"}
        assert row["prompt"].strip() and row["completion"].strip()
        assert len(row["completion"].encode()) <= MAX_COMPLETION_BYTES
    train_prompts = {r["prompt"] for r in train}
    held_prompts = {r["prompt"] for r in heldout}
    assert len(train_prompts) == len(train) and len(held_prompts) == len(heldout)
    assert not train_prompts & held_prompts
    # nor only a capital letter apart
    assert not {p.casefold() for p in train_prompts} & {p.casefold() for p in held_prompts}
    if name not in COMPOSITIONAL:  # a fixed set of answers: training teaches every one
        assert {r["completion"] for r in heldout} <= {r["completion"] for r in train}


def test_base_script_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    sys.path.insert(0, str(ROOT / "models"))
    try:
        import make_tiny_qwen3
    finally:
        sys.path.remove(str(ROOT / "models"))
    digest = make_tiny_qwen3.build(tmp_path / "a")
    assert make_tiny_qwen3.build(tmp_path / "b") == digest
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name
        assert path.read_bytes() == (BASE_DIR / path.name).read_bytes(), (
            f"models/tiny-qwen3/{path.name} differs from what the script makes"
        )
    assert sorted(p.name for p in BASE_DIR.iterdir()) == sorted(
        p.name for p in (tmp_path / "a").iterdir()
    )


def test_scores_list_all_seven_with_the_expert_above_the_base() -> None:
    scores = json.loads((EXPERTS_DIR / "SCORES.json").read_text(encoding="utf-8"))
    assert sorted(scores) == sorted(EXPERTS)
    for name, s in scores.items():
        assert set(s) == {"metric", "n", "base", "expert"}
        assert s["metric"] == (manifest(name).raw.get("evaluation") or {}).get("metric")
        assert s["n"] == len(read_jsonl(EXPERTS_DIR / name / "datasets" / "heldout.jsonl"))
        assert 0.0 <= s["base"] < s["expert"] <= 1.0, name


@pytest.mark.parametrize("name", EXPERTS)
def test_readme_shows_the_recorded_scores(name: str) -> None:
    s = json.loads((EXPERTS_DIR / "SCORES.json").read_text(encoding="utf-8"))[name]
    readme = (EXPERTS_DIR / name / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- scores -->(.*?)<!-- /scores -->", readme, re.DOTALL)
    assert block is not None
    assert (
        f"| `{s['metric']}` | {s['n']} | {s['base']:.2f} | **{s['expert']:.2f}** |"
        in block.group(1)
    )


@pytest.mark.parametrize("name", EXPERTS)
def test_trained_weights_match_the_recipe(name: str) -> None:
    folder = EXPERTS_DIR / name
    assert (folder / "adapter_model.safetensors").is_file()
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    recipe = manifest(name).raw["training"]["config"]
    assert config["r"] == recipe["rank"] and config["lora_alpha"] == recipe["alpha"]
    assert bool(config.get("use_dora")) == (recipe["adapter_type"] == "dora")
    assert sorted(config["target_modules"]) == sorted(recipe["target_modules"])
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
