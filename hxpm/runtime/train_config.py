"""``training.config``: the hyper-parameters of a recipe, validated, with defaults filled in.

Plain values only (no torch), so a bad recipe is refused before a model loads. The keys are
those real manifests of the older ecosystem use; docs/training.md lists each with its default.
Scalar keys are described once in ``_NUMBERS``/``_FLAGS`` rather than parsed one by one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hxpm.core import manifest_checks as mc
from hxpm.core.manifest_checks import MISSING, Problems, item_path, key_path

METHODS = ("sft", "dpo")
# "prompt": a soft prompt (PEFT prompt tuning) trained beside a placeholder LoRA with B = 0
ADAPTER_TYPES = ("lora", "dora", "ia3", "prompt")
SCHEDULERS = ("constant", "linear", "cosine", "cosine_with_restarts")
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
IA3_TARGETS = ("k_proj", "v_proj", "down_proj")  # peft's default for Llama/Qwen-like models
IA3_FEEDFORWARD = ("down_proj",)
MAX_RANK = 256
DEFAULT_RANK = 8
DEFAULT_LEARNING_RATE = {"lora": 2e-4, "dora": 2e-4, "ia3": 3e-3, "prompt": 3e-2}
DEFAULT_VIRTUAL_TOKENS = 20
MAX_VIRTUAL_TOKENS = 512  # hxpm.runtime.softprompt.MAX_TOKENS
SOFT_PROMPT_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,74}"  # hxpm.package.layout.SOFT_PROMPT_RE
P = "training.config"


@dataclass(frozen=True, slots=True)
class TrainConfig:
    method: str = "sft"  # sft | dpo
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
    warmup_ratio: float = 0.0  # used when warmup_steps is 0
    lr_scheduler: str = "cosine"
    lr_cycles: int = 1  # cosine_with_restarts: lr_scheduler_kwargs.num_cycles
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_steps: int = 0  # > 0: exactly this many optimizer steps (overrides epochs)
    save_steps: int = 0  # > 0: a checkpoint every N steps (what --resume continues from)
    save_total_limit: int = 0  # > 0: keep at most N checkpoints
    eval_steps: int = 0  # > 0: the validation loss every N steps (needs validation_path)
    logging_steps: int = 10
    load_best_model_at_end: bool = False
    metric_for_best_model: str = "loss"
    bf16: bool = False
    fp16: bool = False
    gradient_checkpointing: bool = False
    beta: float = 0.1  # dpo: how far the policy may move from the reference
    sft_weight: float = 0.0  # dpo: weight of the chosen answers' NLL added to the DPO loss
    num_virtual_tokens: int = DEFAULT_VIRTUAL_TOKENS  # prompt: the soft prompt's length
    soft_prompt_name: str = ""  # prompt: soft_prompts/<name>.safetensors ("": the expert's)


# (key, aliases, expected, check, default) for number fields; int fields have bounds instead.
_NUMBERS: tuple[tuple[str, str, Any, float], ...] = (
    ("epochs", "a number > 0", lambda v: v > 0, 3.0),
    ("warmup_ratio", "a number from 0 to below 1", lambda v: 0 <= v < 1, 0.0),
    ("weight_decay", "a number >= 0", lambda v: v >= 0, 0.0),
    ("max_grad_norm", "a number > 0", lambda v: v > 0, 1.0),
    ("beta", "a number > 0", lambda v: v > 0, 0.1),
)
_INTS: tuple[tuple[str, int, int | None, int], ...] = (
    ("batch_size", 1, 4096, 8),
    ("gradient_accumulation_steps", 1, 4096, 1),
    ("warmup_steps", 0, None, 0),
    ("max_steps", 0, None, 0),
    ("save_steps", 0, None, 0),
    ("save_total_limit", 0, None, 0),
    ("eval_steps", 0, None, 0),
    ("logging_steps", 1, None, 10),
)
_FLAGS = ("load_best_model_at_end", "bf16", "fp16")

# Recipe keys hxpm reads; anything else in training.config is reported as ignored.
CONFIG_KEYS = frozenset(
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
        "learning_rate",
        "max_length",
        "max_seq_length",
        "lr_scheduler",
        "lr_scheduler_kwargs",
        "metric_for_best_model",
        "gradient_checkpointing",
        "save_strategy",
        "evaluation_strategy",
        "eval_strategy",
        "num_virtual_tokens",
        "soft_prompt_name",
        *(k for k, *_ in _NUMBERS),
        *(k for k, *_ in _INTS),
        *_FLAGS,
    }
)


def parse_config(
    obj: dict[str, Any], variant: Any, probs: Problems, warnings: list[str]
) -> TrainConfig:
    """``training.config`` of a recipe; ``variant`` (an AdapterSpec or None) gives defaults."""
    method = _choice(obj, "method", METHODS, "sft", probs)
    declared = getattr(variant, "type", None)
    kind = _choice(
        obj, "adapter_type", ADAPTER_TYPES, declared if declared in ADAPTER_TYPES else "lora", probs
    )
    rank, alpha = _rank_alpha(obj, kind, variant, probs)
    dropout_key = _alias(obj, "dropout", "lora_dropout", probs)
    dropout = mc.get_number(
        obj,
        dropout_key,
        P,
        probs,
        expected="a number from 0 to below 1",
        check=lambda v: 0 <= v < 1,
        default=0.0,
    )
    targets, feedforward = _parse_targets(obj, kind, variant, probs)
    length_key = _alias(obj, "max_length", "max_seq_length", probs)
    values: dict[str, Any] = {
        key: mc.get_number(obj, key, P, probs, expected=exp, check=check, default=default)
        for key, exp, check, default in _NUMBERS
    }
    values.update(
        {
            key: mc.get_int(obj, key, P, probs, lo=lo, hi=hi, default=default)
            for key, lo, hi, default in _INTS
        }
    )
    values.update({key: _flag(obj, key, probs) for key in _FLAGS})
    config = TrainConfig(
        method=method,
        adapter_type=kind,
        rank=rank,
        alpha=alpha,
        dropout=dropout or 0.0,
        target_modules=targets,
        feedforward_modules=feedforward,
        learning_rate=mc.get_number(
            obj,
            "learning_rate",
            P,
            probs,
            expected="a number > 0 and at most 1",
            check=lambda v: 0 < v <= 1,
            default=DEFAULT_LEARNING_RATE[kind],
        )
        or DEFAULT_LEARNING_RATE[kind],
        max_length=mc.get_int(obj, length_key, P, probs, lo=8, hi=1 << 20, default=512) or 512,
        lr_scheduler=_choice(obj, "lr_scheduler", SCHEDULERS, "cosine", probs),
        lr_cycles=_cycles(obj, probs),
        metric_for_best_model=_metric_name(obj, probs),
        gradient_checkpointing=_checkpointing(obj, probs),
        num_virtual_tokens=mc.get_int(
            obj,
            "num_virtual_tokens",
            P,
            probs,
            lo=1,
            hi=MAX_VIRTUAL_TOKENS,
            default=DEFAULT_VIRTUAL_TOKENS,
        )
        or DEFAULT_VIRTUAL_TOKENS,
        soft_prompt_name=mc.get_string(
            obj,
            "soft_prompt_name",
            P,
            probs,
            check=lambda v: re.fullmatch(SOFT_PROMPT_NAME, v) is not None,
            expected="a file name of 1-75 letters, digits, '.', '_' or '-'",
        )
        or "",
        **{k: v for k, v in values.items() if v is not None},
    )
    ignored = sorted(k for k in obj if k not in CONFIG_KEYS and not k.startswith("_"))
    if ignored:
        warnings.append(f"training.config: ignored {', '.join(ignored)} (hxpm does not use them)")
    if config.bf16 and config.fp16:
        probs.add(key_path(P, "fp16"), True, "false when bf16 is true (pick one precision)")
    warnings.extend(_disagreements(config, variant))
    return config


def _choice(
    obj: dict[str, Any], key: str, allowed: tuple[str, ...], default: str, probs: Problems
) -> str:
    value = mc.get_string(
        obj, key, P, probs, check=lambda v: v.lower() in allowed, expected=one_of(allowed)
    )
    return (value or default).lower()


def _flag(obj: dict[str, Any], key: str, probs: Problems) -> bool:
    value = obj.get(key, MISSING)
    if value is MISSING or value is None:
        return False
    if not isinstance(value, bool):
        probs.add(key_path(P, key), value, "true or false")
        return False
    return value


def _checkpointing(obj: dict[str, Any], probs: Problems) -> bool:
    """``gradient_checkpointing``: a boolean, or the older tool's ``"full"`` (= true)."""
    value = obj.get("gradient_checkpointing", MISSING)
    if value is MISSING or value is None or value is False:
        return False
    if value is True or value == "full":
        return True
    probs.add(key_path(P, "gradient_checkpointing"), value, 'true, false or "full"')
    return False


