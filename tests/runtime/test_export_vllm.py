"""`hxpm export vllm` on adapters written by plain PEFT and installed through hxpm.

* what vLLM refuses (DoRA, IA3, PiSSA, modules_to_save, bias) is refused by name;
* a stacked expert is refused without --merge-stack;
* --merge-stack writes one LoRA that plain PEFT loads and that equals the stacked hxpm run
  (float32 logits within 1e-4), of rank the sum of the members' ranks; the same on the
  real demo experts (expert-document-classifier on json, english-basic and cypher).

No GPU is needed: the checks run in float32 on the CPU, as the export itself does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

from hxpm.core.adapter_config import load_adapter_config
from hxpm.core.vllm import vllm_refusals
from hxpm.runtime.loader import quiet_transformers
from hxpm.runtime.session import AdapterRef, BaseRef, Session
from tests.factories import manifest_dict

ROOT = Path(__file__).resolve().parents[2]
TOKENS = list(range(40, 100, 2))
ATOL = 1e-4


def _peft_adapter(base: Path, out: Path, config: LoraConfig, seed: int) -> Path:
    """Save ``config`` with PEFT on ``base``, with random non-zero weights."""
    with quiet_transformers():
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(0.15 * torch.randn(p.shape, generator=gen))
    with quiet_transformers():
        model.save_pretrained(out, save_embedding_layers=False)
    return out


def _install(
    cli, src: Path, name: str, adapter: Path, digest: str, *, requires=(), order: int
) -> None:
    d = src / name
    d.mkdir(parents=True)
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(adapter / f, d / f)
    m = manifest_dict(
        name, "1.0.0", bases=(("hxpm/tiny", digest),), requires=list(requires), load_order=order
    )
    (d / "manifest.json").write_text(json.dumps(m))
    r = cli("install", d, "--unsafe-allow-unsigned")
    assert r.code == 0, r.err


@pytest.fixture
def world(cli, tiny, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny.base, base)
    assert cli("base", "add", "hxpm/tiny", "--path", base).code == 0
    # Per-module ranks and scales, and rsLoRA: the merge must take them as PEFT does.
    patterned = _peft_adapter(
        tiny.base,
        tmp_path / "patterned",
        LoraConfig(
            r=4,
            lora_alpha=8,
            target_modules=["q_proj", "v_proj", "o_proj"],
            lora_dropout=0.0,
            rank_pattern={"v_proj": 8},
            alpha_pattern={"q_proj": 3},
            use_rslora=True,
        ),
        seed=11,
    )
    src = tmp_path / "src"
    for name, adapter, requires, order in [
        ("expert-json", tiny.adapters["lora-a"], (), 2),
        ("expert-pat", patterned, (), 3),
        ("expert-top", tiny.adapters["lora-c"], ("expert-json", "expert-pat"), 7),
        ("expert-dora", tiny.adapters["dora-a"], (), 4),
        ("expert-ia3", tiny.adapters["ia3-a"], (), 5),
        ("expert-report", tiny.adapters["lora-b"], ("expert-dora",), 8),
    ]:
        _install(cli, src, name, adapter, tiny.digest, requires=requires, order=order)
    return BaseRef("hxpm/tiny", base, tiny.digest)


def _stacked_logits(base: BaseRef, refs: list[AdapterRef]) -> torch.Tensor:
    with Session(base, device="cpu", merge="never") as s:
        s.use(refs)
        return s.logits(TOKENS)


def _plain_peft_logits(base: Path, folder: Path | None) -> torch.Tensor:
    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(base)
        if folder is not None:
            model = PeftModel.from_pretrained(model, folder)
    with torch.no_grad():
        return model(torch.tensor([TOKENS])).logits[0]


def test_merge_stack_is_one_lora_equal_to_the_stack(cli, world, tmp_path):
    out = tmp_path / "out"
    r = cli("export", "vllm", "expert-top", "--merge-stack", "-o", out, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    by_name = {m["name"]: m for m in doc["modules"]}
    assert list(by_name) == ["expert-json", "expert-pat", "expert-top"]
    top = by_name["expert-top"]
    assert top["merged_stack"] == ["expert-json", "expert-pat", "expert-top"]
    assert top["rank"] == 4 + 8 + 4  # the members' largest ranks, summed
    assert top["check"]["max_abs_diff"] < ATOL
    assert doc["max_rank"] == 16 and doc["max_lora_rank"] == 16 and doc["max_loras"] == 3
    folder = Path(top["path"])
    assert folder.parent == out.resolve()
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["r"] == config["lora_alpha"] == 16 and not config["rank_pattern"]
    assert not config["use_rslora"] and not config["use_dora"]

    # Independently of the export's own check: plain PEFT vs hxpm's stacked run.
    members = [
        AdapterRef(n, "1.0.0", Path(by_name[n]["path"]), load_order=o)
        for n, o in (("expert-json", 2), ("expert-pat", 3))
    ]
    top_dir = next(Path(world.path).parent.glob("home/experts/expert-top/*/*/*"))
    members.append(AdapterRef("expert-top", "1.0.0", top_dir, load_order=7))
    stacked = _stacked_logits(world, members)
    merged = _plain_peft_logits(world.path, folder)
    torch.testing.assert_close(merged, stacked, atol=ATOL, rtol=0)
    assert (merged - _plain_peft_logits(world.path, None)).abs().max() > 1e-2
    alone = _stacked_logits(world, members[-1:])
    assert (merged - alone).abs().max() > 1e-2  # the requires really are in it

    # Exporting again replaces the folder in place: same path, no staging left behind.
    again = cli("export", "vllm", "expert-top", "--merge-stack", "-o", out, "--json").json()
    assert again["modules"][-1]["path"] == top["path"]
    assert [p.name for p in out.iterdir()] == [folder.name]


BLOCK_RUNTIME = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'transformers', 'peft'):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Block())
from hxpm.cli.app import main
main(sys.argv[1:])
"""


