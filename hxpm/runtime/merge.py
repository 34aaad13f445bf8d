"""Merge an active adapter set into the base weights, exactly as peft runs it unmerged.

Why not peft's own ``merge_adapter``/``unmerge_adapter``: unmerging subtracts the delta again
(and divides by the DoRA factor), and in bf16 ``(W + d) - d != W``. Measured with peft 0.21
on a two-DoRA stack in bf16: after 50 merge/unmerge cycles a base weight was off by up to 0.06,
so the "bare" base slowly stops being the base. peft also recovers the unmerged weight for a
second DoRA adapter by unmerging and re-merging the first, the same lossy round trip. Here the
original weights of every touched module are kept (a pristine copy), each merge is computed
from them, and going back is an exact copy: no drift, ever. The composition reproduces peft's
unmerged forward: for the active adapters in order (load order), per Linear ``W``:

  - LoRA:  ``W <- W + s·B·A``
  - DoRA:  ``W <- (m / ‖W0 + s·B·A‖_row) ⊙ (W + s·B·A)``  (``W0`` the original weight)
  - IA³:   ``W <- diag(l)·W`` (and bias ``l·b``), or ``W·diag(l)`` for feed-forward layers

  So LoRA deltas are summed, DoRA re-scales rows as it does unmerged (every norm from ``W0``,
  as peft's forward computes it), IA³ vectors multiply.
  A set mixing IA³ with LoRA/DoRA is refused earlier: peft's result would depend on which
  wrapper was injected first.

The math runs in float32 and is cast once to the model's dtype. The cost is memory: one
copy of each touched weight (on the model's device, so that restoring is a device copy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn


# peft layers are typed Any here: their adapter containers (lora_A, scaling, ia3_l, ...) are
# set at run time, and torch's Module.__getattr__ would type each as "Tensor | Module".
def layer_chain(model: nn.Module, path: str) -> tuple[list[Any], nn.Module]:
    """The peft wrappers at ``path`` (outermost first) and the base module inside them."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    module: Any = model.get_submodule(path)
    chain: list[Any] = []
    while isinstance(module, BaseTunerLayer):
        chain.append(module)
        module = chain[-1].base_layer  # one wrapper in (get_base_layer skips them all)
    return chain, module


def why_not_mergeable(
    model: nn.Module, names: Sequence[str], modules_of: Mapping[str, frozenset[str]]
) -> str | None:
    """None when every adapter in ``names`` can be merged, else the reason it cannot."""
    from peft.tuners.ia3.layer import Linear as IA3Linear
    from peft.tuners.lora.layer import Linear as LoraLinear
    from peft.tuners.lora.variants import DoraLinearVariant

    for name in names:
        for path in sorted(modules_of[name]):
            chain, base = layer_chain(model, path)
            if type(base) is not nn.Linear:
                return f"{path} is not a Linear layer ({type(base).__name__})"
            for layer in chain:
                if type(layer) is LoraLinear and name in layer.lora_A:
                    variant = layer.lora_variant.get(name)
                    if layer.fan_in_fan_out or (
                        variant is not None and not isinstance(variant, DoraLinearVariant)
                    ):
                        return f"{path} uses a LoRA variant hxpm does not merge"
                elif type(layer) is not IA3Linear and type(layer) is not LoraLinear:
                    return f"{path} is wrapped by {type(layer).__name__}"
    return None


