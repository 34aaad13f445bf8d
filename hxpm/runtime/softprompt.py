"""Soft prompts: ``soft_prompts/<name>.safetensors`` vectors put before the prompt's embeddings.

A soft prompt file holds exactly one tensor of shape ``[tokens, hidden]`` (any tensor name;
PEFT prompt tuning calls it ``prompt_embeddings``), floating point, finite, with ``hidden``
the base's embedding width. When an expert is active its soft prompts (in manifest order;
experts in load order) are concatenated and prepended to the embedded prompt on the first
decoding step, which is what PEFT's prompt tuning does at inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from hxpm.errors import BaseMismatchError, InferenceError

MAX_TOKENS = 512  # the older tool's schema bound (tokens 1-512)


def read_soft_prompt(path: Path, *, hidden: int, label: str) -> torch.Tensor:
    """The ``[tokens, hidden]`` tensor of one soft prompt file, checked (float32, CPU).

    Raises:
        InferenceError: unreadable file, not exactly one tensor, wrong rank or dtype, values
            that are not finite, or too many tokens.
        BaseMismatchError: its width is not the base's hidden size.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    where = f"{label}: soft prompt {path.name}"
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError, ValueError, RuntimeError) as e:
        # Installs check soft prompts' digests and shapes, so an installed one that cannot be
        # read was damaged afterwards: say how to find and repair it.
        raise InferenceError(
            f"{where}: cannot read it: {e}",
            hint="The installed file may be damaged: `hxpm verify --store` checks every file "
            "against its digest; `hxpm install --force-reinstall NAME` repairs it.",
        ) from None
    if len(tensors) != 1:
        raise InferenceError(
            f"{where}: holds {len(tensors)} tensors, expected exactly one [tokens, hidden]"
        )
    (tensor,) = tensors.values()
    if tensor.dim() != 2 or not 1 <= tensor.shape[0] <= MAX_TOKENS:
        raise InferenceError(
            f"{where}: shape {list(tensor.shape)}, expected [tokens, hidden] "
            f"with 1 to {MAX_TOKENS} tokens"
        )
    if not tensor.is_floating_point():
        raise InferenceError(f"{where}: dtype {tensor.dtype}, expected a floating-point type")
    if tensor.shape[1] != hidden:
        raise BaseMismatchError(
            f"{where} is {tensor.shape[1]} wide but this base's embeddings are {hidden} wide",
            hint="The soft prompt was trained for another base model; install the variant "
            "built for this one.",
            details={"soft_prompt_hidden": int(tensor.shape[1]), "base_hidden": hidden},
        )
    if not bool(torch.isfinite(tensor).all()):
        raise InferenceError(f"{where}: holds NaN or infinite values")
    return tensor.float()


def read_all(paths: Sequence[Path], *, hidden: int, label: str) -> tuple[torch.Tensor, ...]:
    """Every soft prompt of one expert, in order."""
    return tuple(read_soft_prompt(p, hidden=hidden, label=label) for p in paths)


def prefix_for(prompts: Sequence[torch.Tensor]) -> torch.Tensor | None:
    """The concatenated ``[tokens, hidden]`` prefix of the active set (None: no soft prompt)."""
    return torch.cat(list(prompts), dim=0) if prompts else None


def hidden_size(model: torch.nn.Module) -> int:
    """The width of the base's input embeddings."""
    embeddings = model.get_input_embeddings()  # type: ignore[operator]
    return int(embeddings.weight.shape[1])


def prefix_of(experts: Sequence[tuple[str, Sequence[Path]]], *, hidden: int) -> torch.Tensor | None:
    """The prefix of a set given as ``(label, soft prompt files)`` per expert in load order:
    every file read and checked (``read_soft_prompt``), concatenated (None: no soft prompt).

    What a decoder that runs sets per request (the batched one) prepends for that request.
    """
    return prefix_for(
        [p for label, paths in experts for p in read_all(paths, hidden=hidden, label=label)]
    )
