"""`hxpm train` and `hxpm eval`: read the recipe, resolve the base and the requires closure,
then hand the work to the runtime.

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
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from hxpm.core.digest import digests_equal, sha256_file
from hxpm.core.manifest import BaseVariant, Manifest
from hxpm.errors import BaseMismatchError, NotFoundError, RuntimeMissingError, UsageError
from hxpm.package.build import WEIGHTS_DIR
from hxpm.services.expertset import installed_set, registered_base
from hxpm.services.quality import quality_record, relative_dataset, write_quality
from hxpm.services.training_data import read_training_set
from hxpm.services.training_manifest import declare_soft_prompt
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store

if TYPE_CHECKING:
    from hxpm.runtime.refs import AdapterRef

MANIFEST = "manifest.json"
CHECKPOINTS = "checkpoints"  # in the expert directory, one folder per base variant
EXAMPLES_SHOWN = 5


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


@dataclass(frozen=True)
class EvalRequest:
    expert_dir: Path | None  # an expert directory (trained with `hxpm train`), or None with
    dataset: Path | None  # a JSONL file; None: the recipe's training.dataset.heldout
    base: str | None = None
    installed: str | None = None  # evaluate an INSTALLED expert by name instead
    device: str = "auto"
    limit: int | None = None  # the first N items only
    metric: str | None = None  # overrides evaluation.metric (not regex: it needs a pattern)
    write: bool = False  # store the scores in the manifest's quality_metrics


@dataclass(frozen=True)
class EvalResult:
    metric: str
    n: int
    base_score: float
    expert_score: float
    experts: tuple[str, ...]  # the set of the expert pass, load order
    examples: tuple[dict[str, str], ...]  # a few {prompt, expected, base_output, expert_output}
    base_model: str = ""
    name: str = ""
    version: str = ""
    dataset: str = ""
    seconds: float = 0.0
    base_correct: tuple[float, ...] = field(default=(), repr=False)
    expert_correct: tuple[float, ...] = field(default=(), repr=False)
    written: dict[str, Any] | None = None  # the quality_metrics stored (--write)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "hxpm.eval/1",
            "name": self.name,
            "version": self.version,
            "base_model": self.base_model,
            "dataset": self.dataset,
            "metric": self.metric,
            "n": self.n,
            "base_score": round(self.base_score, 6),
            "expert_score": round(self.expert_score, 6),
            "experts": list(self.experts),
            "examples": list(self.examples),
            "seconds": round(self.seconds, 3),
            "written": self.written,
        }


# --- training ------------------------------------------------------------------------------


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
    recipe_mod = _runtime("recipe")
    expert_dir = request.expert_dir.expanduser().resolve()
    manifest = Manifest.load(expert_dir / MANIFEST)
    base = registered_base(store, request.base)
    variant = _variant(manifest, base)
    recipe = recipe_mod.parse_recipe(
        manifest.raw,
        variant_adapter=variant.adapters[0] if variant.adapters else None,
        source=str(expert_dir / MANIFEST),
    )
    method = request.method or recipe.config.method
    if method == "dpo" and recipe.config.adapter_type == "prompt":
        raise UsageError(
            "method dpo cannot train a soft prompt (adapter_type prompt) in this version",
            hint="Train the soft prompt with method sft.",
        )
    data = read_training_set(expert_dir, recipe.dataset, method)
    closure = _closure(store, manifest, base)
    train_mod = _runtime("train")
    from hxpm.runtime.refs import BaseRef
    from hxpm.services.run import adapter_refs

    output_dir = weights_dir(expert_dir, manifest, variant)
    start = output_dir if method == "dpo" and not request.from_scratch else None
    if start is not None and not (output_dir / "adapter_model.safetensors").is_file():
        start = None  # nothing trained yet: DPO from a fresh adapter
    job = train_mod.TrainJob(
        base=BaseRef(base.name, base.path, base.sha256),
        config=recipe.config_for(method),
        examples=data.train,
        output_dir=output_dir,
        name=manifest.name,
        load_order=manifest.load_order,
        prompt_template=variant.prompt_template,
        requires=tuple(adapter_refs(closure)),
        seed=request.seed,
        epochs=request.epochs,
        max_steps=request.max_steps,
        device=request.device,
        threads=request.threads,
        validation=data.validation,
        checkpoint_dir=expert_dir / CHECKPOINTS / variant.slug,
        resume=request.resume,
        init_adapter=start,
    )
    out = train_mod.train(job, on_step=on_step)
    if out.soft_prompt is not None:
        declare_soft_prompt(
            expert_dir / MANIFEST, out.soft_prompt.stem, job.config.num_virtual_tokens
        )
    return TrainResult(
        out.output_dir,
        out.steps,
        out.first_loss,
        out.last_loss,
        out.seconds,
        tuple(f"{e.name}@{e.version}" for e in closure),
        base.name,
        manifest.name,
        str(manifest.version),
        out.examples,
        out.truncated,
        out.skipped,
        out.train_seconds,
        out.mode,
        out.device,
        (*recipe.warnings, *out.warnings),
        out.first_step,
        out.eval_loss,
        job.checkpoint_dir,
        method,
        out.preference,
        start,
        out.soft_prompt,
    )


def weights_dir(expert_dir: Path, manifest: Manifest, variant: BaseVariant) -> Path:
    """Where a variant's adapter files go: ``weights/<base-slug>/`` when the manifest has
    several variants (or that folder exists already: packaging prefers it), else the root."""
    folder = expert_dir / WEIGHTS_DIR / variant.slug
    return folder if len(manifest.variants) > 1 or folder.is_dir() else expert_dir


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


def _variant(manifest: Manifest, base: BaseModel) -> BaseVariant:
    """The manifest's variant for ``base``, built for its registered digest ("" accepted)."""
    try:
        variant = manifest.variant_for(base.name)
    except NotFoundError as e:
        raise BaseMismatchError(
            e.message,
            hint=f"Add a base_models entry for {base.name} "
            "(sha256: the digest `hxpm base list` shows), or use --base.",
            details={"expert": manifest.name, "base": base.name},
        ) from None
    if variant.sha256 and not digests_equal(variant.sha256.lower(), base.sha256.lower()):
        raise BaseMismatchError(
            f"{manifest.name}: its variant for {base.name} was built for base digest "
            f"{variant.sha256[:12]}…, but the registered {base.name} is {base.sha256[:12]}…",
            hint="Set the variant's sha256 to the registered digest (hxpm base list), or "
            "register the base it names.",
            details={"expert": manifest.name, "expected": variant.sha256, "base": base.sha256},
        )
    return variant


