"""Read, check, attach and detach expert adapters with peft's functional API.

Adapters are injected into the plain transformers model with ``inject_adapter_in_model`` and
``set_peft_model_state_dict`` (peft's public integration API), one named adapter per loaded
expert, rather than through a ``PeftModel``: a ``PeftModel`` holds one tuner type, while a
session may hold LoRA/DoRA and IA³ experts side by side (each active set uses one family).

Everything that can be checked before the model is touched is checked here, so that a bad
adapter is refused with a clear ``InferenceError`` and leaves the session as it was.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hxpm.core.adapter_config import unsupported_reasons
from hxpm.core.strictjson import JsonError, read_json
from hxpm.errors import InferenceError

from .refs import AdapterRef

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
_SAVED_PREFIX = "base_model.model."
# The parameter-name prefixes peft gives each family; a key's module path ends before them.
_FAMILY_PREFIX = {"lora": "lora_", "ia3": "ia3_"}
_PEFT_TYPES = {"LORA": "lora", "IA3": "ia3"}

MAX_CONFIG_BYTES = 16 << 20  # an adapter_config.json is a few hundred bytes


@dataclass(frozen=True, slots=True)
class AdapterFiles:
    """An adapter read from disk and checked against the base's modules."""

    folder: Path
    config: Any  # a peft LoraConfig / IA3Config
    family: str  # "lora" (LoRA and DoRA) or "ia3"
    kind: str  # "lora", "dora" or "ia3"
    state: dict[str, torch.Tensor]
    modules: frozenset[str]  # module paths its weights adapt


def adapter_folder(ref: AdapterRef) -> Path:
    """The folder holding the adapter files: ``ref.path`` or its one sub-folder that does."""
    root = Path(ref.path)
    if (root / CONFIG_FILE).is_file():
        return root
    if not root.is_dir():
        raise InferenceError(
            f"expert {ref.name}@{ref.version}: {root} does not exist",
            hint="Reinstall the expert (hxpm install --force NAME).",
        )
    found = sorted(p.parent for p in root.rglob(CONFIG_FILE) if p.is_file())
    if len(found) == 1:
        return found[0]
    what = "no" if not found else f"{len(found)} (ambiguous)"
    raise InferenceError(f"expert {ref.name}@{ref.version}: {what} {CONFIG_FILE} under {root}")


def read_adapter(ref: AdapterRef, modules: Mapping[str, nn.Module], base_name: str) -> AdapterFiles:
    """Read ``ref``'s config and weights and check that they fit the base's ``modules``.

    Raises:
        InferenceError: unreadable files, an unsupported adapter type or feature, target
            modules the base lacks, or tensors whose shapes do not fit.
    """
    folder = adapter_folder(ref)
    label = f"expert {ref.name}@{ref.version}"
    config, family = _read_config(folder, label)
    _refuse_unsupported(config, label)
    missing = missing_targets(config.target_modules, modules)
    state = _read_weights(folder, label)
    by_module = _split_by_module(state, family, label)
    missing += sorted(m for m in by_module if m not in modules and m not in missing)
    if missing:
        raise InferenceError(
            f"{label} targets modules that base {base_name} does not have: {', '.join(missing)}",
            hint="The expert was built for another model architecture; install the variant "
            "built for this base model.",
            details={"missing_modules": missing},
        )
    for path, tensors in by_module.items():
        _check_shapes(label, path, modules[path], tensors)
    kind = "dora" if family == "lora" and getattr(config, "use_dora", False) else family
    return AdapterFiles(folder, config, family, kind, state, frozenset(by_module))


def missing_targets(targets: Any, modules: Mapping[str, nn.Module]) -> list[str]:
    """The entries of a peft ``target_modules`` that match no module of the base.

    Matching follows peft: a name matches a module path equal to it or ending in ``.name``;
    a string is a regular expression over the whole path ("all-linear" always matches).
    """
    if targets is None or targets == "all-linear":
        return []
    if isinstance(targets, str):
        pattern = re.compile(targets)
        return [] if any(pattern.fullmatch(p) for p in modules) else [targets]
    last_parts = {p.rsplit(".", 1)[-1] for p in modules}
    return sorted(
        t
        for t in targets
        if t not in last_parts and not any(p == t or p.endswith(f".{t}") for p in modules)
    )


