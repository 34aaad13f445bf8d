"""The training recipe of a manifest (``training``, ``evaluation``) and its datasets.

Plain values and validation only: no torch here, so that ``hxpm train`` refuses a bad recipe
or a malformed dataset before it loads a model. Every problem names its field
(``training.config.rank``) and what was expected; all of them are reported at once, in the
same shape as manifest validation (``ManifestError.problems``).

A dataset is JSON Lines, one ``{"prompt": str, "completion": str}`` object per line (blank
lines are skipped). See docs/training.md for every field and its default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hxpm.core import manifest_checks as mc
from hxpm.core.manifest_checks import MISSING, Problems, item_path, key_path
from hxpm.core.strictjson import JsonError, read_json
from hxpm.errors import ManifestError, NotFoundError, UsageError

from .metrics import METRICS, check_pattern

METHODS = ("sft",)
ADAPTER_TYPES = ("lora", "dora", "ia3")
SCHEDULERS = ("constant", "linear", "cosine")
DATASET_FORMATS = ("prompt-completion",)
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
IA3_TARGETS = ("k_proj", "v_proj", "down_proj")  # peft's default for Llama/Qwen-like models
IA3_FEEDFORWARD = ("down_proj",)
MAX_RANK = 256
DEFAULT_RANK = 8
DEFAULT_LEARNING_RATE = {"lora": 2e-4, "dora": 2e-4, "ia3": 3e-3}
DEFAULT_MAX_NEW_TOKENS = 128
MAX_DATASET_BYTES = 1 << 30
MAX_EXAMPLE_BYTES = 64 << 20  # one dataset line
HINT = "See docs/training.md for the recipe fields, their types and defaults."

# Recipe keys hxpm reads; anything else in training.config is reported as ignored.
_CONFIG_KEYS = frozenset(
    {
        "method",
        "adapter_type",
        "rank",
        "r",
        "alpha",
        "lora_alpha",
        "dropout",
        "lora_dropout",
        "target_modules",
        "feedforward_modules",
        "epochs",
        "learning_rate",
        "batch_size",
        "gradient_accumulation_steps",
        "max_length",
        "max_seq_length",
        "warmup_steps",
        "lr_scheduler",
        "weight_decay",
        "max_grad_norm",
    }
)


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    path: str  # relative to the expert directory (or absolute)
    heldout: str | None
    format: str = "prompt-completion"


@dataclass(frozen=True, slots=True)
class TrainConfig:
    method: str = "sft"
    adapter_type: str = "lora"  # lora | dora | ia3
    rank: int | None = DEFAULT_RANK  # None for ia3
    alpha: float | None = 2.0 * DEFAULT_RANK  # None for ia3
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ALL_LINEAR
    feedforward_modules: tuple[str, ...] = ()  # ia3 only: scale the input, not the output
    epochs: float = 3.0
    learning_rate: float = 2e-4
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 512
    warmup_steps: int = 0
    lr_scheduler: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0


@dataclass(frozen=True, slots=True)
class Decoding:
    """``training.decoding``: how the expert is run (and evaluated, always greedy)."""

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recipe:
    dataset: DatasetSpec
    config: TrainConfig
    decoding: Decoding
    warnings: tuple[str, ...] = ()  # ignored keys, disagreements with the manifest variant


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str = "exact_match"
    pattern: str | None = None  # regex only


@dataclass(frozen=True, slots=True)
class Example:
    prompt: str
    completion: str


def _recipe_error(source: str, probs: Problems, what: str = "training recipe") -> ManifestError:
    items = probs.items
    shown = "; ".join(p.describe() for p in items[:3])
    more = f" (and {len(items) - 3} more)" if len(items) > 3 else ""
    noun = "problem" if len(items) == 1 else "problems"
    return ManifestError(
        f"{source}: invalid {what}, {len(items)} {noun}: {shown}{more}",
        problems=probs.as_tuples(),
        hint=HINT,
    )


# --- training ------------------------------------------------------------------------------


def parse_recipe(
    manifest: Mapping[str, Any], *, variant_adapter: Any = None, source: str = "manifest.json"
) -> Recipe:
    """The manifest's ``training`` section, validated, with defaults filled in.

    ``variant_adapter`` (an ``hxpm.core.manifest.AdapterSpec``, optional) supplies defaults for
    the adapter type, rank, alpha and target modules the recipe leaves out.

    Raises:
        ManifestError: no ``training`` section, or fields of the wrong type or range; every
            problem names its field.
    """
    probs = Problems()
    training = manifest.get("training", MISSING)
    if not isinstance(training, dict):
        probs.add("training", training, "an object with dataset and config (the recipe)")
        raise _recipe_error(source, probs)
    warnings: list[str] = []
    dataset = _parse_dataset(training, probs)
    config_obj = mc.get_object(training, "config", "training", probs) or {}
    config = _parse_config(config_obj, variant_adapter, probs, warnings)
    decoding = parse_decoding(training, probs)
    if probs:
        raise _recipe_error(source, probs)
    return Recipe(dataset, config, decoding, tuple(warnings))


def _parse_dataset(training: dict[str, Any], probs: Problems) -> DatasetSpec:
    parent = "training.dataset"
    obj = mc.get_object(training, "dataset", "training", probs, required=True) or {}
    path = mc.get_string(
        obj,
        "path",
        parent,
        probs,
        required=bool(obj) or "dataset" in training,
        check=mc.is_nonblank,
        expected="a path to a JSONL file",
    )
    heldout = mc.get_string(
        obj, "heldout", parent, probs, check=mc.is_nonblank, expected="a path to a JSONL file"
    )
    fmt = (
        mc.get_string(
            obj,
            "format",
            parent,
            probs,
            check=lambda v: v in DATASET_FORMATS,
            expected=_one_of(DATASET_FORMATS),
        )
        or DATASET_FORMATS[0]
    )
    return DatasetSpec(path or "", heldout, fmt)


def _parse_config(
    obj: dict[str, Any], variant: Any, probs: Problems, warnings: list[str]
) -> TrainConfig:
    p = "training.config"
    method = (
        mc.get_string(
            obj, "method", p, probs, check=lambda v: v.lower() in METHODS, expected=_one_of(METHODS)
        )
        or "sft"
    )
    declared_type = getattr(variant, "type", None)
    kind = (
        mc.get_string(
            obj,
            "adapter_type",
            p,
            probs,
            check=lambda v: v.lower() in ADAPTER_TYPES,
            expected=_one_of(ADAPTER_TYPES),
        )
        or (declared_type if declared_type in ADAPTER_TYPES else "lora")
    ).lower()
    rank_key = _alias(obj, "rank", "r", p, probs)
    alpha_key = _alias(obj, "alpha", "lora_alpha", p, probs)
    if kind == "ia3":
        for key in (rank_key, alpha_key):
            if key in obj:
                probs.add(
                    key_path(p, key),
                    obj[key],
                    "no value: IA3 adapters have no rank "
                    "or alpha (remove the field, or use adapter_type lora/dora)",
                )
        rank = alpha = None
    else:
        default_rank = getattr(variant, "r", None) or DEFAULT_RANK
        rank = mc.get_int(obj, rank_key, p, probs, lo=1, hi=MAX_RANK, default=default_rank)
        default_alpha = getattr(variant, "alpha", None) or 2.0 * (rank or DEFAULT_RANK)
        alpha = mc.get_number(
            obj,
            alpha_key,
            p,
            probs,
            expected="a number > 0",
            check=lambda v: v > 0,
            default=float(default_alpha),
        )
    dropout_key = _alias(obj, "dropout", "lora_dropout", p, probs)
    dropout = mc.get_number(
        obj,
        dropout_key,
        p,
        probs,
        expected="a number from 0 to below 1",
        check=lambda v: 0 <= v < 1,
        default=0.0,
    )
    targets, feedforward = _parse_targets(obj, kind, variant, probs)
    length_key = _alias(obj, "max_length", "max_seq_length", p, probs)
    config = TrainConfig(
        method=method.lower(),
        adapter_type=kind,
        rank=rank,
        alpha=alpha,
        dropout=dropout or 0.0,
        target_modules=targets,
        feedforward_modules=feedforward,
        epochs=mc.get_number(
            obj, "epochs", p, probs, expected="a number > 0", check=lambda v: v > 0, default=3.0
        )
        or 3.0,
        learning_rate=mc.get_number(
            obj,
            "learning_rate",
            p,
            probs,
            expected="a number > 0 and at most 1",
            check=lambda v: 0 < v <= 1,
            default=DEFAULT_LEARNING_RATE[kind],
        )
        or 1e-4,
        batch_size=mc.get_int(obj, "batch_size", p, probs, lo=1, hi=4096, default=8) or 8,
        gradient_accumulation_steps=mc.get_int(
            obj, "gradient_accumulation_steps", p, probs, lo=1, hi=4096, default=1
        )
        or 1,
        max_length=mc.get_int(obj, length_key, p, probs, lo=8, hi=1 << 20, default=512) or 512,
        warmup_steps=mc.get_int(obj, "warmup_steps", p, probs, lo=0, hi=None, default=0) or 0,
        lr_scheduler=(
            mc.get_string(
                obj,
                "lr_scheduler",
                p,
                probs,
                check=lambda v: v.lower() in SCHEDULERS,
                expected=_one_of(SCHEDULERS),
            )
            or "cosine"
        ).lower(),
        weight_decay=mc.get_number(
            obj,
            "weight_decay",
            p,
            probs,
            expected="a number >= 0",
            check=lambda v: v >= 0,
            default=0.0,
        )
        or 0.0,
        max_grad_norm=mc.get_number(
            obj,
            "max_grad_norm",
            p,
            probs,
            expected="a number > 0",
            check=lambda v: v > 0,
            default=1.0,
        )
        or 1.0,
    )
    ignored = sorted(k for k in obj if k not in _CONFIG_KEYS and not k.startswith("_"))
    if ignored:
        warnings.append(f"training.config: ignored {', '.join(ignored)} (hxpm does not use them)")
    warnings.extend(_disagreements(config, variant))
    return config


def _alias(obj: dict[str, Any], key: str, legacy: str, parent: str, probs: Problems) -> str:
    """The key present in ``obj`` of a field and its legacy spelling; both is a problem."""
    if key in obj and legacy in obj:
        probs.add(
            key_path(parent, legacy),
            obj[legacy],
            f"absent when {key} is given (they are the same field)",
        )
    return legacy if legacy in obj and key not in obj else key


def _parse_targets(
    obj: dict[str, Any], kind: str, variant: Any, probs: Problems
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    p = "training.config"
    declared = tuple(getattr(variant, "target_modules", ()) or ())
    default = declared or (IA3_TARGETS if kind == "ia3" else ALL_LINEAR)
    targets = _module_list(obj, "target_modules", p, probs) or default
    ff = _module_list(obj, "feedforward_modules", p, probs)
    if kind != "ia3":
        if "feedforward_modules" in obj:
            probs.add(
                key_path(p, "feedforward_modules"),
                obj["feedforward_modules"],
                "no value: feedforward_modules is for IA3 adapters only",
            )
        return targets, ()
    if "feedforward_modules" not in obj:
        ff = tuple(t for t in targets if t in IA3_FEEDFORWARD)
    stray = [m for m in ff if m not in targets]
    if stray:
        probs.add(
            key_path(p, "feedforward_modules"),
            list(ff),
            f"a subset of target_modules ({', '.join(stray)} is not targeted)",
        )
    return targets, ff


def _module_list(obj: dict[str, Any], key: str, parent: str, probs: Problems) -> tuple[str, ...]:
    value = obj.get(key, MISSING)
    if value is MISSING:
        return ()
    expected = 'a non-empty list of distinct module names such as ["q_proj", "v_proj"]'
    if not isinstance(value, list) or not value:
        probs.add(key_path(parent, key), value, expected)
        return ()
    good: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not re.fullmatch(r"[A-Za-z0-9_.]+", item):
            probs.add(
                item_path(key_path(parent, key), i),
                item,
                "a module name (letters, digits, '_' and '.')",
            )
        elif item in good:
            probs.add(item_path(key_path(parent, key), i), item, "a name not listed before")
        else:
            good.append(item)
    return tuple(good)


def _disagreements(config: TrainConfig, variant: Any) -> list[str]:
    """Where the manifest variant's ``adapters[0]`` describes another adapter than trained."""
    if variant is None:
        return []
    out = []
    declared = {
        "type": variant.type,
        "r": variant.r,
        "alpha": variant.alpha,
        "target_modules": tuple(variant.target_modules or ()) or None,
    }
    trained = {
        "type": config.adapter_type,
        "r": config.rank,
        "alpha": config.alpha,
        "target_modules": config.target_modules,
    }
    for key, value in declared.items():
        if value is not None and trained[key] is not None and value != trained[key]:
            out.append(
                f"base_models[].adapters[0].{key} is {value!r} but the recipe trains "
                f"{trained[key]!r}; update the manifest so that it describes the weights"
            )
    return out


