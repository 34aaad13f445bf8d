"""Quantized bases: ``quantization: int8|int4`` in a variant, ``--quantize`` on the command line.

Backend: torchao (pytorch's own quantization library, released with torch). Chosen over
optimum-quanto 0.2.7 because quanto's last release is from March 2025 while torchao follows
torch releases, and peft dispatches LoRA onto torchao layers itself (``TorchaoLoraLinear``).
Both quantized the tiny Qwen3 on this CPU with torch 2.13; torchao's ``Int4WeightOnlyConfig``
needs the ``mslk`` CUDA kernels, so int4 uses ``IntxWeightOnlyConfig`` (int4 weights in
groups of 32, unpacked kernels) which runs on CPU and CUDA alike. That layout keeps one int4
value per byte: int4 costs about the memory of int8 (measured by
tests/benchmarks/bench_quantize.py); it matches what an int4-trained expert expects.

Only weights of Linear layers are quantized; embeddings, norms and the output head (whose
precision matters most for the next-token choice) stay as they are. A
quantized base cannot take merged adapters (a merge would have to re-quantize every switch),
so adapters run unmerged on top, through peft's layers.

``fp16``/``bf16`` (the older tool's other values) are dtypes, not quantization: they load the
base in that dtype. ``none`` is no quantization.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hxpm.errors import InferenceError, UsageError

if TYPE_CHECKING:
    import torch

QUANTIZE_CHOICES = ("int8", "int4")
DTYPE_CHOICES = ("fp16", "bf16")
_NONE = ("", "none")
INT4_GROUP = 32  # int4 scales per 32 input features: torchao's usual choice for small models
BACKEND_PACKAGE = "torchao==0.18.0"


def normalize(value: object, where: str) -> str | None:
    """``int8``/``int4``/``fp16``/``bf16``, or None for none.

    Raises:
        UsageError: any other value, named with the accepted ones.
    """
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in _NONE:
        return None
    if text in QUANTIZE_CHOICES or text in DTYPE_CHOICES:
        return text
    raise UsageError(
        f"{where}: quantization {value!r} is not one of "
        f"{', '.join((*QUANTIZE_CHOICES, *DTYPE_CHOICES, 'none'))}",
        hint="int8 and int4 quantize the base's Linear weights; fp16/bf16 only set its dtype.",
    )


def dtype_for(mode: str) -> torch.dtype:
    """The torch dtype of ``fp16``/``bf16``."""
    import torch

    return torch.float16 if mode == "fp16" else torch.bfloat16


def check_backend(mode: str) -> None:
    """Raise InferenceError unless the backend for ``mode`` can run here."""
    try:
        import torchao  # type: ignore[import-untyped]  # noqa: F401
        from torchao.quantization import quantize_  # type: ignore[import-untyped]  # noqa: F401
    except ImportError as e:
        raise InferenceError(
            f"cannot load the base quantized to {mode}: the quantization backend torchao is "
            f"not installed ({e.name})",
            hint=f"pip install '{BACKEND_PACKAGE}', or run without --quantize "
            "(an expert's manifest asking for it is then refused too).",
        ) from None


def quantize_model(model: torch.nn.Module, mode: str) -> int:
    """Quantize the Linear weights of ``model`` in place; return how many layers changed."""
    import torch
    from torchao.quantization import (
        Int8WeightOnlyConfig,
        IntxWeightOnlyConfig,
        PerGroup,
        quantize_,
    )

    config: Any
    if mode == "int8":
        config = Int8WeightOnlyConfig()
    elif mode == "int4":
        int4 = getattr(torch, "int4")  # noqa: B009 -- torch's stubs do not list int4 yet
        config = IntxWeightOnlyConfig(weight_dtype=int4, granularity=PerGroup(INT4_GROUP))
    else:  # pragma: no cover - normalize() admits nothing else
        raise UsageError(f"unknown quantization {mode!r}")
    chosen = [
        name
        for name, module in model.named_modules()
        if _quantizable(module, mode) and name != "lm_head"
    ]
    if not chosen:
        raise InferenceError(
            f"cannot quantize this base to {mode}: no Linear layer fits "
            f"(int4 needs input features divisible by {INT4_GROUP})"
        )
    wanted = set(chosen)
    try:
        quantize_(model, config, filter_fn=lambda _module, fqn: fqn in wanted)
    except (RuntimeError, ValueError, NotImplementedError, ImportError) as e:
        raise InferenceError(
            f"the quantization backend could not quantize this base to {mode}: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}"
        ) from None
    return len(chosen)


def _quantizable(module: torch.nn.Module, mode: str) -> bool:
    import torch

    if type(module) is not torch.nn.Linear:
        return False
    return mode != "int4" or module.in_features % INT4_GROUP == 0


def is_quantized_weight(weight: torch.Tensor) -> bool:
    """Whether a weight is a torchao quantized tensor (merging into it is impossible)."""
    try:
        from torchao.utils import TorchAOBaseTensor  # type: ignore[import-untyped]
    except ImportError:
        return False
    return isinstance(weight, TorchAOBaseTensor)
