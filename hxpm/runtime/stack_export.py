"""Write one plain PEFT LoRA that computes exactly what a stack of LoRA experts computes.

hxpm runs a stack by summing the members' deltas on every adapted Linear ``W``::

    W + s_1·B_1·A_1 + … + s_k·B_k·A_k  =  W + [s_1·B_1 | … | s_k·B_k] · [A_1; …; A_k]

so one LoRA whose ``A`` is the members' ``A`` stacked by rows and whose ``B`` is their scaled
``B`` side by side, with ``lora_alpha = r`` (scale 1), is the same computation, of rank
``r_1 + … + r_k``. vLLM applies one LoRA per request, so this is how a stacked expert can be
served there as the computation hxpm runs.

Layout choices, and why:

- The factors and scales are read from peft's own layers after attaching each member, so
  ``rank_pattern``, ``alpha_pattern`` and rsLoRA mean exactly what peft makes of them.
- Every adapted module gets the full rank ``R``; member ``i`` owns a fixed block of ``R_i``
  columns (its largest rank), zero where it does not adapt the module or has a smaller rank
  there. Zeros add nothing, and the config needs no ``rank_pattern``/``alpha_pattern``:
  older vLLM releases ignore those and would scale a patterned adapter wrongly. vLLM
  allocates ``--max-lora-rank`` slots anyway, so the padding costs no serving memory.
- ``target_modules`` is the members' module names; modules with those names that no member
  adapts get zero factors too, so peft and vLLM find a tensor for every module they wrap.
- Tensors are written in float32: folding a scale into ``B`` and rounding to bf16 would make
  the result differ from the stack.

``write_merged_stack`` then checks its own output: the stack run by hxpm's ``Session``
against the written folder loaded with plain ``PeftModel.from_pretrained``, float32 on the
CPU, on a few prompts. Beyond the tolerance it raises and the caller discards the folder.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hxpm.errors import InferenceError

from . import adapters as adapter_io
from .loader import load_model, load_tokenizer, quiet_transformers, verify_base
from .merge import layer_chain
from .refs import AdapterRef, BaseRef

CHECK_PROMPTS = (
    "Return a JSON object with the fields name and age.",
    "SELECT city, COUNT(*) FROM users GROUP BY city;",
    "The quick brown fox jumps over the lazy dog.",
)
# Logits are compared in float32: max |merged - stacked| must stay under this, times the
# largest |logit| when that is above 1 (rounding grows with the values being rounded).
DEFAULT_TOLERANCE = 1e-4
_PREFIX = "base_model.model."


@dataclass(frozen=True, slots=True)
class StackCheck:
    """How the merged adapter compared with the stacked run."""

    max_abs_diff: float
    allowed: float
    prompts: int
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_abs_diff": self.max_abs_diff,
            "allowed": self.allowed,
            "prompts": self.prompts,
            "tokens": self.tokens,
            "device": "cpu",
            "dtype": "float32",
        }


@dataclass(frozen=True, slots=True)
class MergedStack:
    folder: Path
    rank: int
    member_ranks: tuple[int, ...]  # each member's block width, in load order
    modules: int  # adapted module paths
    check: StackCheck


@dataclass(frozen=True, slots=True)
class _Factors:
    a: torch.Tensor  # [r, in]
    b: torch.Tensor  # [out, r], the member's scale folded in


def write_merged_stack(
    base: BaseRef,
    members: Sequence[AdapterRef],
    out: Path,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    prompts: Sequence[str] = CHECK_PROMPTS,
) -> MergedStack:
    """Write the one-LoRA equivalent of ``members`` stacked into ``out`` and check it.

    Raises:
        InferenceError: a member is not a plain LoRA on Linear layers, or the written
            adapter differs from the stacked run beyond the tolerance.
    """
    verify_base(base)
    ordered = sorted(members, key=lambda ref: ref.load_order)
    per_member, shapes = _read_factors(base, ordered)
    widths = tuple(max((f.a.shape[0] for f in found.values()), default=0) for found in per_member)
    state = _merged_state(per_member, widths, shapes)
    rank = sum(widths)
    out.mkdir(parents=True, exist_ok=True)
    _save(out, state, rank, sorted({p.rsplit(".", 1)[-1] for p in shapes}), base.name)
    check = check_merged(base, ordered, out, tolerance=tolerance, prompts=prompts)
    if check.max_abs_diff > check.allowed:
        raise InferenceError(
            f"the merged adapter differs from the stacked run by {check.max_abs_diff:.3g} "
            f"(allowed {check.allowed:.3g}); nothing was written",
            hint="Serve the experts with `hxpm run` instead, and report this as a bug.",
        )
    return MergedStack(out, rank, widths, len(shapes), check)


def _read_factors(
    base: BaseRef, members: Sequence[AdapterRef]
) -> tuple[list[dict[str, _Factors]], dict[str, tuple[int, int]]]:
    """Each member's ``{module path: factors}`` as peft sees them, and every module's shape."""
    model = load_model(base, torch.device("cpu"), torch.float32)
    modules = dict(model.named_modules())
    per_member: list[dict[str, _Factors]] = []
    leaf_names: set[str] = set()
    for i, ref in enumerate(members):
        files = adapter_io.read_adapter(ref, modules, base.name)
        if files.kind != "lora":
            raise InferenceError(
                f"cannot merge {ref.name}: it is a {_KIND[files.kind]} "
                "adapter, and only plain LoRA deltas add up into one LoRA",
                hint="Serve this stack with `hxpm run`.",
            )
        name = f"m{i}"
        adapter_io.attach(model, name, files)
        per_member.append(
            {path: _factors_at(model, path, name, ref.name) for path in sorted(files.modules)}
        )
        leaf_names |= {path.rsplit(".", 1)[-1] for path in files.modules}
    # Every Linear the members' target names reach, adapted by a member or not.
    shapes = {
        path: (m.in_features, m.out_features)
        for path, m in modules.items()
        if isinstance(m, nn.Linear) and path.rsplit(".", 1)[-1] in leaf_names
    }
    return per_member, shapes


_KIND = {"dora": "DoRA", "ia3": "IA3"}


def _factors_at(model: nn.Module, path: str, peft_name: str, expert: str) -> _Factors:
    from peft.tuners.lora.layer import Linear as LoraLinear

    chain, base_layer = layer_chain(model, path)
    layer: Any = next((c for c in chain if peft_name in getattr(c, "lora_A", {})), None)
    if type(base_layer) is not nn.Linear or type(layer) is not LoraLinear:
        raise InferenceError(
            f"cannot merge {expert}: {path} is not a Linear layer ({type(base_layer).__name__})",
            hint="Only LoRA on Linear layers can be merged into one LoRA.",
        )
    if layer.fan_in_fan_out or peft_name in layer.lora_variant:
        raise InferenceError(f"cannot merge {expert}: {path} uses a LoRA variant")
    lora: Any = layer  # peft's stubs type these ModuleDicts loosely
    a = lora.lora_A[peft_name].weight.detach().float()
    b = lora.lora_B[peft_name].weight.detach().float() * float(lora.scaling[peft_name])
    return _Factors(a.clone(), b.contiguous())


def _merged_state(
    per_member: Sequence[dict[str, _Factors]],
    widths: Sequence[int],
    shapes: dict[str, tuple[int, int]],
) -> dict[str, torch.Tensor]:
    rank = sum(widths)
    state: dict[str, torch.Tensor] = {}
    for path, (n_in, n_out) in sorted(shapes.items()):
        a = torch.zeros(rank, n_in)
        b = torch.zeros(n_out, rank)
        offset = 0
        for found, width in zip(per_member, widths, strict=True):
            f = found.get(path)
            if f is not None:
                r = f.a.shape[0]
                a[offset : offset + r] = f.a
                b[:, offset : offset + r] = f.b
            offset += width
        state[f"{_PREFIX}{path}.lora_A.weight"] = a
        state[f"{_PREFIX}{path}.lora_B.weight"] = b
    return state


def _save(
    out: Path, state: dict[str, torch.Tensor], rank: int, targets: list[str], base_name: str
) -> None:
    from peft import LoraConfig
    from safetensors.torch import save_file

    config = LoraConfig(
        r=rank,
        lora_alpha=rank,
        target_modules=targets,
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
        base_model_name_or_path=base_name,
    )
    config.inference_mode = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config.save_pretrained(str(out))
    save_file(state, str(out / adapter_io.WEIGHTS_FILE), metadata={"format": "pt"})


def check_merged(
    base: BaseRef,
    members: Sequence[AdapterRef],
    folder: Path,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    prompts: Sequence[str] = CHECK_PROMPTS,
) -> StackCheck:
    """Compare hxpm's stacked run of ``members`` with ``folder`` loaded by plain peft."""
    from .session import Session

    tokenizer = load_tokenizer(base)
    token_lists = [list(tokenizer(p)["input_ids"]) for p in prompts]
    with Session(base, device="cpu", merge="never") as session:
        session.use(list(members))
        stacked = [session.logits(ids) for ids in token_lists]
    merged = _peft_logits(base, folder, token_lists)
    diff = max(float((s - m).abs().max()) for s, m in zip(stacked, merged, strict=True))
    scale = max(float(s.abs().max()) for s in stacked)
    return StackCheck(
        diff, tolerance * max(1.0, scale), len(prompts), sum(len(ids) for ids in token_lists)
    )


def _peft_logits(
    base: BaseRef, folder: Path, token_lists: Sequence[list[int]]
) -> list[torch.Tensor]:
    """Logits of the base with ``folder`` loaded the way any peft user would load it."""
    from peft import PeftModel

    model = load_model(base, torch.device("cpu"), torch.float32)
    try:
        with quiet_transformers():
            peft_model = PeftModel.from_pretrained(model, str(folder))
    except Exception as e:  # noqa: BLE001 - peft raises many types; report, never trace
        first = (str(e).strip() or type(e).__name__).splitlines()[0]
        raise InferenceError(f"peft cannot load the merged adapter: {first}") from None
    peft_model.eval()
    with torch.inference_mode():
        return [
            peft_model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float()
            for ids in token_lists
        ]