def parse_decoding(training: Mapping[str, Any], probs: Problems | None = None) -> Decoding:
    """``training.decoding`` (absent: greedy, 128 new tokens, no stop sequences)."""
    own = probs is None
    probs = Problems() if probs is None else probs
    p = "training.decoding"
    obj = mc.get_object(dict(training), "decoding", "training", probs) or {}
    stop = mc.get_string_list(
        obj, "stop_sequences", p, probs, check=lambda s: s != "", item_expected="a non-empty string"
    )
    decoding = Decoding(
        max_new_tokens=mc.get_int(
            obj, "max_new_tokens", p, probs, lo=1, hi=1 << 16, default=DEFAULT_MAX_NEW_TOKENS
        )
        or DEFAULT_MAX_NEW_TOKENS,
        temperature=mc.get_number(
            obj,
            "temperature",
            p,
            probs,
            expected="a number >= 0",
            check=lambda v: v >= 0,
            default=0.0,
        )
        or 0.0,
        top_p=mc.get_number(
            obj,
            "top_p",
            p,
            probs,
            expected="a number in (0, 1]",
            check=lambda v: 0 < v <= 1,
            default=1.0,
        )
        or 1.0,
        top_k=mc.get_int(obj, "top_k", p, probs, lo=0, hi=None, default=0) or 0,
        stop=stop,
    )
    if own and probs:
        raise _recipe_error("manifest.json", probs)
    return decoding


