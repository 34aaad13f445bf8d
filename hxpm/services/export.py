"""`hxpm export vllm`: a `vllm serve` command line that vLLM accepts, checked first.

What goes in: the resolved set (the named experts and their requires; default every expert
installed for the base). Experts with no ``requires`` are served as they are, one
``--lora-modules`` value each. An expert that requires others is run by hxpm stacked on its
requires closure, while vLLM applies one LoRA per request: listing its own adapter would
serve a different computation. Such an expert is refused unless ``merge_stack`` is set;
then its closure is merged into one LoRA (hxpm.runtime.stack_export) that equals the stack,
checked numerically against hxpm's stacked run, and that folder is served under its name.

Everything is checked before anything is written: vLLM's adapter restrictions, the largest
rank (``rank_pattern`` included) against the ranks vLLM accepts, and the user's limits.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hxpm.core.adapter_config import (
    CONFIG_FILE,
    AdapterConfigError,
    load_adapter_config,
    max_rank,
)
from hxpm.core.versions import parse_requirement
from hxpm.core.vllm import (
    VLLM_LARGEST_RANK,
    LoraModule,
    check_max_lora_rank,
    serve_argv,
    shell_command,
    smallest_max_lora_rank,
    unprintable,
    uses_patterns,
    vllm_refusals,
)
from hxpm.errors import InferenceError, RuntimeMissingError, StoreError, UsageError
from hxpm.services.expertset import installed_set, registered_base
from hxpm.services.routing import route_candidates
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store

if TYPE_CHECKING:
    from hxpm.runtime.stack_export import MergedStack

SCHEMA = "hxpm.export.vllm/2"
_SEARCH_DEPTH = 3  # how deep an installed tree may hold its adapter folder


@dataclass(frozen=True, slots=True)
class ExportedModule:
    """One adapter vLLM will serve: an expert as it is, or a stack merged into one LoRA."""

    module: LoraModule
    version: str
    rank: int
    stack: tuple[str, ...]  # the experts it computes, in load order (one for a plain expert)
    check: dict[str, Any] | None = None  # merged stacks: how it compared with `hxpm run`

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.module.to_dict(),
            "version": self.version,
            "rank": self.rank,
            "merged_stack": list(self.stack) if len(self.stack) > 1 else None,
            "check": self.check,
        }


@dataclass(frozen=True, slots=True)
class Skipped:
    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class VllmExport:
    base: BaseModel
    modules: tuple[ExportedModule, ...]
    max_lora_rank: int
    max_loras: int
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def max_rank(self) -> int:
        return max((m.rank for m in self.modules), default=0)

    @property
    def argv(self) -> list[str]:
        return serve_argv(
            str(self.base.path),
            self.base.name,
            [m.module for m in self.modules],
            max_lora_rank=self.max_lora_rank,
            max_loras=self.max_loras,
        )

    @property
    def command(self) -> str:
        return shell_command(self.argv)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "base_model": {"name": self.base.name, "path": str(self.base.path)},
            "modules": [m.to_dict() for m in self.modules],
            "lora_modules": [m.module.argument() for m in self.modules],
            "max_rank": self.max_rank,
            "max_lora_rank": self.max_lora_rank,
            "max_loras": self.max_loras,
            "skipped": [s.to_dict() for s in self.skipped],
            "notes": list(self.notes),
            "argv": self.argv,
            "command": self.command,
        }


@dataclass(frozen=True)
class _Planned:
    """An expert to export, before any merge: its adapter folder, config and stack."""

    expert: InstalledExpert
    folder: Path
    config: dict[str, Any]
    stack: tuple[InstalledExpert, ...]  # (expert,) when it requires nothing

    @property
    def rank(self) -> int:
        # A merged stack has one block per member, each as wide as that member's largest rank.
        return (
            sum(max_rank(_config_of(e)) for e in self.stack)
            if len(self.stack) > 1
            else max_rank(self.config)
        )


def export_vllm(
    store: Store,
    names: Sequence[str],
    *,
    base: str | None = None,
    max_lora_rank: int | None = None,
    max_loras: int | None = None,
    merge_stack: bool = False,
    out_dir: Path | None = None,
) -> VllmExport:
    """Check the set against vLLM's rules and the limits, merge stacks if asked, describe it.

    Raises:
        UsageError: a named expert cannot be served (the message says why and what to do),
            nothing is left to export, or the limits do not fit.
        RuntimeMissingError: ``merge_stack`` is needed but torch/peft are not installed.
        InferenceError: an installed adapter is unreadable, or a merge failed its check.
    """
    base_model = registered_base(store, base)
    wanted = list(names) or [c.name for c in route_candidates(store, base_model.name)]
    if not wanted:
        raise UsageError(f"no experts are installed for {base_model.name}")
    es = installed_set(store, wanted, base=base_model.name)
    planned, skipped, blocking = _plan(
        es.experts, set(es.requested) if names else set(), merge_stack
    )
    if blocking:
        raise UsageError(
            "vLLM cannot serve " + "; ".join(f"{s.name}: {s.reason}" for s in blocking),
            hint=_hint(blocking, merge_stack),
        )
    if not planned:
        raise UsageError(
            f"none of the experts installed for {base_model.name} can be served "
            "by vLLM as they are: " + "; ".join(f"{s.name}: {s.reason}" for s in skipped),
            hint=_hint(skipped, merge_stack),
        )
    rank_limit, loras = _limits(planned, max_lora_rank, max_loras)
    _check_printable(base_model, planned, out_dir)
    modules = tuple(_export(store, base_model, p, out_dir) for p in planned)
    if max_lora_rank is None:  # merged ranks are known now (never above the preflight's)
        rank_limit = smallest_max_lora_rank(max(m.rank for m in modules)) or rank_limit
    notes = _notes(planned, loras)
    return VllmExport(base_model, modules, rank_limit, loras, tuple(skipped), notes)


def _plan(
    experts: Sequence[InstalledExpert], named: set[str], merge_stack: bool
) -> tuple[list[_Planned], list[Skipped], list[Skipped]]:
    """What to export, what to skip (with why), and the skips that must stop the export."""
    planned: list[_Planned] = []
    skipped: list[Skipped] = []
    blocking: list[Skipped] = []
    needed = {x.name for e in experts if e.name in named for x in _closure(e, experts)}
    for expert in experts:
        stack = _closure(expert, experts)
        reason = _why_not(expert, stack, merge_stack)
        if reason is None:
            planned.append(_Planned(expert, _adapter_folder(expert), _config_of(expert), stack))
            continue
        skip = Skipped(expert.name, reason)
        skipped.append(skip)
        if expert.name in needed:  # named, or needed by a named one: never dropped silently
            blocking.append(skip)
    return planned, skipped, blocking


def _why_not(
    expert: InstalledExpert, stack: Sequence[InstalledExpert], merge_stack: bool
) -> str | None:
    refusals = vllm_refusals(_config_of(expert))
    if refusals:
        return "; ".join(refusals)
    if len(stack) == 1:
        return None
    members = [e for e in stack if e is not expert]
    below = ", ".join(e.name for e in members)
    if not merge_stack:
        return (
            f"needs --merge-stack: hxpm runs it stacked on {below}, but vLLM applies one "
            "LoRA per request, so its own adapter alone is a different computation"
        )
    bad = [f"{e.name} ({'; '.join(r)})" for e in members if (r := vllm_refusals(_config_of(e)))]
    if bad:
        return f"cannot merge its stack: {', '.join(bad)}"
    return None


def _hint(skips: Sequence[Skipped], merge_stack: bool) -> str:
    if not merge_stack and any(s.reason.startswith("needs --merge-stack") for s in skips):
        return (
            "Add --merge-stack to write one LoRA equal to each stack (checked against "
            "`hxpm run`), or export only experts that require nothing."
        )
    return "Serve these experts with `hxpm run`, or export the others only."


def _closure(
    expert: InstalledExpert, experts: Sequence[InstalledExpert]
) -> tuple[InstalledExpert, ...]:
    """``expert`` and everything it requires (transitively), in the set's load order."""
    by_name = {e.name: e for e in experts}
    seen = {expert.name}
    todo = [expert]
    while todo:
        for spec in _requires(todo.pop()):
            name = parse_requirement(spec, field="requires").name
            found = by_name.get(name) or by_name.get(f"expert-{name}")
            if found is not None and found.name not in seen:
                seen.add(found.name)
                todo.append(found)
    return tuple(e for e in experts if e.name in seen)


