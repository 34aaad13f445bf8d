"""`hxpm train` end to end on the tiny real model: recipes, loss, seeds, requires closures.

The task: ``color of <word>`` -> ``{"color": "<word>"}``, a fixed format a random tiny model
cannot produce and a LoRA learns in about a hundred steps (a second or two on a CPU).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from hxpm.errors import BaseMismatchError, DatasetError, ManifestError, NotFoundError, UsageError
from hxpm.services.training import TrainRequest, train_expert
from hxpm.store.store import Store
from tests.factories import manifest_dict

BASE = "hxpm/tiny"
WORDS = ["red", "blue", "green", "gold", "pink", "gray", "teal", "navy", "lime", "rose"]
HELDOUT = ["cyan", "plum", "jade", "sand"]
SHAPES = ["ball", "box", "coin", "cube", "ring", "dice"]
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def color(word: str) -> dict[str, str]:
    return {"prompt": f"color of {word}", "completion": json.dumps({"color": word})}


def shape(word: str) -> dict[str, str]:
    return {"prompt": f"shape of {word}", "completion": f"{word} is round"}


def recipe(**config: Any) -> dict[str, Any]:
    base_config = {
        "method": "sft",
        "adapter_type": "lora",
        "rank": 8,
        "alpha": 16,
        "dropout": 0.0,
        "target_modules": ALL_LINEAR,
        "epochs": 3,
        "learning_rate": 0.01,
        "batch_size": 8,
        "max_length": 96,
        "warmup_steps": 5,
    }
    base_config.update(config)
    return {
        "dataset": {
            "path": "datasets/train.jsonl",
            "heldout": "datasets/heldout.jsonl",
            "format": "prompt-completion",
        },
        "config": base_config,
        "decoding": {"temperature": 0.0, "max_new_tokens": 32, "stop_sequences": ["\n\n"]},
    }


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_expert(
    root: Path,
    name: str,
    digest: str,
    *,
    train: list[dict[str, str]],
    heldout: list[dict[str, str]] | None = None,
    requires: list[str] | None = None,
    load_order: int = 5,
    training: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
) -> Path:
    """An expert source directory: manifest with a recipe, plus its two datasets."""
    d = root / name
    extra: dict[str, Any] = {
        "training": training or recipe(),
        "evaluation": evaluation or {"metric": "exact_match"},
    }
    m = manifest_dict(
        name,
        "1.0.0",
        bases=((BASE, digest),),
        requires=requires,
        load_order=load_order,
        extra=extra,
    )
    d.mkdir(parents=True)
    (d / "manifest.json").write_text(json.dumps(m, indent=2))
    write_jsonl(d / "datasets" / "train.jsonl", train)
    write_jsonl(d / "datasets" / "heldout.jsonl", heldout or train)
    return d


def edit_manifest(d: Path, change) -> None:
    m = json.loads((d / "manifest.json").read_text())
    change(m)
    (d / "manifest.json").write_text(json.dumps(m, indent=2))


@pytest.fixture
def store(cli, tiny) -> Store:
    r = cli("base", "add", BASE, "--path", tiny.base)
    assert r.code == 0, r.err
    s = Store.from_env()
    yield s
    s.close()


def generate(base_ref, refs, prompt: str, max_new_tokens: int = 32) -> str:
    from hxpm.runtime.session import GenerationConfig, Session

    with Session(base_ref, device="cpu") as s:
        s.use(refs)
        return s.generate(prompt, GenerationConfig(max_new_tokens=max_new_tokens)).text


# --- training through the service ---------------------------------------------------------


def test_training_lowers_the_loss_and_the_expert_learns_its_task(store, tiny, tmp_path, base_ref):
    from hxpm.runtime.session import AdapterRef, GenerationConfig, Session

    d = make_expert(tmp_path, "expert-color", tiny.digest, train=[color(w) for w in WORDS])
    steps: list[tuple[int, int, float]] = []
    result = train_expert(
        store, TrainRequest(d, max_steps=200, device="cpu"), on_step=lambda *a: steps.append(a)
    )
    assert result.output_dir == d and result.steps == 200 and result.base_model == BASE
    assert result.requires == () and result.examples == len(WORDS) and result.mode == "merged"
    assert [s[0] for s in steps] == list(range(1, 201)) and {s[1] for s in steps} == {200}
    # The random tiny base caps how confident it can get (~1 nat/token), not the argmax.
    assert result.last_loss < result.first_loss / 3, (result.first_loss, result.last_loss)
    config = json.loads((d / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 8 and config["lora_alpha"] == 16
    assert isinstance(config["lora_alpha"], int)
    assert config["base_model_name_or_path"] == BASE
    assert (d / "adapter_model.safetensors").is_file()
    # The saved adapter runs in a Session (same path as `hxpm run`) and answers as trained.
    me = AdapterRef("expert-color", "1.0.0", d, base_sha256=tiny.digest)
    with Session(base_ref, device="cpu") as s:
        for w in WORDS:
            s.use([me])
            want = json.dumps({"color": w})
            got = s.generate(f"color of {w}", GenerationConfig(max_new_tokens=32))
            assert got.text == want and got.stopped_by == "eos"  # it learned to stop, too
            s.use([])
            assert s.generate(f"color of {w}", GenerationConfig(max_new_tokens=32)).text != want


def test_same_seed_gives_the_same_weights(store, tiny, tmp_path):
    src = make_expert(
        tmp_path / "src", "expert-color", tiny.digest, train=[color(w) for w in WORDS]
    )

    def trained(seed: int, where: str) -> tuple[bytes, bytes]:
        d = shutil.copytree(src, tmp_path / where)
        train_expert(store, TrainRequest(d, seed=seed, max_steps=12, device="cpu"))
        return (
            (d / "adapter_model.safetensors").read_bytes(),
            (d / "adapter_config.json").read_bytes(),
        )

    first = trained(7, "a")
    assert trained(7, "b") == first
    assert trained(8, "c")[0] != first[0]


def test_epochs_and_batch_size_set_the_step_count(store, tiny, tmp_path):
    d = make_expert(
        tmp_path,
        "expert-color",
        tiny.digest,
        train=[color(w) for w in WORDS],
        training=recipe(batch_size=4, epochs=2, gradient_accumulation_steps=1),
    )
    result = train_expert(store, TrainRequest(d, device="cpu"))
    assert result.steps == 2 * 3  # 10 examples in batches of 4: 3 steps an epoch
    assert train_expert(store, TrainRequest(d, epochs=0.5, device="cpu")).steps == 2


def test_multi_variant_manifests_train_into_weights_slug(store, tiny, tmp_path):
    d = make_expert(tmp_path, "expert-color", tiny.digest, train=[color(w) for w in WORDS])
    edit_manifest(
        d,
        lambda m: m["base_models"].append(
            {**copy.deepcopy(m["base_models"][0]), "name": "Qwen/Qwen3-0.6B", "sha256": ""}
        ),
    )
    result = train_expert(store, TrainRequest(d, max_steps=2, device="cpu"))
    assert result.output_dir == d / "weights" / "tiny"
    assert (d / "weights" / "tiny" / "adapter_model.safetensors").is_file()
    assert not (d / "adapter_model.safetensors").exists()


# --- a dependent on its frozen requires closure --------------------------------------------


def test_a_dependent_trains_on_its_installed_requires_and_runs_stacked(cli, store, tiny, tmp_path):
    fmt = make_expert(
        tmp_path, "expert-shape", tiny.digest, train=[shape(w) for w in SHAPES], load_order=2
    )
    dep = make_expert(
        tmp_path,
        "expert-color",
        tiny.digest,
        train=[color(w) for w in WORDS],
        requires=["expert-shape@^1.0"],
        load_order=6,
        training=recipe(adapter_type="dora"),
    )
    with pytest.raises(NotFoundError, match="expert-shape"):  # not installed yet
        train_expert(store, TrainRequest(dep, max_steps=1, device="cpu"))
    train_expert(store, TrainRequest(fmt, max_steps=60, device="cpu"))
    assert cli("install", fmt, "--unsafe-allow-unsigned").code == 0
    result = train_expert(store, TrainRequest(dep, max_steps=160, device="cpu"))
    assert result.requires == ("expert-shape@1.0.0",) and result.mode == "stacked"
    assert json.loads((dep / "adapter_config.json").read_text())["use_dora"] is True
    r = cli("install", dep, "--unsafe-allow-unsigned")
    assert r.code == 0, r.err
    for w in WORDS[:3]:
        rec = cli(
            "run", "--prompt", f"color of {w}", "--expert", "color", "--device", "cpu", "--json"
        ).json()
        assert [e["name"] for e in rec["experts"]] == ["expert-shape", "expert-color"]
        assert rec["output"] == json.dumps({"color": w})


@pytest.mark.parametrize(
    ("kind", "new_order", "mode"),
    [
        ("lora", 9, "merged"),  # closure written into the base, LoRA on top
        ("ia3", 9, "merged"),
        ("dora", 9, "stacked"),  # DoRA norms come from the original weights, as at run time
        ("lora", 0, "stacked"),  # loads before its closure: composed in Session's order
    ],
)
def test_training_composes_the_set_exactly_as_session_runs_it(
    kind, new_order, mode, tiny, base_ref, ref, tmp_path
):
    from hxpm.runtime.recipe import Example, TrainConfig
    from hxpm.runtime.session import AdapterRef, Session
    from hxpm.runtime.train import TrainJob, train

    closure = (
        (ref("ia3-a", load_order=1), ref("ia3-b", load_order=2))
        if kind == "ia3"
        else (ref("lora-a", load_order=1), ref("dora-b", load_order=2))
    )
    config = (
        TrainConfig(
            adapter_type="ia3",
            rank=None,
            alpha=None,
            learning_rate=0.05,
            target_modules=("k_proj", "v_proj", "down_proj"),
            feedforward_modules=("down_proj",),
        )
        if kind == "ia3"
        else TrainConfig(adapter_type=kind, rank=4, alpha=8, learning_rate=0.01)
    )
    examples = tuple(Example(**color(w)) for w in WORDS)
    out = train(
        TrainJob(
            base_ref,
            config,
            examples,
            tmp_path / "dep",
            load_order=new_order,
            requires=closure,
            max_steps=15,
            device="cpu",
        )
    )
    assert out.mode == mode and out.last_loss < out.first_loss
    me = AdapterRef("dep", "1.0.0", tmp_path / "dep", load_order=new_order, base_sha256=tiny.digest)
    for merge in ("auto", "never"):
        with Session(base_ref, device="cpu", merge=merge) as s:
            s.use([*closure, me])
            torch.testing.assert_close(s.logits(out.probe_ids), out.probe_logits, atol=1e-4, rtol=0)


def test_an_ia3_adapter_cannot_train_on_a_lora_closure(base_ref, ref, tmp_path):
    from hxpm.errors import InferenceError
    from hxpm.runtime.recipe import Example, TrainConfig
    from hxpm.runtime.train import TrainJob, train

    job = TrainJob(
        base_ref,
        TrainConfig(adapter_type="ia3", rank=None, alpha=None, target_modules=("v_proj",)),
        (Example("a", "b"),),
        tmp_path / "x",
        requires=(ref("lora-a"),),
        max_steps=1,
        device="cpu",
    )
    with pytest.raises(InferenceError, match="cannot be stacked"):
        train(job)
    assert not (tmp_path / "x").exists()


# --- refused recipes -----------------------------------------------------------------------


def _set(path: str, value: Any):
    def change(m: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        obj = m
        for p in parents:
            obj = obj[p]
        if value is _DELETE:
            del obj[last]
        else:
            obj[last] = value

    return change


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("training.config.rank", 0, "training.config.rank"),
        ("training.config.adapter_type", "lokr", "training.config.adapter_type"),
        ("training.config.method", "ppo", "training.config.method"),
        ("training.config.epochs", -1, "training.config.epochs"),
        ("training.config.learning_rate", "fast", "training.config.learning_rate"),
        ("training.config.batch_size", 0, "training.config.batch_size"),
        ("training.config.dropout", 1.5, "training.config.dropout"),
        ("training.config.target_modules", [], "training.config.target_modules"),
        ("training.config.lr_scheduler", "step", "training.config.lr_scheduler"),
        ("training.config.warmup_steps", -3, "training.config.warmup_steps"),
        ("training.dataset.format", "parquet", "training.dataset.format"),
        ("training.config.save_steps", -1, "training.config.save_steps"),
        ("training.config.bf16", "yes", "training.config.bf16"),
        ("training.config.gradient_checkpointing", "x", "training.config.gradient_checkpointing"),
        ("training.config.warmup_ratio", 1.5, "training.config.warmup_ratio"),
        ("training.dataset.path", _DELETE, "training.dataset.path"),
        ("training.decoding.stop_sequences", [""], "training.decoding.stop_sequences[0]"),
        ("training.decoding.max_new_tokens", 0, "training.decoding.max_new_tokens"),
        ("training", _DELETE, "training"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_recipes_are_refused_naming_the_field(store, tiny, tmp_path, path, value, field):
    d = make_expert(tmp_path, "expert-color", tiny.digest, train=[color(w) for w in WORDS])
    edit_manifest(d, _set(path, value))
    with pytest.raises(ManifestError) as info:
        train_expert(store, TrainRequest(d, device="cpu"))
    assert field in info.value.message
    assert [p[0] for p in info.value.problems] == [field]
    assert not (d / "adapter_model.safetensors").exists()


def test_an_ia3_recipe_has_no_rank_or_alpha(store, tiny, tmp_path):
    d = make_expert(
        tmp_path,
        "expert-color",
        tiny.digest,
        train=[color(w) for w in WORDS],
        training=recipe(adapter_type="ia3"),
    )
    with pytest.raises(ManifestError) as info:
        train_expert(store, TrainRequest(d, device="cpu"))
    assert [p[0] for p in info.value.problems] == ["training.config.rank", "training.config.alpha"]


def test_target_modules_the_base_lacks_are_named(store, tiny, tmp_path):
    d = make_expert(
        tmp_path,
        "expert-color",
        tiny.digest,
        train=[color(w) for w in WORDS],
        training=recipe(target_modules=["q_proj", "qkv_proj"]),
    )
    with pytest.raises(ManifestError, match=r"training\.config\.target_modules.*qkv_proj"):
        train_expert(store, TrainRequest(d, device="cpu"))


def test_bad_datasets_name_the_file_and_line(store, tiny, tmp_path):
    d = make_expert(tmp_path, "expert-color", tiny.digest, train=[color(w) for w in WORDS])
    with (d / "datasets" / "train.jsonl").open("a") as f:
        f.write('{"prompt": "x", "answer": "y"}\n')
    with pytest.raises(DatasetError, match=r"train\.jsonl line 11: .*completion") as info:
        train_expert(store, TrainRequest(d, device="cpu"))
    assert info.value.line == 11 and info.value.field == "completion"
    assert not (d / "adapter_model.safetensors").exists()
    (d / "datasets" / "train.jsonl").unlink()
    with pytest.raises(NotFoundError, match=r"training\.dataset\.path"):
        train_expert(store, TrainRequest(d, device="cpu"))


def test_the_variant_must_be_built_for_the_registered_base(store, tiny, tmp_path):
    d = make_expert(tmp_path, "expert-color", tiny.digest, train=[color(w) for w in WORDS])
    edit_manifest(d, lambda m: m["base_models"][0].update(sha256="ab" * 32))
    with pytest.raises(BaseMismatchError, match="base digest"):
        train_expert(store, TrainRequest(d, device="cpu"))
    edit_manifest(d, lambda m: m["base_models"][0].update(name="Qwen/Qwen3-0.6B"))
    with pytest.raises(BaseMismatchError, match="no variant for base model 'hxpm/tiny'"):
        train_expert(store, TrainRequest(d, device="cpu"))
    with pytest.raises(UsageError, match="--max-steps"):
        train_expert(store, TrainRequest(d, max_steps=0))


# --- the no-torch side -----------------------------------------------------------------------

WITHOUT_RUNTIME = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'transformers', 'peft', 'safetensors'):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Block())
from pathlib import Path
from hxpm.errors import HxpmError
from hxpm.services.training import TrainRequest, train_expert
from hxpm.store.store import Store
try:
    train_expert(Store.from_env(), TrainRequest(Path(sys.argv[1])))
except HxpmError as e:
    print(type(e).__name__, e.message)
"""


def test_recipes_are_checked_before_the_runtime_is_imported(store, tiny, tmp_path, hxpm_home):
    import os
    import subprocess
    import sys

    d = make_expert(tmp_path, "expert-color", tiny.digest, train=[color(w) for w in WORDS])
    env = {**os.environ, "HXPM_HOME": str(hxpm_home)}

    def run() -> str:
        r = subprocess.run(
            [sys.executable, "-c", WITHOUT_RUNTIME, str(d)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout

    assert run().startswith("RuntimeMissingError this command needs the hxpm runtime (torch")
    edit_manifest(d, _set("training.config.rank", -1))
    assert run().startswith("ManifestError")
