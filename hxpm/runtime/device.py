"""Pick the device and dtype a session runs on: bf16 on GPU, fp32 on CPU
(docs/architecture.md §9)."""

from __future__ import annotations

import re

import torch

from hxpm.errors import UsageError

_CUDA_RE = re.compile(r"^cuda(?::(\d+))?$")
_ACCEPTED = "auto, cpu, cuda or cuda:N"


def choose_device(requested: str) -> tuple[torch.device, torch.dtype]:
    """Turn ``--device`` (auto, cpu, cuda, cuda:N) into a torch device and its dtype.

    Raises:
        UsageError: unknown spelling, or CUDA asked for where there is none.
    """
    spec = (requested or "auto").strip().lower()
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return torch.device("cpu"), torch.float32
    match = _CUDA_RE.match(spec)
    if match is None:
        raise UsageError(
            f"--device {requested}: expected {_ACCEPTED}",
            hint="Leave --device out (auto) to use CUDA when present, else the CPU.",
        )
    if not torch.cuda.is_available():
        raise UsageError(
            f"--device {requested}: no CUDA device is available",
            hint="Use --device cpu (or auto), or install a CUDA build of torch.",
        )
    index = int(match.group(1) or torch.cuda.current_device())
    count = torch.cuda.device_count()
    if index >= count:
        raise UsageError(
            f"--device {requested}: this machine has {count} CUDA device(s) "
            f"(cuda:0 to cuda:{count - 1})"
        )
    # bf16 halves memory and is what Qwen3 checkpoints ship in; old GPUs without bf16 get fp16.
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.device("cuda", index), dtype


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``."""
    return str(dtype).removeprefix("torch.")