def _requires(expert: InstalledExpert) -> list[str]:
    constraints = expert.manifest.get("constraints")
    requires = constraints.get("requires") if isinstance(constraints, dict) else None
    return [r for r in requires or [] if isinstance(r, str)]


def _adapter_folder(expert: InstalledExpert) -> Path:
    """The folder holding adapter_config.json: the tree's root or its one sub-folder."""
    root = Path(expert.path)
    if (root / CONFIG_FILE).is_file():
        return root
    found = sorted(
        {
            p.parent
            for depth in range(1, _SEARCH_DEPTH + 1)
            for p in root.glob("/".join(["*"] * depth) + "/" + CONFIG_FILE)
        }
    )
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} (ambiguous)"
        raise InferenceError(
            f"{expert.name}: {what} {CONFIG_FILE} under {root}",
            hint=f"Reinstall it: hxpm install --force {expert.name}",
        )
    return found[0]


def _config_of(expert: InstalledExpert) -> dict[str, Any]:
    path = _adapter_folder(expert) / CONFIG_FILE
    try:
        return load_adapter_config(path)
    except (OSError, AdapterConfigError) as e:
        raise InferenceError(
            f"{expert.name}: cannot read {path}: {e}",
            hint=f"Reinstall it: hxpm install --force {expert.name}",
        ) from None


