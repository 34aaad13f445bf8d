"""The files of ``hxpm train``: the trained adapter (peft's layout), an adapter to start
from, and where a resumed run starts."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import torch

from hxpm.errors import InferenceError, NotFoundError, UsageError

from . import adapters as adapter_io
from .loader import quiet_transformers

NEW = "hxtrain"  # the peft adapter name of the adapter being trained
SAVED_PREFIX = "base_model.model."


def load_adapter(model: torch.nn.Module, folder: Path) -> None:
    """Start the new adapter from a trained one of the same recipe (peft's layout).

    Raises:
        InferenceError: the files do not fit the recipe's adapter (another rank, modules).
    """
    from peft.utils import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = Path(folder) / adapter_io.WEIGHTS_FILE
    try:
        saved = load_file(str(weights), device="cpu")
    except (OSError, ValueError, RuntimeError) as e:
        raise InferenceError(f"{weights}: cannot read the adapter to start from ({e})") from None
    state = {k.removeprefix(SAVED_PREFIX): v for k, v in saved.items()}
    with quiet_transformers():
        result = set_peft_model_state_dict(model, state, adapter_name=NEW)
    missing = [k for k in getattr(result, "missing_keys", []) if f".{NEW}." in k]
    if missing or getattr(result, "unexpected_keys", []):
        raise InferenceError(
            f"{weights} is not an adapter of this recipe (its rank, type or target modules "
            "differ), so DPO cannot start from it",
            hint="Train the SFT adapter with the same recipe first, or pass --from-scratch.",
        )


RUN_FILE = "run.sha256"  # in the checkpoints folder: the digest of the run they belong to


def run_digest(parts: Iterable[object]) -> str:
    """A digest of what decides a run's steps: the effective recipe, seed, step overrides
    and every example (their reprs: frozen dataclasses of plain values, stable)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def write_run_digest(checkpoints: Path, digest: str) -> None:
    checkpoints.mkdir(parents=True, exist_ok=True)
    (checkpoints / RUN_FILE).write_text(digest + "\n", encoding="ascii")


def resume_point(checkpoints: Path, digest: str | None = None) -> Path:
    """The newest complete checkpoint to resume from, of a run with ``digest``.

    Raises:
        NotFoundError: there is none (nothing was saved yet: save_steps unset or not reached).
        UsageError: the checkpoints belong to a run of another recipe, seed or dataset (a
            resumed run would silently mix two trainings).
    """
    from .train_loop import last_checkpoint

    try:
        saved = (checkpoints / RUN_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        saved = None  # written by an older hxpm: nothing to compare
    if digest is not None and saved is not None and saved != digest:
        raise UsageError(
            f"the checkpoints in {checkpoints} belong to another run: the recipe, the seed, "
            "--epochs/--max-steps or the dataset changed since they were written",
            hint="Restore what changed, or train without --resume to start over.",
        )

    found = last_checkpoint(checkpoints)
    if found is None:
        raise NotFoundError(
            f"no checkpoint to resume from in {checkpoints}",
            hint="Checkpoints are written every training.config.save_steps steps; train "
            "without --resume to start over.",
        )
    return found


def clear_checkpoints(checkpoints: Path) -> None:
    """A fresh run starts without the checkpoints of an earlier one (rotation counts them)."""
    for entry in checkpoints.glob("checkpoint-*") if checkpoints.is_dir() else ():
        if entry.is_dir() and entry.name.removeprefix("checkpoint-").isdigit():
            shutil.rmtree(entry)


def save_adapter(model: torch.nn.Module, output_dir: Path) -> None:
    """Write peft's layout atomically: each file to a temporary name, then renamed."""
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    state = get_peft_model_state_dict(model, adapter_name=NEW, save_embedding_layers=False)
    tensors = {
        SAVED_PREFIX + key: value.detach().to("cpu", torch.float32).contiguous()
        for key, value in sorted(state.items())
    }
    configs = cast("dict[str, Any]", model.peft_config)  # set by peft on the model
    config = copy.copy(configs[NEW])
    config.inference_mode = True
    text = json.dumps(_jsonable(config.to_dict()), indent=2, sort_keys=True) + "\n"
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights_tmp = out / f".{adapter_io.WEIGHTS_FILE}.tmp"
    config_tmp = out / f".{adapter_io.CONFIG_FILE}.tmp"
    try:
        save_file(tensors, str(weights_tmp), metadata={"format": "pt"})
        config_tmp.write_text(text, encoding="utf-8")
        os.replace(weights_tmp, out / adapter_io.WEIGHTS_FILE)
        os.replace(config_tmp, out / adapter_io.CONFIG_FILE)
    finally:
        for tmp in (weights_tmp, config_tmp):
            tmp.unlink(missing_ok=True)


def _jsonable(value: Any) -> Any:
    """peft configs hold sets and enums: sorted lists and plain strings, for stable bytes."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value  # PeftType / TaskType enums
    return value