def _closure(store: Store, manifest: Manifest, base: BaseModel) -> tuple[InstalledExpert, ...]:
    """The installed experts the manifest requires (transitively), in load order."""
    specs = (manifest.raw.get("constraints") or {}).get("requires") or []
    if not specs:
        return ()
    found = installed_set(store, [str(s) for s in specs], base=base.name).experts
    if any(e.name == manifest.name for e in found):
        raise UsageError(
            f"{manifest.name} requires itself (through its requires closure)",
            hint="Remove the cycle from constraints.requires.",
        )
    return found


# --- evaluation ----------------------------------------------------------------------------


def evaluate_expert(
    store: Store, request: EvalRequest, *, on_item: Callable[[int, int], None] | None = None
) -> EvalResult:
    """Score the bare base and base + closure + expert on a held-out set.

    ``on_item(done, total)`` is called after each generation (``total`` = 2 × items).

    Raises:
        UsageError: neither or both of a directory and ``installed``, no dataset, a
            malformed dataset line, or an expected answer the metric cannot use.
        ManifestError: an invalid ``evaluation`` or ``training.decoding`` section.
        NotFoundError: an untrained directory, an expert or base that is not there.
        BaseMismatchError, ResolutionError, RuntimeMissingError: as for training.
    """
    if (request.expert_dir is None) == (request.installed is None):
        raise UsageError(
            "evaluate either an expert directory or an installed expert "
            "(--installed NAME), not both or neither"
        )
    if request.limit is not None and request.limit < 1:
        raise UsageError(f"--limit: expected an integer >= 1, got {request.limit!r}")
    if request.write and request.expert_dir is None:
        raise UsageError(
            "--write stores scores in an expert directory's manifest, not in an installed expert"
        )
    recipe_mod = _runtime("recipe")
    if request.installed is not None:
        target = _installed_target(store, request.installed, request.base)
    else:
        assert request.expert_dir is not None
        target = _dir_target(store, request.expert_dir, request.base)
    metric = _metric(recipe_mod, target, request.metric)
    decoding = recipe_mod.decoding_of(target.manifest)
    dataset = request.dataset or _heldout(recipe_mod, target)
    relative = ""
    if request.write and target.expert_dir is not None:
        if request.limit is not None:
            raise UsageError("--write records scores of the whole held-out set; drop --limit")
        relative = relative_dataset(target.expert_dir, Path(dataset))
    examples = recipe_mod.read_examples(Path(dataset).expanduser(), limit=request.limit)
    _check_expected(metric.name, examples, dataset)
    evaluate_mod = _runtime("evaluate")
    from hxpm.runtime.refs import GenerationConfig
    from hxpm.services.run import open_session

    config = GenerationConfig(max_new_tokens=decoding.max_new_tokens, stop=decoding.stop)
    session = open_session(target.base, device=request.device, max_loaded=max(8, len(target.refs)))
    try:
        out = evaluate_mod.evaluate(session, target.refs, examples, config, metric, on_item=on_item)
    finally:
        session.close()
    shown = tuple(
        {"prompt": ex.prompt, "expected": ex.completion, "base_output": b, "expert_output": x}
        for ex, b, x in list(zip(examples, out.base_outputs, out.expert_outputs, strict=False))[
            :EXAMPLES_SHOWN
        ]
    )
    written = None
    if request.write and target.expert_dir is not None:
        written = quality_record(
            metric.name,
            out.base_score,
            out.expert_score,
            out.n,
            relative,
            sha256_file(Path(dataset).expanduser()),
        )
        write_quality(target.expert_dir / MANIFEST, written)
    return EvalResult(
        metric.name,
        out.n,
        out.base_score,
        out.expert_score,
        out.experts,
        shown,
        target.base.name,
        target.name,
        target.version,
        str(dataset),
        out.seconds,
        out.base_correct,
        out.expert_correct,
        written,
    )


