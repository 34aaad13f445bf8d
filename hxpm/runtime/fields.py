"""Which base a set of experts needs: RoPE scaling and quantization, agreed or refused.

Both are properties of the loaded base, not of one adapter: every expert of an active set
must agree on them, and they must match how the session loaded its base. No torch here.
"""

from __future__ import annotations

from collections.abc import Sequence

from hxpm.errors import InferenceError

from .quantize import normalize
from .refs import AdapterRef, LoadOptions
from .rope import same_scaling

_NONE_WORDS = ("none", "")


def options_for(refs: Sequence[AdapterRef], quantize: str | None = None) -> LoadOptions:
    """How to load the base for ``refs``; ``quantize`` is the command line's ``--quantize``.

    Raises:
        InferenceError: the experts ask for different RoPE scalings or quantizations.
        UsageError: ``quantize`` is not a known value.
    """
    scaling = same_scaling({r.name: r.rope_scaling for r in refs})
    if quantize is not None:
        mode = (
            None if quantize.strip().lower() in _NONE_WORDS else normalize(quantize, "--quantize")
        )
        return LoadOptions(scaling, mode, forced=True)
    return LoadOptions(scaling, _one_quantization(refs), forced=False)


def _one_quantization(refs: Sequence[AdapterRef]) -> str | None:
    asked = {r.name: r.quantization for r in refs if r.quantization is not None}
    if len(set(asked.values())) > 1:
        listing = ", ".join(f"{name}: {mode}" for name, mode in sorted(asked.items()))
        raise InferenceError(
            f"these experts were made for differently quantized bases: {listing}",
            hint="Choose one for all of them with --quantize int8|int4|none.",
        )
    return next(iter(asked.values()), None)


def check_set(refs: Sequence[AdapterRef], options: LoadOptions, base_name: str) -> None:
    """Refuse a set the loaded base does not fit (checked before anything is attached).

    Raises:
        InferenceError: conflicting scalings in the set, a scaling other than the session's,
            or (unless the quantization was forced) a quantization other than the session's.
    """
    if not refs:
        return
    scaling = same_scaling({r.name: r.rope_scaling for r in refs})
    if scaling != options.rope_scaling:
        loaded = options.rope_scaling.describe() if options.rope_scaling else "no RoPE scaling"
        wanted = scaling.describe() if scaling else "no RoPE scaling"
        raise InferenceError(
            f"these experts need {wanted} but base {base_name} was loaded with {loaded}",
            hint="`hxpm run` loads the base for the experts it runs; in chat or serve, "
            "use experts that share one RoPE scaling.",
        )
    if options.forced:
        return
    for ref in refs:
        if ref.quantization is not None and ref.quantization != options.quantization:
            raise InferenceError(
                f"expert {ref.name} was made for a {ref.quantization} base but base {base_name} "
                f"was loaded {options.quantization or 'unquantized'}",
                hint=f"Pass --quantize {ref.quantization} to load it so, or --quantize none "
                "to run it on the base as loaded.",
            )