def attach(model: nn.Module, peft_name: str, files: AdapterFiles) -> None:
    """Inject ``files`` into ``model`` as adapter ``peft_name``; undo everything on failure.

    Newly wrapped layers come out with this adapter active: the caller re-applies its
    active set afterwards.
    """
    from peft.functional import inject_adapter_in_model, set_peft_model_state_dict

    config = copy.copy(files.config)
    config.inference_mode = True  # frozen adapter parameters
    try:
        with warnings.catch_warnings():
            # peft warns that the model "already has a peft_config" from the second adapter
            # on: several named adapters in one model is exactly what hxpm wants.
            warnings.simplefilter("ignore")
            inject_adapter_in_model(config, model, adapter_name=peft_name, low_cpu_mem_usage=True)
            # torch's _IncompatibleKeys; peft's annotation does not name its fields.
            result: Any = set_peft_model_state_dict(
                model, files.state, adapter_name=peft_name, low_cpu_mem_usage=True
            )
        mine = [k for k in result.missing_keys if _names_adapter(k, peft_name)]
        if mine or result.unexpected_keys:
            raise ValueError(
                f"{len(mine)} adapter tensors missing, {len(result.unexpected_keys)} unexpected"
            )
    # ValueError: peft's and ours above; RuntimeError: torch shape mismatches; KeyError and
    # AttributeError: a state or config naming modules the base does not have.
    except (ValueError, RuntimeError, KeyError, AttributeError, TypeError) as e:
        detach(model, peft_name, files.family)
        raise InferenceError(
            f"cannot attach adapter from {files.folder}: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else e!r}"
        ) from None