def test_merge_stack_without_the_runtime_says_how_to_install(world, hxpm_home, tmp_path):
    # The runtime IS installed here: a meta-path hook hides it, as on a machine without it.
    env = {**os.environ, "HXPM_HOME": str(hxpm_home)}
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCK_RUNTIME,
            "export",
            "vllm",
            "expert-top",
            "--merge-stack",
            "-o",
            str(tmp_path / "out"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 1, r.stderr
    assert "--merge-stack needs the hxpm runtime" in r.stderr and "hxpm[runtime]" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


def test_a_stacked_expert_needs_merge_stack(cli, world):
    r = cli("export", "vllm", "expert-top")
    assert r.code == 2 and "needs --merge-stack" in r.err and "--merge-stack" in r.err
    doc = cli("export", "vllm", "--json").json()
    assert [m["name"] for m in doc["modules"]] == ["expert-json", "expert-pat"]
    skipped = {s["name"]: s["reason"] for s in doc["skipped"]}
    assert set(skipped) == {"expert-top", "expert-dora", "expert-ia3", "expert-report"}
    assert "DoRA" in skipped["expert-dora"] and "IA3" in skipped["expert-ia3"]
    assert doc["max_rank"] == 8 and any("rank_pattern" in n for n in doc["notes"])


@pytest.mark.parametrize(
    "name, words",
    [
        ("expert-dora", ["expert-dora", "DoRA", "plain LoRA only"]),
        ("expert-ia3", ["expert-ia3", "IA3", "LoRA only"]),
    ],
)
def test_adapters_vllm_cannot_load_are_refused(cli, world, name, words):
    r = cli("export", "vllm", name)
    assert r.code == 2 and all(w in r.err for w in words), r.err
    assert "Traceback" not in r.err


def test_a_stack_with_a_dora_member_is_not_merged(cli, world, tmp_path):
    r = cli("export", "vllm", "expert-report", "--merge-stack", "-o", tmp_path / "out")
    assert r.code == 2
    assert "cannot merge its stack: expert-dora (DoRA" in r.err
    assert not (tmp_path / "out").exists()  # refused before anything was written


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"init_lora_weights": "pissa"}, "init_lora_weights='pissa'"),
        ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
        ({"bias": "all"}, "bias='all'"),
        ({"use_dora": True}, "DoRA"),
    ],
)
def test_vllm_refusals_on_configs_written_by_peft(tiny, tmp_path, config, expected):
    folder = _peft_adapter(
        tiny.base,
        tmp_path / "a",
        LoraConfig(
            r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0, **config
        ),
        seed=3,
    )
    reasons = vllm_refusals(load_adapter_config(folder / "adapter_config.json"))
    assert any(expected in r for r in reasons), reasons
    plain = _peft_adapter(
        tiny.base,
        tmp_path / "b",
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0),
        seed=3,
    )
    assert vllm_refusals(load_adapter_config(plain / "adapter_config.json")) == []


