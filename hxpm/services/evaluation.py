"""`hxpm eval`: score the bare base and base + closure + expert on a held-out set.

The expert is a directory trained with `hxpm train`, or an installed expert by name; either
way its variant and ``requires`` closure are resolved as training resolves them
(``hxpm.services.training_inputs``). Everything that can be refused without a model (the
request, the metric, the dataset lines) is refused before the runtime loads; torch is
imported inside the functions only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from hxpm.core.digest import sha256_file
from hxpm.core.manifest import Manifest
from hxpm.errors import NotFoundError, UsageError
from hxpm.services.expertset import installed_set, registered_base
from hxpm.services.quality import quality_record, relative_dataset, write_quality
from hxpm.services.training_inputs import (
    MANIFEST,
    requires_closure,
    runtime_module,
    variant_for_base,
    weights_dir,
)
from hxpm.store.records import BaseModel
from hxpm.store.store import Store

if TYPE_CHECKING:
    from hxpm.runtime.refs import AdapterRef

EXAMPLES_SHOWN = 5
MAX_BATCH = 256  # rows of one batched decode; more only risks memory, not speed


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
    batch_size: int = 16  # items decoded together; the scores are the same at any size


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
    _check_eval_request(request)
    recipe_mod = runtime_module("recipe")
    target = _target(store, request)
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
    out = _evaluate(target, request, examples, decoding, metric, on_item)
    written = None
    if request.write and target.expert_dir is not None:
        written = _write_scores(target.expert_dir, metric.name, out, relative, Path(dataset))
    return EvalResult(
        metric.name,
        out.n,
        out.base_score,
        out.expert_score,
        out.experts,
        _shown_examples(examples, out),
        target.base.name,
        target.name,
        target.version,
        str(dataset),
        out.seconds,
        out.base_correct,
        out.expert_correct,
        written,
    )


def _check_eval_request(request: EvalRequest) -> None:
    if (request.expert_dir is None) == (request.installed is None):
        raise UsageError(
            "evaluate either an expert directory or an installed expert "
            "(--installed NAME), not both or neither"
        )
    if request.limit is not None and request.limit < 1:
        raise UsageError(f"--limit: expected an integer >= 1, got {request.limit!r}")
    if not 1 <= request.batch_size <= MAX_BATCH:
        raise UsageError(
            f"--batch-size: expected an integer from 1 to {MAX_BATCH}, got {request.batch_size!r}"
        )
    if request.write and request.expert_dir is None:
        raise UsageError(
            "--write stores scores in an expert directory's manifest, not in an installed expert"
        )


def _evaluate(
    target: _Target,
    request: EvalRequest,
    examples: Any,
    decoding: Any,
    metric: Any,
    on_item: Callable[[int, int], None] | None,
) -> Any:
    """Both passes on one session (the runtime's ``EvalOutcome``; ``Any``: loaded lazily)."""
    evaluate_mod = runtime_module("evaluate")
    from hxpm.runtime.refs import GenerationConfig
    from hxpm.services.run import open_session

    config = GenerationConfig(max_new_tokens=decoding.max_new_tokens, stop=decoding.stop)
    session = open_session(target.base, device=request.device, max_loaded=max(8, len(target.refs)))
    try:
        return evaluate_mod.evaluate(
            session,
            target.refs,
            examples,
            config,
            metric,
            on_item=on_item,
            batch_size=request.batch_size,
        )
    finally:
        session.close()


def _write_scores(
    expert_dir: Path, metric: str, out: Any, relative: str, dataset: Path
) -> dict[str, Any]:
    """Store the scores in the manifest's ``quality_metrics``; return what was stored."""
    written = quality_record(
        metric,
        out.base_score,
        out.expert_score,
        out.n,
        relative,
        sha256_file(dataset.expanduser()),
    )
    write_quality(expert_dir / MANIFEST, written)
    return written


def _shown_examples(examples: Any, out: Any) -> tuple[dict[str, str], ...]:
    return tuple(
        {"prompt": ex.prompt, "expected": ex.completion, "base_output": b, "expert_output": x}
        for ex, b, x in list(zip(examples, out.base_outputs, out.expert_outputs, strict=False))[
            :EXAMPLES_SHOWN
        ]
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
    variant = variant_for_base(manifest, base)
    folder = weights_dir(expert_dir, manifest, variant)
    if not (folder / "adapter_config.json").is_file():
        raise NotFoundError(
            f"{folder} holds no trained adapter (adapter_config.json)",
            hint=f"Train it first: hxpm train {expert_dir}",
        )
    closure = requires_closure(store, manifest, base)
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


def _target(store: Store, request: EvalRequest) -> _Target:
    if request.installed is not None:
        return _installed_target(store, request.installed, request.base)
    assert request.expert_dir is not None
    return _dir_target(store, request.expert_dir, request.base)