def _cycles(obj: dict[str, Any], probs: Problems) -> int:
    kwargs = mc.get_object(obj, "lr_scheduler_kwargs", P, probs) or {}
    return (
        mc.get_int(
            kwargs, "num_cycles", f"{P}.lr_scheduler_kwargs", probs, lo=1, hi=1000, default=1
        )
        or 1
    )


def _metric_name(obj: dict[str, Any], probs: Problems) -> str:
    """Only the validation loss is measured during training (``eval_loss`` = ``loss``)."""
    value = mc.get_string(
        obj,
        "metric_for_best_model",
        P,
        probs,
        check=lambda v: v in ("loss", "eval_loss"),
        expected="'loss' or 'eval_loss' (the validation loss is what training measures)",
    )
    return "loss" if value in (None, "eval_loss") else value


def _rank_alpha(
    obj: dict[str, Any], kind: str, variant: Any, probs: Problems
) -> tuple[int | None, float | None]:
    rank_key = _alias(obj, "rank", "r", probs)
    alpha_key = _alias(obj, "alpha", "lora_alpha", probs)
    if kind == "ia3":
        for key in (rank_key, alpha_key):
            if key in obj:
                probs.add(
                    key_path(P, key),
                    obj[key],
                    "no value: IA3 adapters have no rank "
                    "or alpha (remove the field, or use adapter_type lora/dora)",
                )
        return None, None
    default_rank = getattr(variant, "r", None) or DEFAULT_RANK
    rank = mc.get_int(obj, rank_key, P, probs, lo=1, hi=MAX_RANK, default=default_rank)
    default_alpha = getattr(variant, "alpha", None) or 2.0 * (rank or DEFAULT_RANK)
    alpha = mc.get_number(
        obj,
        alpha_key,
        P,
        probs,
        expected="a number > 0",
        check=lambda v: v > 0,
        default=float(default_alpha),
    )
    return rank, alpha


