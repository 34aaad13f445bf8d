"""Checkpoint state of a training run as safetensors + JSON (never pickles).

A checkpoint folder (``checkpoint-N``, written by ``train_loop.HxTrainer``) holds:

* ``trainable.safetensors``: the new adapter's parameters, by module path;
* ``optimizer.safetensors`` + ``optimizer.json``: the optimizer's per-parameter tensors, its
  scalar state and its parameter groups; ``scheduler.json``: the LR scheduler's state;
* ``rng.safetensors`` + ``rng.json``: torch's CPU/CUDA generators, Python's and NumPy's;
* ``trainer_state.json``: the Trainer's own (JSON) state, written last.

Every file is written under a temporary name and renamed, so a run killed while saving leaves
the previous checkpoint intact; every read checks names and shapes against the live objects.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from hxpm.core.strictjson import read_json
from hxpm.errors import UsageError

PARAMS = "trainable.safetensors"
OPTIMIZER = "optimizer.safetensors"
OPTIMIZER_META = "optimizer.json"
SCHEDULER = "scheduler.json"
RNG = "rng.safetensors"
RNG_META = "rng.json"
# Our own state files are small (optimizer metadata lists parameter groups); a checkpoint
# copied from elsewhere must not make the reader work without bound.
_JSON_CAP = 64 << 20


def _write_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    plain = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    save_file(plain, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, path)


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except (OSError, ValueError, RuntimeError) as e:
        raise _broken(path, str(e)) from None


def _read_json(path: Path) -> Any:
    try:
        return read_json(path.read_bytes(), max_bytes=_JSON_CAP)
    except (OSError, ValueError) as e:
        raise _broken(path, str(e)) from None


def _broken(path: Path, why: str) -> UsageError:
    return UsageError(
        f"checkpoint file {path} cannot be used: {why[:200]}",
        hint="Delete that checkpoint folder to resume from an earlier one, or train "
        "without --resume.",
    )


# --- parameters ----------------------------------------------------------------------------


def save_params(folder: Path, params: Mapping[str, torch.nn.Parameter]) -> None:
    _write_tensors(folder / PARAMS, {name: p.float() for name, p in params.items()})


def load_params(folder: Path, params: Mapping[str, torch.nn.Parameter]) -> None:
    saved = _read_tensors(folder / PARAMS)
    if set(saved) != set(params):
        raise _broken(folder / PARAMS, "it holds other parameters than this recipe trains")
    with torch.no_grad():
        for name, param in params.items():
            if saved[name].shape != param.shape:
                raise _broken(folder / PARAMS, f"{name} has shape {tuple(saved[name].shape)}")
            param.copy_(saved[name].to(param.device, param.dtype))


# --- optimizer and scheduler -----------------------------------------------------------------


def save_optimizer(folder: Path, optimizer: Any, scheduler: Any) -> None:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    _write_tensors(folder / OPTIMIZER, tensors)
    _write_json(folder / OPTIMIZER_META, {"groups": state["param_groups"], "scalars": scalars})
    if scheduler is not None:
        _write_json(folder / SCHEDULER, _jsonable_state(scheduler.state_dict()))


def load_optimizer(folder: Path, optimizer: Any, scheduler: Any) -> None:
    if not (folder / OPTIMIZER_META).is_file():
        return
    meta = _read_json(folder / OPTIMIZER_META)
    tensors = _read_tensors(folder / OPTIMIZER)
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, _, name = key.partition(".")
        state.setdefault(int(index), {})[name] = value
    for index, entry in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entry)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": meta["groups"]})
    except (KeyError, ValueError, TypeError) as e:
        raise _broken(folder / OPTIMIZER_META, str(e)) from None
    if scheduler is not None and (folder / SCHEDULER).is_file():
        saved = _read_json(folder / SCHEDULER)
        current = scheduler.state_dict()
        current.update({k: v for k, v in saved.items() if k in current})
        scheduler.load_state_dict(current)


def _jsonable_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-representable entries of a scheduler state (its lambdas are code, not state)."""
    out = {}
    for key, value in state.items():
        try:
            json.dumps(value)
        except TypeError:
            continue
        out[key] = value
    return out


# --- random generators -----------------------------------------------------------------------


def save_rng(folder: Path) -> None:
    tensors = {"cpu": torch.random.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    _write_tensors(folder / RNG, tensors)
    _write_json(
        folder / RNG_META,
        {
            "python": [version, list(words), gauss],
            "numpy": [kind, [int(k) for k in keys], pos, has_gauss, cached],
        },
    )


def load_rng(folder: Path) -> None:
    if not (folder / RNG).is_file():
        return
    tensors = _read_tensors(folder / RNG)
    meta = _read_json(folder / RNG_META)
    torch.random.set_rng_state(tensors["cpu"])
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            if f"cuda.{i}" in tensors:
                torch.cuda.set_rng_state(tensors[f"cuda.{i}"], i)
    version, words, gauss = meta["python"]
    random.setstate((version, tuple(words), gauss))
    kind, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