def test_ia3_written_by_peft_is_refused(tiny):
    reasons = vllm_refusals(load_adapter_config(tiny.adapters["ia3-a"] / "adapter_config.json"))
    assert reasons and "IA3" in reasons[0]


def test_the_check_catches_a_wrong_merge(tiny, ref, base_ref, tmp_path):
    from hxpm.runtime.stack_export import check_merged, write_merged_stack

    members = [ref("lora-a", load_order=1), ref("lora-b", load_order=2)]
    merged = write_merged_stack(base_ref, members, tmp_path / "m")
    assert merged.rank == 8 and merged.check.max_abs_diff < ATOL
    weights = tmp_path / "m" / "adapter_model.safetensors"
    state = load_file(weights)
    key = next(k for k in state if k.endswith("v_proj.lora_B.weight"))
    state[key] = state[key] * 1.5  # one member's scale folded in wrongly on one module
    save_file(state, weights)
    check = check_merged(base_ref, members, tmp_path / "m")
    assert check.max_abs_diff > check.allowed


def test_demo_classifier_stack_merges_exactly(cli, tmp_path):
    """The real demo experts (LoRA r=8, trained by hxpm) from their signed packages."""
    assert cli("base", "add", "hxpm/tiny-qwen3", "--path", ROOT / "models" / "tiny-qwen3").code == 0
    assert (
        cli(
            "trust",
            "add",
            ROOT / "demo" / "keys" / "demo-publisher.pub",
            "--name",
            "hxpm-demo",
            "--experts",
            "expert-*",
        ).code
        == 0
    )
    names = ["expert-json", "expert-english-basic", "expert-cypher", "expert-document-classifier"]
    for name in names:
        package = next((ROOT / "experts" / name / "dist").glob("*.expert"))
        r = cli("install", package)
        assert r.code == 0, r.err
    r = cli(
        "export",
        "vllm",
        "expert-document-classifier",
        "--merge-stack",
        "-o",
        tmp_path / "out",
        "--json",
    )
    assert r.code == 0, r.err
    doc = r.json()
    classifier = doc["modules"][-1]
    assert classifier["name"] == "expert-document-classifier"
    assert sorted(classifier["merged_stack"]) == sorted(names) and classifier["rank"] == 32
    assert classifier["check"]["max_abs_diff"] < ATOL and doc["max_lora_rank"] == 32


def test_only_lora_on_linear_layers_is_merged(ref, base_ref, tmp_path):
    from hxpm.errors import InferenceError
    from hxpm.runtime.stack_export import write_merged_stack

    with pytest.raises(InferenceError, match=r"embed_tokens is not a Linear layer \(Embedding\)"):
        write_merged_stack(base_ref, [ref("lora-a"), ref("lora-emb", load_order=1)], tmp_path / "m")
    with pytest.raises(InferenceError, match="cannot merge dora-b: it is a DoRA adapter"):
        write_merged_stack(base_ref, [ref("lora-a"), ref("dora-b", load_order=1)], tmp_path / "m")
    assert not (tmp_path / "m").exists()
