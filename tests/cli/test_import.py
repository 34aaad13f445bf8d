"""`hxpm import` without torch: real PEFT configs, base naming, refusals, nothing left behind.

The adapter configs are real files from public repositories (tests/fixtures/
peft-adapter-configs); their weights are header-correct safetensors written by
tests/adapter_files.py. The runtime side (PEFT-written adapters imported, installed and run
with logits equal to PEFT's) is tests/runtime/test_import_peft.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adapter_files import adapter_folder, layer_modules, lora_tensors, real_config

ORIGINAL = Path(__file__).resolve().parents[1] / "fixtures" / "original-ecosystem"
TINY = Path(__file__).resolve().parents[2] / "models" / "tiny-qwen3"


def real_adapter(root: Path, name: str = "qwythos-9b-math-sft", **change) -> Path:
    config = {**real_config(name), **change}
    targets = ["q_proj", "v_proj"]  # a subset: peft saves only the modules the model has
    tensors = lora_tensors(layer_modules(targets), config["r"])
    return adapter_folder(root, config, tensors)


def test_import_a_real_config_writes_a_valid_expert(cli, tmp_path):
    src = real_adapter(tmp_path / "Qwythos_Math.SFT")
    r = cli("import", src, "-o", tmp_path / "out", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["schema"] == "hxpm.import/1" and doc["name"] == "expert-qwythos-math-sft"
    assert doc["files"] == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "manifest.json",
    ]
    assert doc["adapter"] == {"kind": "lora", "max_rank": 16, "tensors": 8}
    assert len(doc["commit"]) == 40
    # The real config names its base by a local folder: its last part, with a warning.
    assert doc["base"] == {
        "name": "qwythos-9b",
        "sha256": "",
        "registered": False,
        "in_adapter_config": "/root/autodl-tmp/models/qwythos-9b",
    }
    assert any("local folder" in w for w in doc["warnings"])
    out = tmp_path / "out"
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        assert (out / f).read_bytes() == (src / f).read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema_version"] == "2.0" and manifest["version"] == "0.1.0"
    assert "training" not in manifest and manifest["imported"]["peft_version"] == "0.18.1"
    adapter = manifest["base_models"][0]["adapters"][0]
    assert adapter == {
        "type": "lora",
        "r": 16,
        "alpha": 32,
        "target_modules": sorted(real_config("qwythos-9b-math-sft")["target_modules"]),
    }
    assert "Qwythos_Math.SFT" in (out / "README.md").read_text()
    assert cli("validate", out).code == 0
    r = cli("package", out, "-o", tmp_path / "dist", "--json")
    assert r.code == 0, r.err


def test_rank_pattern_and_rslora_reach_the_manifest(cli, tmp_path):
    config = {
        **real_config("unsloth-dpo-llama32"),
        "rank_pattern": {"v_proj": 2},
        "alpha_pattern": {"v_proj": 4},
        "use_rslora": True,
    }
    modules = layer_modules(["q_proj", "v_proj"])
    ranks = {m: 2 if m.endswith("v_proj") else 8 for m in modules}
    src = adapter_folder(tmp_path / "a", config, lora_tensors(modules, ranks))
    r = cli(
        "import",
        src,
        "--name",
        "patterned",
        "--version",
        "2.1.0",
        "-o",
        tmp_path / "out",
        "--no-git",
        "--json",
    )
    assert r.code == 0, r.err
    assert r.json()["commit"] is None and not (tmp_path / "out" / ".git").exists()
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["name"] == "expert-patterned" and m["version"] == "2.1.0"
    adapter = m["base_models"][0]["adapters"][0]
    assert adapter["rank_pattern"] == {"v_proj": 2} and adapter["alpha_pattern"] == {"v_proj": 4}
    assert adapter["use_rslora"] is True


def test_local_base_path_from_the_original_ecosystem_maps_to_a_registered_base(cli, tmp_path):
    # A real manifest of the older tool names its base by a Windows folder.
    legacy = json.loads((ORIGINAL / "manifests" / "expert-sql" / "manifest.json").read_text())
    folder = legacy["base_models"][0]["name"]
    assert folder.startswith("F:/")
    assert cli("base", "add", "Qwen/Qwen3-0.6B", "--path", TINY).code == 0
    digest = next(b["sha256"] for b in cli("base", "list", "--json").json()["bases"])
    src = real_adapter(tmp_path / "sql", base_model_name_or_path=folder)
    doc = cli("import", src, "-o", tmp_path / "out", "--json").json()
    assert doc["base"]["name"] == "Qwen/Qwen3-0.6B" and doc["base"]["sha256"] == digest
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["base_models"][0]["sha256"] == digest
    # The registered folder itself also matches; --base overrides with a warning.
    src2 = real_adapter(tmp_path / "sql2", base_model_name_or_path=str(TINY))
    assert cli("import", src2, "-o", tmp_path / "o2", "--json").json()["base"]["registered"]
    r = cli("import", src2, "-o", tmp_path / "o3", "--base", "other/model", "--json").json()
    assert r["base"]["name"] == "other/model" and not r["base"]["registered"]


def _refused(cli, src: Path, target: Path, *extra: str):
    r = cli("import", src, "-o", target, *extra)
    assert r.code != 0 and "Traceback" not in r.err
    assert not target.exists()  # nothing written, nothing left behind
    return r


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"init_lora_weights": "pissa"}, "PiSSA"),
        ({"init_lora_weights": "olora"}, "OLoRA"),
        ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
        ({"bias": "all"}, "bias='all'"),
        ({"use_rslora": True, "fan_in_fan_out": True}, "fan_in_fan_out"),
        ({"peft_type": "ADALORA"}, "ADALORA"),
    ],
)
def test_unrunnable_kinds_are_refused_by_name(cli, tmp_path, change, named):
    src = real_adapter(tmp_path / "a", **change)
    r = _refused(cli, src, tmp_path / "out", "--json")
    err = r.json()
    assert r.code == 1 and err["error"] == "unsupported-adapter"
    assert named in err["message"]
    if named in ("PiSSA", "OLoRA"):
        assert "path_initial_model_for_weight_conversion" in err["hint"]


def test_a_pickle_only_adapter_is_refused_unread(cli, tmp_path):
    src = real_adapter(tmp_path / "a")
    (src / "adapter_model.safetensors").rename(src / "adapter_model.bin")
    r = _refused(cli, src, tmp_path / "out")
    assert r.code == 1 and "convert it to safetensors" in r.err
    assert "save_file" in r.err  # the hint says how


@pytest.mark.parametrize(
    ("damage", "code", "said"),
    [
        ("no-folder", 4, "does not exist"),
        ("no-config", 4, "adapter_config.json is missing"),
        ("no-weights", 4, "adapter_model.safetensors is missing"),
        ("duplicate-key", 1, "duplicate key"),
        ("truncated-weights", 1, "invalid safetensors"),
        ("wrong-rank", 1, "config gives r=16"),
        ("untargeted", 1, "not in target_modules"),
        ("escape-in-base", 2, "base name"),
    ],
)
def test_bad_adapters_are_clear_errors(cli, tmp_path, damage, code, said):
    src = real_adapter(tmp_path / "a")
    config, weights = src / "adapter_config.json", src / "adapter_model.safetensors"
    if damage == "no-folder":
        src = tmp_path / "missing"
    elif damage == "no-config":
        config.unlink()
    elif damage == "no-weights":
        weights.unlink()
    elif damage == "duplicate-key":
        config.write_text(config.read_text().replace('"r": 16,', '"r": 16, "r": 4,'))
    elif damage == "truncated-weights":
        weights.write_bytes(weights.read_bytes()[:-10])
    elif damage == "wrong-rank":
        adapter_folder(
            src, real_config("qwythos-9b-math-sft"), lora_tensors(layer_modules(["q_proj"]), 4)
        )
    elif damage == "untargeted":
        adapter_folder(
            src,
            {**real_config("qwythos-9b-math-sft"), "target_modules": ["q_proj"]},
            lora_tensors(layer_modules(["q_proj", "v_proj"]), 16),
        )
    elif damage == "escape-in-base":
        adapter_folder(
            src,
            {**real_config("qwythos-9b-math-sft"), "base_model_name_or_path": "evil\x1b[2J/model"},
            lora_tensors(layer_modules(["q_proj"]), 16),
        )
    r = _refused(cli, src, tmp_path / "out")
    assert r.code == code and said in r.err, r.err
    assert "\x1b" not in r.err


def test_names_and_targets(cli, tmp_path):
    src = real_adapter(tmp_path / "a")
    assert _refused(cli, src, tmp_path / "out", "--name", "Bad_Name").code == 2
    assert _refused(cli, src, tmp_path / "out", "--version", "one").code == 2
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    r = cli("import", src, "-o", busy)
    assert r.code == 2 and "empty folder" in r.err
    assert sorted(p.name for p in busy.iterdir()) == ["keep.txt"]
    odd = real_adapter(tmp_path / "123")
    r = cli("import", odd, "-o", tmp_path / "o")
    assert r.code == 2 and "--name" in r.err


def test_import_does_not_import_the_runtime(tmp_path):
    src = real_adapter(tmp_path / "a")
    probe = (
        "import sys\nfrom hxpm.cli.app import main\ntry:\n    main(sys.argv[1:])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print([m for m in ('torch', 'transformers', 'peft') if m in sys.modules])\n"
    )
    env = {**os.environ, "HXPM_HOME": str(tmp_path / "home")}
    r = subprocess.run(
        [sys.executable, "-c", probe, "import", str(src), "-o", str(tmp_path / "out"), "--no-git"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"
