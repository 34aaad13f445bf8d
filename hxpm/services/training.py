"""`hxpm train`: read the recipe, resolve the base and the requires closure, then hand the
training to the runtime (`hxpm eval` is ``hxpm.services.evaluation``).

Everything that can be refused without a model is refused here first (the recipe, the
dataset lines, the base variant, the closure), so that a bad recipe fails in milliseconds.
No torch at import time: the runtime (``hxpm.runtime``) is imported inside the functions,
and its absence is a :class:`RuntimeMissingError` that says how to install it.

A dependent expert trains on top of its ``requires`` closure, resolved over *installed*
experts exactly as ``hxpm run`` resolves it: the closure is frozen and active beneath the
new adapter, composed as the runtime will run the set (see ``hxpm.runtime.train``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from hxpm.core.manifest import Manifest
from hxpm.core.manifest_values import BaseVariant
from hxpm.errors import UsageError
from hxpm.services.expertset import registered_base
from hxpm.services.training_data import read_training_set
from hxpm.services.training_inputs import (
    MANIFEST,
    requires_closure,
    runtime_module,
    variant_for_base,
    weights_dir,
)
from hxpm.services.training_manifest import declare_soft_prompt
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store

CHECKPOINTS = "checkpoints"  # in the expert directory, one folder per base variant


@dataclass(frozen=True)
class TrainRequest:
    expert_dir: Path
    base: str | None = None  # a registered base name; None: the default base
    seed: int = 0
    epochs: float | None = None  # overrides training.config.epochs
    device: str = "auto"
    max_steps: int | None = None  # exactly this many optimizer steps (overrides epochs)
    threads: int | None = None  # CPU threads; None: the CPUs this process may use
    resume: bool = False  # continue from the newest checkpoint (checkpoints/<base-slug>/)
    method: str | None = None  # "sft" or "dpo"; None: training.config.method
    from_scratch: bool = False  # DPO: a fresh adapter, not the expert's trained (SFT) one


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path
    steps: int
    first_loss: float
    last_loss: float  # mean of the last min(10, steps) steps
    seconds: float  # the whole run: load, train, save
    requires: tuple[str, ...]  # the frozen closure, "name@version" in load order
    base_model: str
    name: str = ""
    version: str = ""
    examples: int = 0
    truncated: int = 0  # examples whose completion was cut at max_length
    skipped: int = 0  # examples whose prompt alone filled max_length
    train_seconds: float = 0.0  # the optimisation loop alone
    mode: str = ""  # "merged" (closure in the base weights) or "stacked" (peft layers)
    device: str = ""
    warnings: tuple[str, ...] = ()
    first_step: int = 1  # > 1: resumed from the checkpoint of step first_step - 1
    eval_loss: float | None = None  # the last validation loss (validation_path)
    checkpoints: Path | None = None
    method: str = "sft"
    preference: tuple[float, float] | None = None  # DPO: held-out pairs won, before/after
    started_from: Path | None = None  # DPO: the trained adapter it continued from
    soft_prompt: Path | None = None  # adapter_type prompt: the trained soft prompt file

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "hxpm.train/1",
            "name": self.name,
            "version": self.version,
            "base_model": self.base_model,
            "output_dir": str(self.output_dir),
            "requires": list(self.requires),
            "steps": self.steps,
            "first_loss": round(self.first_loss, 6),
            "last_loss": round(self.last_loss, 6),
            "examples": self.examples,
            "truncated": self.truncated,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "train_seconds": round(self.train_seconds, 3),
            "mode": self.mode,
            "device": self.device,
            "warnings": list(self.warnings),
            "first_step": self.first_step,
            "eval_loss": None if self.eval_loss is None else round(self.eval_loss, 6),
            "checkpoints": str(self.checkpoints) if self.checkpoints else None,
            "method": self.method,
            "preference": None
            if self.preference is None
            else {"before": self.preference[0], "after": self.preference[1]},
            "started_from": str(self.started_from) if self.started_from else None,
            "soft_prompt": str(self.soft_prompt) if self.soft_prompt else None,
        }


def train_expert(
    store: Store, request: TrainRequest, *, on_step: Callable[[int, int, float], None] | None = None
) -> TrainResult:
    """Train the expert in ``request.expert_dir`` from its manifest's recipe.

    Raises:
        UsageError: bad request values, or a malformed dataset line.
        ManifestError: no or an invalid recipe (the error names each bad field).
        NotFoundError: no manifest, no dataset file, no registered base, or a required
            expert that is not installed.
        BaseMismatchError: the manifest has no variant for the base, or one built for
            another digest of it.
        ResolutionError: the requires closure cannot be resolved over installed experts.
        RuntimeMissingError: torch, transformers or peft is not installed.
    """
    _check_train_request(request)
    recipe_mod = runtime_module("recipe")
    expert_dir = request.expert_dir.expanduser().resolve()
    manifest = Manifest.load(expert_dir / MANIFEST)
    base = registered_base(store, request.base)
    variant = variant_for_base(manifest, base)
    recipe = recipe_mod.parse_recipe(
        manifest.raw,
        variant_adapter=variant.adapters[0] if variant.adapters else None,
        source=str(expert_dir / MANIFEST),
    )
    method = request.method or recipe.config.method
    _check_method(method, recipe.config.adapter_type)
    data = read_training_set(expert_dir, recipe.dataset, method)
    closure = requires_closure(store, manifest, base)
    train_mod = runtime_module("train")
    given = _JobInputs(request, expert_dir, manifest, variant, base, closure)
    job = _train_job(train_mod, given, recipe.config_for(method), data, method)
    out = train_mod.train(job, on_step=on_step)
    if out.soft_prompt is not None:
        declare_soft_prompt(
            expert_dir / MANIFEST, out.soft_prompt.stem, job.config.num_virtual_tokens
        )
    warnings = (*recipe.warnings, *out.warnings)
    return _train_result(out, job, given, method, warnings)


def _check_train_request(request: TrainRequest) -> None:
    problems = []
    if isinstance(request.seed, bool) or not isinstance(request.seed, int) or request.seed < 0:
        problems.append(f"--seed: expected an integer >= 0, got {request.seed!r}")
    if request.epochs is not None and not request.epochs > 0:
        problems.append(f"--epochs: expected a number > 0, got {request.epochs!r}")
    if request.max_steps is not None and request.max_steps < 1:
        problems.append(f"--max-steps: expected an integer >= 1, got {request.max_steps!r}")
    if request.method is not None and request.method not in ("sft", "dpo"):
        problems.append(f"--method: expected sft or dpo, got {request.method!r}")
    if request.threads is not None and request.threads < 1:
        problems.append(f"--threads: expected an integer >= 1, got {request.threads!r}")
    if problems:
        raise UsageError("; ".join(problems))


def _check_method(method: str, adapter_type: str) -> None:
    if method == "dpo" and adapter_type == "prompt":
        raise UsageError(
            "method dpo cannot train a soft prompt (adapter_type prompt) in this version",
            hint="Train the soft prompt with method sft.",
        )


def _start_adapter(output_dir: Path, method: str, from_scratch: bool) -> Path | None:
    """The trained adapter DPO continues from; None: train a fresh adapter."""
    start = output_dir if method == "dpo" and not from_scratch else None
    if start is not None and not (output_dir / "adapter_model.safetensors").is_file():
        start = None  # nothing trained yet: DPO from a fresh adapter
    return start


@dataclass(frozen=True)
class _JobInputs:
    """What the request, the store and the expert directory give one training run."""

    request: TrainRequest
    expert_dir: Path
    manifest: Manifest
    variant: BaseVariant
    base: BaseModel
    closure: tuple[InstalledExpert, ...]


def _train_job(
    train_mod: ModuleType, given: _JobInputs, config: Any, data: Any, method: str
) -> Any:
    """The runtime's ``TrainJob`` for this run (typed ``Any``: the runtime loads lazily)."""
    from hxpm.runtime.refs import BaseRef
    from hxpm.services.run import adapter_refs

    request, manifest, variant, base = given.request, given.manifest, given.variant, given.base
    output_dir = weights_dir(given.expert_dir, manifest, variant)
    return train_mod.TrainJob(
        base=BaseRef(base.name, base.path, base.sha256),
        config=config,
        examples=data.train,
        output_dir=output_dir,
        name=manifest.name,
        load_order=manifest.load_order,
        prompt_template=variant.prompt_template,
        requires=tuple(adapter_refs(given.closure)),
        seed=request.seed,
        epochs=request.epochs,
        max_steps=request.max_steps,
        device=request.device,
        threads=request.threads,
        validation=data.validation,
        checkpoint_dir=given.expert_dir / CHECKPOINTS / variant.slug,
        resume=request.resume,
        init_adapter=_start_adapter(output_dir, method, request.from_scratch),
    )


def _train_result(
    out: Any, job: Any, given: _JobInputs, method: str, warnings: tuple[str, ...]
) -> TrainResult:
    manifest = given.manifest
    return TrainResult(
        out.output_dir,
        out.steps,
        out.first_loss,
        out.last_loss,
        out.seconds,
        tuple(f"{e.name}@{e.version}" for e in given.closure),
        given.base.name,
        manifest.name,
        str(manifest.version),
        out.examples,
        out.truncated,
        out.skipped,
        out.train_seconds,
        out.mode,
        out.device,
        warnings,
        out.first_step,
        out.eval_loss,
        job.checkpoint_dir,
        method,
        out.preference,
        job.init_adapter,
        out.soft_prompt,
    )