class Merger:
    """Keeps the base weights equal to "original + the applied set", nothing else."""

    def __init__(self, model: nn.Module) -> None:
        self._model = model
        self._pristine: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._chains: dict[str, tuple[list[Any], nn.Linear]] = {}
        self._applied: tuple[str, ...] = ()
        self._written: dict[str, tuple[str, ...]] = {}  # module path -> adapters merged there

    @property
    def applied(self) -> tuple[str, ...]:
        """The adapter names currently merged into the weights, in order."""
        return self._applied

    def forget_layers(self) -> None:
        """Call after attaching or detaching: peft may have wrapped modules anew."""
        self._chains.clear()

    def apply(self, names: Sequence[str], modules_of: Mapping[str, frozenset[str]]) -> None:
        """Make the weights equal to the original merged with ``names`` (() = original)."""
        names = tuple(names)
        if names == self._applied:
            return
        wanted: dict[str, tuple[str, ...]] = {}
        for name in names:
            for path in modules_of[name]:
                wanted[path] = (*wanted.get(path, ()), name)
        with torch.no_grad():
            for path in sorted(set(self._written) - set(wanted)):
                self._restore(path)
                del self._written[path]
            for path, here in sorted(wanted.items()):
                # A module whose adapters did not change keeps its merged weight.
                if self._written.get(path) != here:
                    self._write(path, here)
                    self._written[path] = here
        self._applied = names

    def restore(self) -> None:
        """Back to the original weights (exact copies)."""
        self.apply((), {})

    def _chain(self, path: str) -> tuple[list[Any], nn.Linear]:
        if path not in self._chains:
            chain, base = layer_chain(self._model, path)
            # Only sets that why_not_mergeable admitted are merged: their bases are Linear.
            self._chains[path] = (chain, cast(nn.Linear, base))
        return self._chains[path]

    def _restore(self, path: str) -> None:
        _, base = self._chain(path)
        weight, bias = self._pristine[path]
        base.weight.copy_(weight)
        if bias is not None:
            base.bias.copy_(bias)

    def _original(self, path: str, base: nn.Linear) -> tuple[torch.Tensor, torch.Tensor | None]:
        if path not in self._pristine:
            bias = base.bias.detach().clone() if base.bias is not None else None
            self._pristine[path] = (base.weight.detach().clone(), bias)
        return self._pristine[path]

    def _write(self, path: str, names: Sequence[str]) -> None:
        chain, base = self._chain(path)
        w0, b0 = self._original(path, base)
        steps = [(layer, name) for name in names for layer in chain if _holds(layer, name)]
        if b0 is None and all(_plain_lora(*step) for step in steps):
            # The common case, LoRA only: W = W0 + [s·B...] @ [A...] in one GEMM written
            # straight into the weight (fp32 accumulation, one rounding in bf16).
            a, b = _lora_factors(steps, w0.dtype)
            torch.addmm(w0, b, a, out=base.weight)
            return
        # Otherwise fp32 weights are updated in place and others go through one float32
        # buffer, so that the merged weight is rounded to bf16/fp16 once.
        fp32 = base.weight.dtype == torch.float32
        work = base.weight if fp32 else torch.empty(w0.shape, device=w0.device)
        work.copy_(w0)
        bias = None if b0 is None else b0.float().clone()
        i = 0
        while i < len(steps):
            run = []
            while i < len(steps) and _plain_lora(*steps[i]):
                run.append(steps[i])
                i += 1
            if run:  # consecutive LoRA deltas: one matmul over the concatenated factors
                a, b = _lora_factors(run, torch.float32)
                work.addmm_(b, a)
                continue
            bias = _compose_in_place(*steps[i], w0, work, bias)
            i += 1
        if not fp32:
            base.weight.copy_(work)
        if bias is not None:
            base.bias.copy_(bias)


def _holds(layer: Any, name: str) -> bool:
    for attr in ("lora_A", "ia3_l"):
        container = getattr(layer, attr, None)
        if container is not None and name in container:
            return True
    return False


def _plain_lora(layer: Any, name: str) -> bool:
    return hasattr(layer, "lora_A") and name not in layer.lora_variant


def _lora_factors(
    steps: Sequence[tuple[Any, str]], dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, B)`` stacked over plain LoRA steps so that ``B @ A`` is the sum of their deltas."""
    a = torch.cat([layer.lora_A[n].weight for layer, n in steps]).to(dtype)
    b = torch.cat(
        [layer.lora_B[n].weight.float() * layer.scaling[n] for layer, n in steps], dim=1
    ).to(dtype)
    return a, b


def _compose_in_place(
    layer: Any, name: str, w0: torch.Tensor, work: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor | None:
    """Apply one DoRA or IA³ adapter to the float32 ``work`` weight; returns the bias."""
    if hasattr(layer, "lora_A"):  # DoRA (why_not_mergeable refused other variants)
        a = layer.lora_A[name].weight.float()
        b = layer.lora_B[name].weight.float()
        delta = (b @ a).mul_(layer.scaling[name])
        norm = torch.linalg.norm(delta + w0.float(), dim=1)
        magnitude = layer.lora_magnitude_vector[name].weight.float()
        work.add_(delta).mul_((magnitude / norm).unsqueeze(1))
        return bias
    scale = layer.ia3_l[name].float().flatten()
    if layer.is_feedforward:  # scales the layer's input: the weight's columns
        work.mul_(scale.unsqueeze(0))
        return bias
    work.mul_(scale.unsqueeze(1))
    return bias * scale if bias is not None else None
