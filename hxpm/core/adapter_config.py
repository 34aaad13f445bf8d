"""What a PEFT ``adapter_config.json`` says, and whether hxpm can run it (torch-free).

hxpm runs three adapter kinds (LoRA, DoRA = LoRA with ``use_dora``, IA³) by injecting them
into the shared base model as named, swappable adapters. A config that needs anything else is
refused by name, at import, at attach and at export, through :func:`unsupported_reasons`:

- initialisations that rewrite the base weights (PiSSA, OLoRA, CorDA, LoRA-GA, LoftQ): the
  saved adapter only fits the *modified* base, so on the shared base its output is wrong
  (and peft fails on load with a ``set_data`` error). PEFT can convert such an adapter to
  plain LoRA when it is saved (``path_initial_model_for_weight_conversion``);
- features that train or replace base parameters (``modules_to_save``, ``bias``,
  ``lora_bias``, trainable tokens, ``target_parameters``): they cannot be stacked or swapped;
- LoRA variants with their own forward (aLoRA, QALoRA, VeLoRA, MonteCLoRA, BD-LoRA, Arrow,
  KaSA, MiCA, layer replication, Megatron) and adapter types other than LoRA and IA³;
- ``fan_in_fan_out``: made for GPT-2 style Conv1D layers, which hxpm's bases do not have.

Supported as peft runs them (peft computes the per-module rank and scale on injection):
``rank_pattern``, ``alpha_pattern``, ``use_rslora``, ``layers_to_transform``/
``layers_pattern``, ``exclude_modules``, a regex ``target_modules``, and the initialisations
that leave the base alone (default, ``gaussian``, ``orthogonal``, ``eva``: EVA only chooses
the starting A matrices and ranks, the saved adapter is plain LoRA).

Unknown keys (written by a newer peft) are accepted while they look switched off (null,
false, numbers, strings, empty) and refused by name when true or a non-empty object or list:
hxpm cannot know what they change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hxpm.core.strictjson import loads_strict

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
PICKLE_WEIGHTS_FILE = "adapter_model.bin"
MAX_CONFIG_BYTES = 1 << 20
RUNNABLE_KINDS = ("lora", "dora", "ia3")

_CONVERT_HINT = (
    "convert it to plain LoRA when saving: model.save_pretrained(out, "
    "path_initial_model_for_weight_conversion=INITIAL_ADAPTER_DIR)"
)
# init_lora_weights values whose adapter only fits a base model changed at initialisation.
_BASE_CHANGING_INITS = {
    "pissa": "PiSSA initialisation changes the base weights; " + _CONVERT_HINT,
    "olora": "OLoRA initialisation changes the base weights; " + _CONVERT_HINT,
    "corda": "CorDA initialisation changes the base weights; " + _CONVERT_HINT,
    "lora_ga": "LoRA-GA initialisation changes the base weights",
    "loftq": "LoftQ initialisation replaces the base weights with quantised ones",
    "mica": "MiCA is a LoRA variant hxpm does not run",
}
_HARMLESS_INITS = ("gaussian", "orthogonal", "eva")
# Keys that change what the adapter computes, with why hxpm refuses them when set.
_REFUSED_WHEN_SET = {
    "modules_to_save": "modules_to_save (full copies of base modules replace the shared ones)",
    "trainable_token_indices": "trainable_token_indices (trained embedding rows)",
    "target_parameters": "target_parameters (LoRA on raw parameters, not on layers)",
    "lora_bias": "lora_bias (a trained bias on lora_B)",
    "alora_invocation_tokens": "aLoRA (activated LoRA) is a variant hxpm does not run",
    "use_qalora": "QALoRA is a variant hxpm does not run",
    "velora_config": "VeLoRA is a variant hxpm does not run",
    "monteclora_config": "MonteCLoRA is a variant hxpm does not run",
    "use_bdlora": "BD-LoRA is a variant hxpm does not run",
    "arrow_config": "Arrow routing is a variant hxpm does not run",
    "kasa_config": "KaSA is a variant hxpm does not run",
    "layer_replication": "layer_replication (it duplicates base layers)",
    "megatron_config": "megatron_config (Megatron parallel layers)",
    "fan_in_fan_out": "fan_in_fan_out (made for Conv1D layers, which hxpm's bases lack)",
}
# Keys hxpm reads, keys that only describe where the adapter came from, and keys that only
# matter while initialising (the saved weights replace whatever they produced).
_KNOWN_KEYS = frozenset(
    {
        "peft_type",
        "task_type",
        "auto_mapping",
        "peft_version",
        "base_model_name_or_path",
        "revision",
        "inference_mode",
        "r",
        "target_modules",
        "exclude_modules",
        "lora_alpha",
        "lora_dropout",
        "bias",
        "use_rslora",
        "init_lora_weights",
        "layers_to_transform",
        "layers_pattern",
        "rank_pattern",
        "alpha_pattern",
        "use_dora",
        "runtime_config",
        "megatron_core",
        "qalora_group_size",
        "ensure_weight_tying",
        "loftq_config",
        "eva_config",
        "corda_config",
        "lora_ga_config",
        "feedforward_modules",
        "init_ia3_weights",
        *_REFUSED_WHEN_SET,
    }
)


class AdapterConfigError(ValueError):
    """An adapter_config.json that cannot be read; the message says what was wrong."""


def load_adapter_config(path: Path) -> dict[str, Any]:
    """Read an ``adapter_config.json`` strictly (see :func:`parse_adapter_config`).

    Raises:
        AdapterConfigError: too large or not a strict JSON object; the message says which.
        OSError: the file cannot be read.
    """
    return parse_adapter_config(read_capped(path))


def read_capped(path: Path) -> bytes:
    """The bytes of a config file, refused past :data:`MAX_CONFIG_BYTES`.

    Raises:
        AdapterConfigError: the file is larger than the cap.
        OSError: the file cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise AdapterConfigError(f"larger than the {MAX_CONFIG_BYTES}-byte cap")
    return data