def _metric(recipe_mod: ModuleType, target: _Target, name: str | None) -> Any:
    spec = recipe_mod.parse_evaluation(target.manifest, source=target.source)
    if name is None or name == spec.name:
        return spec
    from hxpm.runtime.metrics import METRICS

    if name not in METRICS or name == "regex":
        allowed = ", ".join(m for m in METRICS if m != "regex")
        raise UsageError(
            f"--metric {name[:40]!r}: expected one of {allowed}",
            hint='regex needs a pattern: set evaluation.metric "regex" and evaluation.pattern.',
        )
    return recipe_mod.MetricSpec(name)


@dataclass(frozen=True)
class _Target:
    name: str
    version: str
    base: BaseModel
    manifest: dict[str, Any]
    refs: tuple[AdapterRef, ...]  # closure + the expert
    source: str
    expert_dir: Path | None = None


def _installed_target(store: Store, spec: str, base: str | None) -> _Target:
    from hxpm.services.run import adapter_refs

    chosen = installed_set(store, [spec], base=base)
    main = next(e for e in reversed(chosen.experts) if e.name == chosen.requested[0])
    return _Target(
        main.name,
        main.version,
        chosen.base,
        main.manifest,
        tuple(adapter_refs(chosen.experts)),
        f"{main.name}@{main.version} {MANIFEST}",
    )


def _dir_target(store: Store, expert_dir: Path, base_name: str | None) -> _Target:
    from hxpm.runtime.refs import AdapterRef
    from hxpm.services.run import adapter_refs

    expert_dir = expert_dir.expanduser().resolve()
    manifest = Manifest.load(expert_dir / MANIFEST)
    base = registered_base(store, base_name)
    variant = _variant(manifest, base)
    folder = weights_dir(expert_dir, manifest, variant)
    if not (folder / "adapter_config.json").is_file():
        raise NotFoundError(
            f"{folder} holds no trained adapter (adapter_config.json)",
            hint=f"Train it first: hxpm train {expert_dir}",
        )
    closure = _closure(store, manifest, base)
    me = AdapterRef(
        manifest.name,
        str(manifest.version),
        folder,
        manifest.load_order,
        variant.sha256,
        variant.prompt_template,
        soft_prompts=_declared_soft_prompts(folder, manifest.raw),
    )
    return _Target(
        manifest.name,
        str(manifest.version),
        base,
        manifest.raw,
        (*adapter_refs(closure), me),
        str(expert_dir / MANIFEST),
        expert_dir,
    )


def _declared_soft_prompts(folder: Path, manifest: dict[str, Any]) -> tuple[Path, ...]:
    """The manifest's soft prompt files in the weights folder (as a package will hold them)."""
    from hxpm.package.soft_prompt_check import declared_soft_prompts

    return tuple(folder / path for path, _tokens in declared_soft_prompts(manifest))


def _heldout(recipe_mod: ModuleType, target: _Target) -> Path:
    """``training.dataset.heldout``, else ``test_path`` (the older ecosystem's test split)."""
    training = target.manifest.get("training")
    dataset = training.get("dataset") if isinstance(training, dict) else None
    spec = dataset if isinstance(dataset, dict) else {}
    named = [
        (key, spec[key])
        for key in ("heldout", "test_path")
        if isinstance(spec.get(key), str) and spec[key].strip()
    ]
    if target.expert_dir is None or not named:
        raise UsageError(
            "no held-out set to evaluate on",
            hint="Pass --dataset FILE (JSONL prompt/completion lines), or set "
            "training.dataset.heldout (or test_path) in the expert's manifest.",
        )
    key, relative = named[0]
    path: Path = recipe_mod.dataset_file(target.expert_dir, relative, f"training.dataset.{key}")
    return path


def _check_expected(metric: str, examples: Any, dataset: Path) -> None:
    from hxpm.runtime.metrics import check_expected

    for number, ex in enumerate(examples, start=1):
        problem = check_expected(metric, ex.completion)
        if problem:
            raise UsageError(
                f"{dataset} item {number}: {problem}",
                hint="Fix the dataset, or pick another evaluation.metric.",
            )


def _runtime(module: str) -> ModuleType:
    """``hxpm.runtime.<module>``, or RuntimeMissingError naming what is missing."""
    import importlib

    try:
        return importlib.import_module(f"hxpm.runtime.{module}")
    except ImportError as e:
        raise RuntimeMissingError(
            f"this command needs the hxpm runtime ({e.name} is not installed)"
        ) from None