def _alias(obj: dict[str, Any], key: str, legacy: str, probs: Problems) -> str:
    """The key present in ``obj`` of a field and its legacy spelling; both is a problem."""
    if key in obj and legacy in obj:
        probs.add(
            key_path(P, legacy),
            obj[legacy],
            f"absent when {key} is given (they are the same field)",
        )
    return legacy if legacy in obj and key not in obj else key


def _parse_targets(
    obj: dict[str, Any], kind: str, variant: Any, probs: Problems
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    declared = tuple(getattr(variant, "target_modules", ()) or ())
    default = declared or (IA3_TARGETS if kind == "ia3" else ALL_LINEAR)
    targets = _module_list(obj, "target_modules", probs) or default
    ff = _module_list(obj, "feedforward_modules", probs)
    if kind != "ia3":
        if "feedforward_modules" in obj:
            probs.add(
                key_path(P, "feedforward_modules"),
                obj["feedforward_modules"],
                "no value: feedforward_modules is for IA3 adapters only",
            )
        return targets, ()
    if "feedforward_modules" not in obj:
        ff = tuple(t for t in targets if t in IA3_FEEDFORWARD)
    stray = [m for m in ff if m not in targets]
    if stray:
        probs.add(
            key_path(P, "feedforward_modules"),
            list(ff),
            f"a subset of target_modules ({', '.join(stray)} is not targeted)",
        )
    return targets, ff


def _module_list(obj: dict[str, Any], key: str, probs: Problems) -> tuple[str, ...]:
    value = obj.get(key, MISSING)
    if value is MISSING:
        return ()
    expected = 'a non-empty list of distinct module names such as ["q_proj", "v_proj"]'
    if not isinstance(value, list) or not value:
        probs.add(key_path(P, key), value, expected)
        return ()
    good: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not re.fullmatch(r"[A-Za-z0-9_.]+", item):
            probs.add(
                item_path(key_path(P, key), i),
                item,
                "a module name (letters, digits, '_' and '.')",
            )
        elif item in good:
            probs.add(item_path(key_path(P, key), i), item, "a name not listed before")
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
        "type": "lora" if config.adapter_type == "prompt" else config.adapter_type,
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


def one_of(values: tuple[str, ...]) -> str:
    return "one of " + ", ".join(repr(v) for v in values)
