"""``training.dpo``: the hyper-parameters of a DPO run, which are not those of SFT.

DPO continues from a trained adapter: with the SFT learning rate and epoch count it undoes
what SFT learnt (docs/training.md, *DPO*). Plain values only (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from hxpm.core import manifest_checks as mc
from hxpm.core.manifest_checks import Problems

from .train_config import TrainConfig


@dataclass(frozen=True, slots=True)
class DpoConfig:
    """``training.dpo``: what DPO uses instead of the SFT hyper-parameters of ``config``.

    ``None`` fields fall back to values derived from ``training.config`` (dpo_config()).
    """

    learning_rate: float | None = None  # default: training.config.learning_rate / 50
    epochs: float = 1.0
    max_steps: int = 0
    beta: float | None = None  # default: training.config.beta (0.1)
    sft_weight: float = 1.0  # 0: pure DPO; > 0: + weight x mean token NLL of the chosen answers
    warmup_steps: int = 0
    batch_size: int | None = None  # default: training.config.batch_size


DPO_KEYS = frozenset(DpoConfig.__slots__)
DPO_LR_DIVISOR = 50.0
PD = "training.dpo"


def parse_dpo(training: dict[str, Any], probs: Problems, warnings: list[str]) -> DpoConfig:
    """``training.dpo`` (absent: every default)."""
    obj = mc.get_object(training, "dpo", "training", probs) or {}

    def number(key: str, expected: str, check: Any, default: float | None) -> float | None:
        return mc.get_number(obj, key, PD, probs, expected=expected, check=check, default=default)

    def integer(key: str, lo: int, hi: int | None, default: int | None) -> int | None:
        return mc.get_int(obj, key, PD, probs, lo=lo, hi=hi, default=default)

    config = DpoConfig(
        learning_rate=number("learning_rate", "a number > 0 and at most 1", _rate, None),
        epochs=number("epochs", "a number > 0", lambda v: v > 0, 1.0) or 1.0,
        max_steps=integer("max_steps", 0, None, 0) or 0,
        beta=number("beta", "a number > 0", lambda v: v > 0, None),
        sft_weight=number("sft_weight", "a number >= 0", lambda v: v >= 0, 1.0) or 0.0,
        warmup_steps=integer("warmup_steps", 0, None, 0) or 0,
        batch_size=integer("batch_size", 1, 4096, None),
    )
    ignored = sorted(k for k in obj if k not in DPO_KEYS and not k.startswith("_"))
    if ignored:
        warnings.append(f"{PD}: ignored {', '.join(ignored)} (hxpm does not use them)")
    return config


def _rate(value: float) -> bool:
    return 0 < value <= 1


def dpo_config(config: TrainConfig, dpo: DpoConfig) -> TrainConfig:
    """The hyper-parameters a DPO run uses: ``config`` with ``training.dpo`` applied.

    DPO starts from a trained adapter; the SFT learning rate and epoch count undo it (on the
    demo document classifier, json_exact fell from 1.0 to 0.0), hence its own, gentler
    defaults: a fiftieth of the SFT rate, one epoch, no warm-up, and the chosen answers' NLL
    added to the loss (it keeps the answers' exact form, which pure DPO lets drift).
    """
    return replace(
        config,
        method="dpo",
        learning_rate=dpo.learning_rate or config.learning_rate / DPO_LR_DIVISOR,
        epochs=dpo.epochs,
        max_steps=dpo.max_steps,
        beta=dpo.beta or config.beta,
        sft_weight=dpo.sft_weight,
        warmup_steps=dpo.warmup_steps,
        warmup_ratio=0.0,
        batch_size=dpo.batch_size or config.batch_size,
    )