def decoding_of(manifest: Mapping[str, Any]) -> Decoding:
    """The decoding settings of a manifest; defaults when it has no (valid) recipe."""
    training = manifest.get("training")
    if not isinstance(training, dict):
        return Decoding()
    return parse_decoding(training)


# --- evaluation ----------------------------------------------------------------------------


def parse_evaluation(manifest: Mapping[str, Any], *, source: str = "manifest.json") -> MetricSpec:
    """``evaluation`` (absent: exact_match).

    Raises:
        ManifestError: an unknown metric, or a regex metric without a valid ``pattern``.
    """
    probs = Problems()
    obj = mc.get_object(dict(manifest), "evaluation", "", probs) or {}
    name = (
        mc.get_string(
            obj,
            "metric",
            "evaluation",
            probs,
            check=lambda v: v in METRICS,
            expected=_one_of(METRICS),
        )
        or "exact_match"
    )
    pattern = None
    if name == "regex":
        pattern = mc.get_string(
            obj,
            "pattern",
            "evaluation",
            probs,
            required=True,
            expected="a regular expression the whole output must match",
        )
        problem = check_pattern(pattern) if pattern is not None else None
        if problem:
            probs.add("evaluation.pattern", pattern, f"a valid regular expression ({problem})")
    elif "pattern" in obj:
        probs.add("evaluation.pattern", obj["pattern"], 'no value unless metric is "regex"')
    if probs:
        raise _recipe_error(source, probs, "evaluation section")
    return MetricSpec(name, pattern)


