"""Torch-free PEFT adapter folders for tests: a real config plus a header-correct weights file.

The safetensors file is written by hand (8-byte header length, JSON header, zero-filled data)
so that the torch-free tests of ``hxpm import`` need no torch. Tensor names and shapes follow
what PEFT's ``save_pretrained`` writes for a model whose modules are listed in ``modules``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "peft-adapter-configs"
BYTES = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}


def write_safetensors(path: Path, tensors: Mapping[str, tuple[str, Sequence[int]]]) -> None:
    """``{name: (dtype, shape)}`` as a valid safetensors file of zeros."""
    header: dict[str, Any] = {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = BYTES[dtype]
        for d in shape:
            size *= d
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


def lora_tensors(
    modules: Sequence[str],
    r: int | Mapping[str, int],
    *,
    n_in: int = 64,
    n_out: int = 64,
    dora: bool = False,
) -> dict[str, tuple[str, list[int]]]:
    """PEFT's saved keys for a LoRA/DoRA adapter on ``modules`` (rank per module or one)."""
    out: dict[str, tuple[str, list[int]]] = {}
    for m in modules:
        rank = r if isinstance(r, int) else r[m]
        key = f"base_model.model.{m}"
        out[f"{key}.lora_A.weight"] = ("F32", [rank, n_in])
        out[f"{key}.lora_B.weight"] = ("F32", [n_out, rank])
        if dora:
            out[f"{key}.lora_magnitude_vector"] = ("F32", [n_out])
    return out


def adapter_folder(
    root: Path, config: Mapping[str, Any], tensors: Mapping[str, tuple[str, Sequence[int]]]
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "adapter_config.json").write_text(json.dumps(config, indent=2))
    write_safetensors(root / "adapter_model.safetensors", tensors)
    return root


def real_config(name: str) -> dict[str, Any]:
    """One of the real configs in tests/fixtures/peft-adapter-configs/ (see PROVENANCE.tsv)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def layer_modules(targets: Sequence[str], layers: int = 2) -> list[str]:
    """Qwen/Llama-style module paths for short target names."""
    where = {"gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}
    return [
        f"model.layers.{i}.{where.get(t, 'self_attn')}.{t}" for i in range(layers) for t in targets
    ]