def detach(model: nn.Module, peft_name: str, family: str) -> None:
    """Remove adapter ``peft_name`` from every layer (the empty peft wrappers stay)."""
    from peft.functional import delete_adapter

    layer_cls = _layer_class(family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "adapter X was active ... setting Y active"
        delete_adapter(model, peft_name, prefix=_FAMILY_PREFIX[family], layer_cls=layer_cls)


def _layer_class(family: str) -> type:
    if family == "ia3":
        from peft.tuners.ia3 import IA3Layer

        return IA3Layer
    from peft.tuners.lora import LoraLayer

    return LoraLayer


def _names_adapter(param_key: str, peft_name: str) -> bool:
    return f".{peft_name}." in param_key or param_key.endswith(f".{peft_name}")


def _read_config(folder: Path, label: str) -> tuple[Any, str]:
    """The peft config object and the family ("lora" or "ia3") of an adapter folder."""
    from peft import PeftConfig

    try:
        raw = read_json((folder / CONFIG_FILE).read_bytes(), max_bytes=MAX_CONFIG_BYTES)
    except (OSError, JsonError) as e:
        raise InferenceError(f"{label}: cannot read {folder / CONFIG_FILE}: {e}") from None
    peft_type = str(raw.get("peft_type", "")).upper() if isinstance(raw, dict) else ""
    if peft_type not in _PEFT_TYPES:
        raise InferenceError(
            f"{label}: adapter type {peft_type or 'unknown'!s} is not "
            "supported (hxpm runs LoRA, DoRA and IA3 adapters)"
        )
    # Before peft builds anything: a PiSSA/OLoRA config makes peft rewrite the base weights
    # while injecting (and fail with a torch set_data error); refuse such kinds by name.
    reasons = unsupported_reasons(raw)
    if reasons:
        raise InferenceError(
            f"{label}: hxpm cannot run this adapter: {'; '.join(reasons)}",
            hint="See docs/import.md for the adapter kinds hxpm runs and "
            "how to convert PiSSA/OLoRA adapters to plain LoRA.",
            details={"reasons": reasons},
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown keys from newer peft versions
            config = PeftConfig.from_pretrained(str(folder))
    # OSError: unreadable; ValueError: not JSON; TypeError: not an object; KeyError: an
    # unknown peft_type; AttributeError: fields of the wrong JSON type.
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise InferenceError(f"{label}: invalid {CONFIG_FILE}: {e}") from None
    return config, _PEFT_TYPES[peft_type]


def _refuse_unsupported(config: Any, label: str) -> None:
    """Features that would change base weights or cannot be stacked and swapped."""
    problems = []
    if getattr(config, "modules_to_save", None):
        problems.append(f"modules_to_save={config.modules_to_save}")
    if getattr(config, "bias", "none") != "none":
        problems.append(f"bias={config.bias!r} (it trains the base model's biases)")
    if getattr(config, "lora_bias", False):
        problems.append("lora_bias=true")
    if getattr(config, "trainable_token_indices", None):
        problems.append("trainable_token_indices")
    if getattr(config, "target_parameters", None):
        problems.append("target_parameters")
    if problems:
        raise InferenceError(
            f"{label} uses adapter features hxpm cannot stack or hot-swap: {', '.join(problems)}"
        )


def _read_weights(folder: Path, label: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise InferenceError(
            f"{label}: {path} is missing",
            hint="hxpm loads adapter weights only from safetensors files.",
        )
    try:
        return load_file(str(path))
    except (OSError, SafetensorError, ValueError, RuntimeError) as e:
        raise InferenceError(f"{label}: cannot read {path}: {e}") from None


def _split_by_module(
    state: Mapping[str, torch.Tensor], family: str, label: str
) -> dict[str, dict[str, torch.Tensor]]:
    """``{module path: {"lora_A.weight": tensor, ...}}`` from saved peft keys."""
    prefix = _FAMILY_PREFIX[family]
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        parts = key.removeprefix(_SAVED_PREFIX).split(".")
        cut = next((i for i, part in enumerate(parts) if part.startswith(prefix)), None)
        if ".base_layer." in key:  # peft's save_embedding_layers: a full copy of a base matrix
            raise InferenceError(
                f"{label} carries base model weights ({key}), which would "
                "overwrite the shared base",
                hint="Save the adapter with save_embedding_layers=False.",
            )
        if not cut:
            raise InferenceError(
                f"{label}: unexpected tensor {key!r} in {WEIGHTS_FILE}",
                hint="Only LoRA/DoRA/IA3 weights saved by peft are accepted.",
            )
        out.setdefault(".".join(parts[:cut]), {})[".".join(parts[cut:])] = tensor
    return out


def _check_shapes(
    label: str, path: str, module: nn.Module, tensors: Mapping[str, torch.Tensor]
) -> None:
    """Compare LoRA/IA3 tensor shapes with a Linear's features (other layers: peft checks)."""
    if not isinstance(module, nn.Linear):
        return
    n_in, n_out = module.in_features, module.out_features
    wrong = []
    for name, t in tensors.items():
        if name == "lora_A.weight" and (t.dim() != 2 or t.shape[1] != n_in):
            wrong.append(f"lora_A {tuple(t.shape)} (needs [r, {n_in}])")
        elif name == "lora_B.weight" and (t.dim() != 2 or t.shape[0] != n_out):
            wrong.append(f"lora_B {tuple(t.shape)} (needs [{n_out}, r])")
        elif name.startswith("lora_magnitude_vector") and t.numel() != n_out:
            wrong.append(f"magnitude {tuple(t.shape)} (needs [{n_out}])")
        elif name == "ia3_l" and t.numel() not in (n_in, n_out):
            wrong.append(f"ia3_l {tuple(t.shape)} (needs {n_out} or {n_in} values)")
    if wrong:
        raise InferenceError(
            f"{label} does not fit this base: {path} is "
            f"Linear({n_in} -> {n_out}) but the adapter has {'; '.join(wrong)}",
            hint="The expert was built for another base model.",
        )
