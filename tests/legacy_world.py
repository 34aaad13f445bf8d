"""Experts of the older ecosystem, rebuilt from its REAL files for the tiny base model.

The manifest and grammar bytes come from tests/fixtures/original-ecosystem (see its
PROVENANCE.tsv): their base is named ``F:/Node/hivellm/expert/models/Qwen3-0.6B`` with
``"sha256": ""``. The real Qwen3-0.6B is not here, so tests register models/tiny-qwen3 under
the name ``Qwen/Qwen3-0.6B``. The adapter numbers of the real manifests (DoRA, r 12-16, on
q/k/v/o/up/down) fit the tiny model as they are, so the manifests are not edited for that.

Adapters: ``write_dora_adapter`` writes safetensors shaped exactly as PEFT names and sizes a
DoRA adapter for models/tiny-qwen3 (no torch: the CLI tests never load it); the runtime test
makes its adapter with PEFT itself (``save_pretrained``) and loads it.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from tests.factories import write_safetensors

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "original-ecosystem"
TINY_BASE = ROOT / "models" / "tiny-qwen3"
LEGACY_BASE = "F:/Node/hivellm/expert/models/Qwen3-0.6B"
REGISTERED_AS = "Qwen/Qwen3-0.6B"

# Qwen3 projections: (input, output) features for models/tiny-qwen3 (hidden 128, 4 query
# heads and 2 key/value heads of 32, intermediate 384, 4 layers).
_TINY = json.loads((TINY_BASE / "config.json").read_text())
_H, _I = _TINY["hidden_size"], _TINY["intermediate_size"]
_KV = _TINY["num_key_value_heads"] * _TINY["head_dim"]
_Q = _TINY["num_attention_heads"] * _TINY["head_dim"]
PROJ_SHAPES = {
    "q_proj": ("self_attn", _H, _Q),
    "k_proj": ("self_attn", _H, _KV),
    "v_proj": ("self_attn", _H, _KV),
    "o_proj": ("self_attn", _Q, _H),
    "gate_proj": ("mlp", _H, _I),
    "up_proj": ("mlp", _H, _I),
    "down_proj": ("mlp", _I, _H),
}


def real_manifest_bytes(name: str) -> bytes:
    return (CORPUS / "manifests" / name / "manifest.json").read_bytes()


def real_manifest(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(real_manifest_bytes(name))
    return data


def adapter_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["base_models"][0]["adapters"][0]
    return spec


def write_dora_adapter(out: Path, manifest: dict[str, Any], *, seed: int = 0) -> None:
    """adapter_config.json + adapter_model.safetensors as PEFT writes them for this spec."""
    spec = adapter_spec(manifest)
    r, targets = int(spec["r"]), list(spec["target_modules"])
    use_dora = spec["type"] == "dora"
    config = {
        "peft_type": "LORA",
        "base_model_name_or_path": REGISTERED_AS,
        "r": r,
        "lora_alpha": spec["alpha"],
        "lora_dropout": 0.0,
        "target_modules": targets,
        "use_dora": use_dora,
        "bias": "none",
        "task_type": "CAUSAL_LM",
    }
    tensors: dict[str, tuple[str, list[int]]] = {}
    for layer in range(_TINY["num_hidden_layers"]):
        for mod in targets:
            block, fan_in, fan_out = PROJ_SHAPES[mod]
            prefix = f"base_model.model.model.layers.{layer}.{block}.{mod}"
            tensors[f"{prefix}.lora_A.weight"] = ("F32", [r, fan_in])
            tensors[f"{prefix}.lora_B.weight"] = ("F32", [fan_out, r])
            if use_dora:
                tensors[f"{prefix}.lora_magnitude_vector"] = ("F32", [fan_out])
    out.mkdir(parents=True, exist_ok=True)
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    write_safetensors(out / "adapter_model.safetensors", tensors, seed=seed)


def legacy_expert_dir(
    root: Path,
    name: str,
    *,
    adapter: Path | None = None,
    manifest: dict[str, Any] | None = None,
    seed: int = 0,
) -> Path:
    """An expert folder: the real manifest (bytes unchanged unless ``manifest`` is given),
    the real grammar when the corpus has one, a README and adapter files for the tiny base
    (copied from ``adapter``, a PEFT output folder, else written by ``write_dora_adapter``)."""
    d = root / name
    d.mkdir(parents=True)
    if manifest is None:
        (d / "manifest.json").write_bytes(real_manifest_bytes(name))
    else:
        (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    grammar = CORPUS / "grammars" / name / "grammar.gbnf"
    if grammar.is_file():
        shutil.copy(grammar, d / "grammar.gbnf")
    (d / "README.md").write_text(f"# {name}\n")
    if adapter is not None:
        for f in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copy(adapter / f, d / f)
    else:
        write_dora_adapter(d, manifest or real_manifest(name), seed=seed)
    return d


def legacy_archive(expert_dir: Path, out: Path) -> Path:
    """Pack ``expert_dir`` as the original expert-cli did: gzip tar, GNU headers, manifest
    first (see tests/unit/package/test_reader.py ``legacy_package``)."""
    files = sorted(
        (p for p in expert_dir.rglob("*") if p.is_file()),
        key=lambda p: (p.name != "manifest.json", p.as_posix()),
    )
    with tarfile.open(out, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for path in files:
            tar.add(path, arcname=path.relative_to(expert_dir).as_posix())
    return out