def _limits(
    planned: Sequence[_Planned], max_lora_rank: int | None, max_loras: int | None
) -> tuple[int, int]:
    """``--max-lora-rank`` and ``--max-loras`` for the command line, checked."""
    ranks = {p.expert.name: p.rank for p in planned}
    largest = max(ranks.values())
    if max_lora_rank is not None:
        wrong = check_max_lora_rank(max_lora_rank)
        if wrong:
            raise UsageError(
                wrong, hint="Leave --max-lora-rank out to get the smallest value that fits."
            )
    limit = max_lora_rank or smallest_max_lora_rank(largest) or 0
    over = [f"{name} has rank {rank}" for name, rank in ranks.items() if rank > limit]
    if over:
        what = (
            f"--max-lora-rank {max_lora_rank}"
            if max_lora_rank
            else f"the largest rank vLLM accepts ({VLLM_LARGEST_RANK})"
        )
        raise UsageError(
            f"{'; '.join(over)}, over {what} (rank_pattern included)",
            hint="Raise --max-lora-rank, or export fewer experts."
            if max_lora_rank
            else "Serve these experts with `hxpm run`.",
        )
    return limit, max_loras or len(planned)


def _check_printable(base: BaseModel, planned: Sequence[_Planned], out_dir: Path | None) -> None:
    words = [
        base.name,
        str(base.path),
        str(out_dir or ""),
        *(p.expert.name for p in planned),
        *(str(p.folder) for p in planned),
    ]
    bad = [w for w in words if unprintable(w)]
    if bad:
        raise UsageError(
            f"{len(bad)} name(s) or path(s) contain control characters, which a "
            "pasted command would carry to the terminal",
            hint="Register the base and the store under plain paths.",
        )


def _notes(planned: Sequence[_Planned], loras: int) -> tuple[str, ...]:
    notes = []
    if loras < len(planned):
        notes.append(
            f"--max-loras {loras} < {len(planned)} modules: vLLM keeps at most "
            f"{loras} adapter(s) per batch and swaps the others in"
        )
    patterned = [p.expert.name for p in planned if len(p.stack) == 1 and uses_patterns(p.config)]
    if patterned:
        notes.append(
            f"rank_pattern/alpha_pattern in {', '.join(patterned)}: serve with a vLLM "
            "release that reads them (older ones scale every module by lora_alpha/r)"
        )
    return tuple(notes)


def _export(store: Store, base: BaseModel, p: _Planned, out_dir: Path | None) -> ExportedModule:
    if len(p.stack) == 1:
        return ExportedModule(
            LoraModule(p.expert.name, str(p.folder), base.name),
            p.expert.version,
            p.rank,
            (p.expert.name,),
        )
    root = out_dir or store.paths.root / "exports" / "vllm"
    target = root / _stack_folder_name(p.expert, p.stack)
    merged = _merge(base, p.stack, target)
    return ExportedModule(
        LoraModule(p.expert.name, str(target), base.name),
        p.expert.version,
        merged.rank,
        tuple(e.name for e in p.stack),
        merged.check.to_dict(),
    )


def _stack_folder_name(top: InstalledExpert, stack: Sequence[InstalledExpert]) -> str:
    """Deterministic: the same installed stack exports to the same folder."""
    key = hashlib.sha256(
        "\n".join(f"{e.name}@{e.version}:{e.tree_sha256}" for e in stack).encode()
    ).hexdigest()[:12]
    return f"{top.name}-{top.version}-stack-{key}"


def _merge(base: BaseModel, stack: Sequence[InstalledExpert], target: Path) -> MergedStack:
    """Merge into a staging folder next to ``target``, then swap it in (never half-written)."""
    try:
        from hxpm.runtime.refs import BaseRef
        from hxpm.runtime.stack_export import write_merged_stack
    except ImportError as e:
        raise RuntimeMissingError(
            f"--merge-stack needs the hxpm runtime ({e.name} is not installed)"
        ) from None
    from hxpm.services.run import adapter_refs

    staging: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
        merged = write_merged_stack(
            BaseRef(base.name, base.path, base.sha256), adapter_refs(stack), staging
        )
        _replace(staging, target)
    except OSError as e:
        raise StoreError(
            f"cannot write the merged adapter under {target.parent}: {e.strerror or e}",
            hint="Choose another folder with -o DIR.",
        ) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return merged


def _replace(staging: Path, target: Path) -> None:
    old = target.with_name(f".old-{target.name}-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
