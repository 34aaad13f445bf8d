"""`hxpm export vllm`: hand a resolved set to vLLM as `--lora-modules` JSON, checked first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hxpm.errors import InferenceError, UsageError
from hxpm.services.expertset import ExpertSet, installed_set, registered_base
from hxpm.services.routing import route_candidates
from hxpm.store.store import Store

# vLLM serves LoRA adapters; DoRA and IA³ are other maths it does not run.
VLLM_ADAPTER_TYPES = ("LORA",)
MAX_ADAPTER_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class VllmModule:
    name: str
    path: str
    base_model_name: str
    rank: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "base_model_name": self.base_model_name}


@dataclass(frozen=True)
class VllmExport:
    expert_set: ExpertSet
    modules: tuple[VllmModule, ...]

    @property
    def max_rank(self) -> int:
        return max((m.rank for m in self.modules), default=0)


def export_vllm(store: Store, names: Sequence[str], *, base: str | None = None,
                max_lora_rank: int | None = None, max_loras: int | None = None) -> VllmExport:
    """The named experts and their requires (default: every installed expert for the base)."""
    base_model = registered_base(store, base)
    wanted = list(names) or [c.name for c in route_candidates(store, base_model.name)]
    if not wanted:
        raise UsageError(f"no experts are installed for {base_model.name}")
    es = installed_set(store, wanted, base=base_model.name)
    modules = tuple(_module(e.name, e.path, base_model.name) for e in es.experts)
    problems = []
    if max_loras is not None and len(modules) > max_loras:
        problems.append(f"{len(modules)} adapters ({', '.join(m.name for m in modules)}) "
                        f"exceed --max-loras {max_loras}")
    if max_lora_rank is not None:
        problems += [f"{m.name} has rank {m.rank} > --max-lora-rank {max_lora_rank}"
                     for m in modules if m.rank > max_lora_rank]
    if problems:
        raise UsageError("this set does not fit vLLM's limits: " + "; ".join(problems),
                         hint="Raise the limits on the vLLM side, or export fewer experts.")
    return VllmExport(es, modules)


def _module(name: str, path: Any, base_name: str) -> VllmModule:
    config_path = path / "adapter_config.json"
    try:
        config = json.loads(config_path.read_bytes()[:MAX_ADAPTER_CONFIG_BYTES])
    except (OSError, ValueError) as e:
        raise InferenceError(f"{name}: cannot read {config_path}: {e}") from None
    kind = str(config.get("peft_type", "")).upper()
    if kind not in VLLM_ADAPTER_TYPES or config.get("use_dora"):
        what = "DoRA" if config.get("use_dora") else (kind or "unknown")
        raise UsageError(f"{name} is a {what} adapter; vLLM serves LoRA adapters only",
                         hint="Run it with `hxpm run`, or export only LoRA experts.")
    rank = config.get("r")
    if not isinstance(rank, int) or rank < 1:
        raise InferenceError(f"{name}: adapter_config.json has no valid rank 'r'")
    return VllmModule(name, str(path), base_name, rank)
