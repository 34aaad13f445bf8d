"""Builders for real test inputs: safetensors files, expert directories, base model dirs.

These write genuine files in the formats hxpm reads (safetensors, PEFT adapter configs,
manifests); nothing here imports hxpm, so tests exercise hxpm against independent inputs.
"""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path
from typing import Any

DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2}


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]], seed: int = 0) -> None:
    """Write a valid safetensors file with random bytes for each (dtype, shape) tensor."""
    rng = random.Random(seed)
    header: dict[str, Any] = {}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        dtype, shape = tensors[name]
        n = DTYPE_SIZES[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        blobs.append(rng.randbytes(n))
        offset += n
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def lora_tensors(layers: int = 2, hidden: int = 64, r: int = 4) -> dict[str, tuple[str, list[int]]]:
    out: dict[str, tuple[str, list[int]]] = {}
    for i in range(layers):
        for mod in ("q_proj", "v_proj"):
            prefix = f"base_model.model.model.layers.{i}.self_attn.{mod}"
            out[f"{prefix}.lora_A.weight"] = ("F32", [r, hidden])
            out[f"{prefix}.lora_B.weight"] = ("F32", [hidden, r])
    return out


def manifest_dict(
    name: str = "expert-demo",
    version: str = "0.1.0",
    *,
    bases: tuple[tuple[str, str], ...] = (("hxpm/tiny-qwen3", "0" * 64),),
    requires: list[str] | None = None,
    incompatible_with: list[str] | None = None,
    load_order: int = 5,
    keywords: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A schema-2.0 manifest with one variant per (base name, base sha256)."""
    data: dict[str, Any] = {
        "name": name,
        "version": version,
        "schema_version": "2.0",
        "description": f"{name} test expert",
        "license": "Apache-2.0",
        "author": "hxpm tests",
        "base_models": [
            {
                "name": base,
                "sha256": digest,
                "prompt_template": "chatml",
                "adapters": [
                    {"type": "lora", "r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}
                ],
            }
            for base, digest in bases
        ],
        "capabilities": ["tech:test"],
        "routing": {"keywords": keywords or [name.removeprefix("expert-")], "priority": 0.5},
        "constraints": {
            "requires": requires or [],
            "incompatible_with": incompatible_with or [],
            "load_order": load_order,
            "max_chain": 10,
        },
    }
    data.update(extra or {})
    return data


def adapter_config(base: str = "hxpm/tiny-qwen3", r: int = 4) -> dict[str, Any]:
    return {
        "peft_type": "LORA",
        "base_model_name_or_path": base,
        "r": r,
        "lora_alpha": 2 * r,
        "lora_dropout": 0.0,
        "target_modules": ["q_proj", "v_proj"],
        "bias": "none",
        "task_type": "CAUSAL_LM",
    }


def make_expert_dir(
    root: Path,
    name: str = "expert-demo",
    version: str = "0.1.0",
    *,
    seed: int = 0,
    weight_bytes: int = 0,
    **manifest_kw: Any,
) -> Path:
    """Create an expert directory ready for ``hxpm package``.

    ``weight_bytes`` > 0 sizes the adapter to roughly that many bytes (for benchmarks).
    """
    d = root / f"{name}-{version}"
    d.mkdir(parents=True, exist_ok=True)
    m = manifest_dict(name, version, **manifest_kw)
    (d / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    (d / "adapter_config.json").write_text(json.dumps(adapter_config(), indent=2) + "\n")
    tensors = lora_tensors()
    if weight_bytes:
        rows = max(1, weight_bytes // (4 * 1024))
        tensors = {"base_model.model.model.layers.0.mlp.big.lora_A.weight": ("F32", [rows, 1024])}
    write_safetensors(d / "adapter_model.safetensors", tensors, seed=seed)
    (d / "README.md").write_text(f"# {name}\n\nA test expert.\n")
    return d


def make_base_dir(root: Path, name: str = "tiny-base", *, seed: int = 0) -> Path:
    """A Hugging Face-format directory with config.json and one safetensors file."""
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps({"model_type": "qwen3", "hidden_size": 64}) + "\n")
    write_safetensors(d / "model.safetensors", {"embed.weight": ("F32", [16, 64])}, seed=seed)
    return d