# --- datasets ------------------------------------------------------------------------------


def dataset_file(root: Path, relative: str, field: str) -> Path:
    """``relative`` resolved against the expert directory ``root``; it must be a file.

    Raises:
        NotFoundError: no such file (the message names the recipe field).
    """
    path = (root / relative).expanduser()
    if not path.is_file():
        raise NotFoundError(
            f"{field}: no such dataset file {path}",
            hint="Generate the dataset first, or fix the path (it is relative "
            "to the expert directory).",
        )
    return path


def read_examples(path: Path, *, limit: int | None = None) -> tuple[Example, ...]:
    """The ``{"prompt", "completion"}`` objects of a JSONL file, in file order.

    Raises:
        NotFoundError: the file does not exist.
        UsageError: a line is not such an object (the message names the file and line), or
            the file holds no example.
    """
    try:
        size = path.stat().st_size
        if size > MAX_DATASET_BYTES:
            raise UsageError(
                f"{path}: {size} bytes, over the {MAX_DATASET_BYTES} byte limit for a dataset"
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such dataset file") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (invalid byte at offset {e.start})") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read it: {e.strerror}") from None
    examples: list[Example] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        examples.append(_example(path, number, line))
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        raise UsageError(
            f"{path}: no examples (expected one JSON object per line)",
            hint='Each line: {"prompt": "...", "completion": "..."}',
        )
    return tuple(examples)


def _example(path: Path, number: int, line: str) -> Example:
    where = f"{path} line {number}"
    expected = 'a JSON object {"prompt": string, "completion": string}'
    try:
        obj = read_json(line, max_bytes=MAX_EXAMPLE_BYTES, max_depth=16)
    except JsonError as e:
        raise UsageError(f"{where}: not valid JSON ({e}); expected {expected}") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: expected {expected}, got {type(obj).__name__}")
    bad = [k for k in ("prompt", "completion") if not isinstance(obj.get(k), str)]
    if bad:
        got = ", ".join(f"{k}={obj.get(k, '<missing>')!r}"[:60] for k in bad)
        raise UsageError(f"{where}: expected {expected}; {got}")
    if not obj["prompt"].strip():
        raise UsageError(f"{where}: the prompt is empty")
    return Example(obj["prompt"], obj["completion"])


def _one_of(values: tuple[str, ...]) -> str:
    return "one of " + ", ".join(repr(v) for v in values)
