"""Do the tensors of an ``adapter_model.safetensors`` match its ``adapter_config.json``?

Torch-free: it works on the names, dtypes and shapes of a checked safetensors header, so
that ``hxpm import`` can refuse a mismatched adapter before anything loads it. PEFT's
``save_pretrained`` writes one key per parameter, ``base_model.model.<module path>.<param>``:

- LoRA: ``lora_A.weight`` ``[r, in]`` and ``lora_B.weight`` ``[out, r]`` for every module
  (``lora_embedding_A``/``_B`` for embeddings), ``r`` from ``rank_pattern`` or ``r``;
- DoRA: the same plus ``lora_magnitude_vector`` for every module;
- IA³: ``ia3_l`` for every module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hxpm.core.adapter_config import adapter_kind, module_rank

SAVED_PREFIX = "base_model.model."
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})
_PARAMS = {
    "lora": frozenset({"lora_A.weight", "lora_B.weight", "lora_embedding_A", "lora_embedding_B"}),
    "dora": frozenset(
        {
            "lora_A.weight",
            "lora_B.weight",
            "lora_embedding_A",
            "lora_embedding_B",
            "lora_magnitude_vector",
            "lora_magnitude_vector.weight",
        }
    ),
    "ia3": frozenset({"ia3_l"}),
}
_SHOWN = 5  # problems of one kind listed before "and N more"


@dataclass(frozen=True, slots=True)
class TensorEntry:
    """What the safetensors header says about one tensor."""

    dtype: str
    shape: tuple[int, ...]


def tensor_problems(config: Mapping[str, Any], tensors: Mapping[str, TensorEntry]) -> list[str]:
    """Every way ``tensors`` (name -> entry) disagree with ``config``; ``[]`` when they fit."""
    kind = adapter_kind(config)
    if kind not in _PARAMS:
        return [f"adapter kind {kind!r} has no known tensor layout"]
    if not tensors:
        return ["the weights file holds no tensors"]
    problems: list[str] = []
    by_module: dict[str, dict[str, TensorEntry]] = {}
    for name, entry in sorted(tensors.items()):
        where = _split(name, kind)
        if isinstance(where, str):
            problems.append(where)
            continue
        module, param = where
        by_module.setdefault(module, {})[param] = entry
        if entry.dtype not in FLOAT_DTYPES:
            problems.append(
                f"{name!r}: dtype {entry.dtype!r}, expected a float type "
                f"({', '.join(sorted(FLOAT_DTYPES))})"
            )
    problems += _untargeted(config, by_module)
    for module, params in sorted(by_module.items()):
        problems += _module_problems(config, kind, module, params)
    return _capped(problems)


def _split(name: str, kind: str) -> tuple[str, str] | str:
    """``(module path, parameter)`` of a saved key, or the problem with it."""
    if not name.startswith(SAVED_PREFIX):
        return f"{name!r}: expected a PEFT key starting with {SAVED_PREFIX!r}"
    parts = name.removeprefix(SAVED_PREFIX).split(".")
    prefix = "ia3_" if kind == "ia3" else "lora_"
    cut = next((i for i, part in enumerate(parts) if part.startswith(prefix)), None)
    if "base_layer" in parts:
        return f"{name!r}: a copy of a base model weight (saved with save_embedding_layers)"
    if not cut:
        return f"{name!r}: not a {kind} parameter (expected a {prefix}* tensor)"
    param = ".".join(parts[cut:])
    if param not in _PARAMS[kind]:
        return (
            f"{name!r}: {param!r} is not a {kind} parameter (expected one of "
            f"{', '.join(sorted(_PARAMS[kind]))})"
        )
    return ".".join(parts[:cut]), param


def _untargeted(config: Mapping[str, Any], by_module: Mapping[str, object]) -> list[str]:
    """Modules with weights that ``target_modules`` does not select."""
    targets = config.get("target_modules")
    if isinstance(targets, str):
        try:
            pattern = re.compile(targets)
        except re.error:
            return [f"target_modules {targets!r} is not a valid regular expression"]
        return [
            f"{m!r}: has weights but target_modules {targets!r} does not match it"
            for m in by_module
            if not pattern.fullmatch(m)
        ]
    if not isinstance(targets, list):
        return []
    names = {t for t in targets if isinstance(t, str)}
    return [
        f"{m!r}: has weights but is not in target_modules"
        for m in sorted(by_module)
        if not any(m == t or m.endswith(f".{t}") for t in names)
    ]


def _module_problems(
    config: Mapping[str, Any], kind: str, module: str, params: Mapping[str, TensorEntry]
) -> list[str]:
    if kind == "ia3":
        shape = params["ia3_l"].shape
        ok = len(shape) in (1, 2) and (len(shape) == 1 or 1 in shape)
        return [] if ok else [f"{module!r}: ia3_l shape {list(shape)}, expected a vector"]
    problems = []
    embedding = "lora_embedding_A" in params or "lora_embedding_B" in params
    a_name, b_name = (
        ("lora_embedding_A", "lora_embedding_B")
        if embedding
        else ("lora_A.weight", "lora_B.weight")
    )
    for needed in (a_name, b_name):
        if needed not in params:
            problems.append(f"{module!r}: {needed} is missing")
    magnitude = any(p.startswith("lora_magnitude_vector") for p in params)
    if kind == "dora" and not magnitude and not embedding:
        problems.append(f"{module!r}: lora_magnitude_vector is missing (use_dora is true)")
    if problems:
        return problems
    a, b = params[a_name].shape, params[b_name].shape
    rank = module_rank(config, module)
    if len(a) < 2 or len(b) < 2 or a[0] != b[1]:
        return [f"{module!r}: {a_name} {list(a)} and {b_name} {list(b)} do not share a rank"]
    if rank is not None and a[0] != rank:
        return [
            (
                f"{module!r}: rank {a[0]} in the weights, but the config gives r={rank} "
                "(r / rank_pattern)"
            )
        ]
    return []


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= _SHOWN * 4:
        return problems
    return [*problems[: _SHOWN * 4], f"... and {len(problems) - _SHOWN * 4} more"]