def parse_adapter_config(data: bytes) -> dict[str, Any]:
    """Parse config bytes: UTF-8, strict JSON (no duplicate keys, no NaN), an object.

    Raises:
        AdapterConfigError: the message says what was wrong.
    """
    if len(data) > MAX_CONFIG_BYTES:
        raise AdapterConfigError(f"larger than the {MAX_CONFIG_BYTES}-byte cap")
    try:
        value = loads_strict(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise AdapterConfigError("not UTF-8 text") from None
    except ValueError as e:  # strict-JSON errors: duplicate key, NaN, bad syntax
        raise AdapterConfigError(f"not valid JSON ({e})") from None
    except RecursionError:
        raise AdapterConfigError("JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise AdapterConfigError(f"a JSON {type(value).__name__}, expected an object")
    return value


def adapter_kind(config: Mapping[str, Any]) -> str:
    """``"lora"``, ``"dora"`` or ``"ia3"``; otherwise the lower-cased peft_type or "unknown"."""
    peft_type = config.get("peft_type")
    name = peft_type.strip().upper() if isinstance(peft_type, str) else ""
    if name == "LORA":
        return "dora" if config.get("use_dora") is True else "lora"
    if name == "IA3":
        return "ia3"
    return name.lower() or "unknown"


def max_rank(config: Mapping[str, Any]) -> int:
    """The largest LoRA rank: ``r`` and every ``rank_pattern`` value (0 for IA³ / no rank)."""
    if adapter_kind(config) == "ia3":
        return 0
    ranks: list[Any] = [config.get("r")]
    pattern = config.get("rank_pattern")
    if isinstance(pattern, Mapping):
        ranks.extend(pattern.values())
    return max((int(v) for v in ranks if _is_int(v) and v > 0), default=0)


def module_rank(config: Mapping[str, Any], module_path: str) -> int | None:
    """The rank peft gives ``module_path``: the first matching ``rank_pattern`` key, else r."""
    pattern = config.get("rank_pattern")
    key = _pattern_key(pattern, module_path) if isinstance(pattern, Mapping) else None
    value = pattern[key] if key is not None and isinstance(pattern, Mapping) else config.get("r")
    return value if _is_int(value) else None


def unsupported_reasons(config: Mapping[str, Any]) -> list[str]:
    """Why hxpm cannot run this adapter config; ``[]`` when it can.

    Each reason names the adapter kind or the config key, so that a user can tell what was
    refused (e.g. ``"init_lora_weights='pissa': PiSSA initialisation changes ..."``).
    """
    kind = adapter_kind(config)
    if kind not in RUNNABLE_KINDS:
        peft_type = config.get("peft_type")
        return [f"peft_type={peft_type!r}: hxpm runs LoRA, DoRA and IA3 adapters only"]
    reasons = []
    init = config.get("init_lora_weights", True)
    if isinstance(init, str):
        family = "pissa" if init.startswith("pissa") else init.lower()
        if family in _BASE_CHANGING_INITS:
            reasons.append(f"init_lora_weights={init!r}: {_BASE_CHANGING_INITS[family]}")
        elif family not in _HARMLESS_INITS:
            reasons.append(f"init_lora_weights={init!r}: an initialisation hxpm does not know")
    elif not isinstance(init, bool):
        reasons.append(f"init_lora_weights={init!r}: expected true, false or a method name")
    bias = config.get("bias", "none")
    if bias not in (None, "none"):
        reasons.append(f"bias={bias!r}: it trains the base model's biases")
    for key, why in _REFUSED_WHEN_SET.items():
        if _is_set(config.get(key)):
            reasons.append(why)
    reasons.extend(
        f"{key!r} (unknown to hxpm, set to {_short(config[key])})"
        for key in sorted(config)
        if key not in _KNOWN_KEYS and _switches_on(config[key])
    )
    return reasons


def field_problems(config: Mapping[str, Any]) -> list[str]:
    """Values of the fields hxpm reads that have the wrong type ("KEY: expected ..., got ...")."""
    problems = []
    kind = adapter_kind(config)
    if kind in ("lora", "dora"):
        if not (_is_int(config.get("r")) and config["r"] > 0):
            problems.append(f"r: expected a positive integer, got {_short(config.get('r'))}")
        if not _is_number(config.get("lora_alpha", 8)):
            problems.append(
                f"lora_alpha: expected a number, got {_short(config.get('lora_alpha'))}"
            )
        for key, check, what in (
            ("rank_pattern", _is_int, "positive integers"),
            ("alpha_pattern", _is_number, "numbers"),
        ):
            value = config.get(key)
            value = {} if value is None else value
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and check(v) and v > 0 for k, v in value.items()
            ):
                problems.append(
                    f"{key}: expected an object mapping module names to {what}, got {_short(value)}"
                )
        for key in ("use_dora", "use_rslora"):
            if not isinstance(config.get(key, False), bool):
                problems.append(f"{key}: expected true or false, got {_short(config[key])}")
    targets = config.get("target_modules")
    if not (isinstance(targets, str) and targets) and not (
        isinstance(targets, list) and targets and all(isinstance(t, str) and t for t in targets)
    ):
        problems.append(
            "target_modules: expected a non-empty list of module names or a "
            f"regular expression, got {_short(targets)}"
        )
    base = config.get("base_model_name_or_path")
    if base is not None and not isinstance(base, str):
        problems.append(f"base_model_name_or_path: expected a string, got {_short(base)}")
    return problems


def target_module_names(config: Mapping[str, Any]) -> tuple[str, ...]:
    """``target_modules`` as a sorted tuple (a regex string stays one entry)."""
    targets = config.get("target_modules")
    if isinstance(targets, str):
        return (targets,)
    if isinstance(targets, list):
        return tuple(sorted({t for t in targets if isinstance(t, str)}))
    return ()


def _pattern_key(pattern: Mapping[str, Any], module_path: str) -> str | None:
    # peft's rule: a key matches a module path that ends with it at a "." boundary (the key
    # is a regular expression). A key that is not a valid regex matches nothing here.
    for key in pattern:
        try:
            if re.match(rf"(.*\.)?({key})$", module_path):
                return key
        except re.error:
            continue
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _is_set(value: Any) -> bool:
    """True for values that switch a feature on (not null/false/empty/"none")."""
    if value is None or value is False or value == "none":
        return False
    if isinstance(value, (str, list, dict, tuple)):
        return len(value) > 0
    return True


def _switches_on(value: Any) -> bool:
    # For keys hxpm does not know: only true and non-empty objects/lists look like a feature
    # being enabled; numbers and strings are more often settings of a feature that is off.
    return value is True or (isinstance(value, (list, dict)) and len(value) > 0)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
