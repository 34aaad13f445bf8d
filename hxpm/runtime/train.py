"""Train one expert adapter (SFT) on top of its frozen ``requires`` closure.

The model is composed exactly as ``Session`` will run the finished set (stacked, all active,
deltas summed: docs/architecture.md §9), with the new adapter as the only trainable weights:

* **merged** (the fast path): the closure is written into the base weights with the same
  ``Merger`` a session uses, and the new adapter trains on top through peft. Used when the
  new adapter is last in load order and is LoRA or IA³ (or DoRA on a bare base): then
  "closure merged, new adapter on top" is the runtime's composition exactly.
* **stacked**: the closure stays as frozen peft adapters, all active in load order with the
  new one. Used for a DoRA adapter on a non-empty closure (DoRA's magnitude rescaling is
  computed from the original weight, as at run time), for a new adapter that is not last in
  load order, and for closures that cannot be merged. With ``dropout`` > 0 peft's DoRA
  training path rescales only the bare base output, a small approximation of the run-time
  composition; use dropout 0 for DoRA on a closure when exactness matters.

The weights are saved in peft's ``save_pretrained`` layout (``adapter_config.json`` +
``adapter_model.safetensors``, keys ``base_model.model.<module>.lora_A.weight``), which
``Session.use`` loads. The same seed gives the same bytes (on the same device and threads).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from hxpm.core.digest import digests_equal
from hxpm.errors import BaseMismatchError, InferenceError, ManifestError

from . import adapters as adapter_io
from . import train_files, train_prompt, trainset
from .cpu import usable_cpus
from .device import choose_device
from .loader import load_model, load_tokenizer, quiet_transformers, verify_base
from .merge import Merger, why_not_mergeable
from .recipe import (
    ChatExample,
    Example,
    PreferenceExample,
    SftExample,
    TextExample,
    TrainConfig,
)
from .refs import AdapterRef, BaseRef

NEW = train_files.NEW  # the peft adapter name of the adapter being trained


@dataclass(frozen=True)
class TrainJob:
    """Everything one training run needs; ``requires`` is the installed closure."""

    base: BaseRef
    config: TrainConfig
    examples: tuple[SftExample | PreferenceExample, ...]  # pairs when config.method is dpo
    output_dir: Path
    name: str = "expert"
    load_order: int = 0
    prompt_template: str | None = None
    requires: tuple[AdapterRef, ...] = ()
    seed: int = 0
    epochs: float | None = None  # overrides config.epochs
    max_steps: int | None = None  # overrides the epoch count: exactly this many steps
    device: str = "auto"
    threads: int | None = None  # CPU threads (None: default_threads())
    validation: tuple[SftExample | PreferenceExample, ...] = ()  # loss every eval_steps
    init_adapter: Path | None = None  # start from this trained adapter (DPO after SFT)
    checkpoint_dir: Path | None = None  # checkpoint-N folders (None: output_dir/checkpoints)
    resume: bool = False  # continue from the newest complete checkpoint


@dataclass(frozen=True)
class TrainOutcome:
    output_dir: Path
    steps: int
    first_loss: float  # the first step's loss (the closure's loss, before any update)
    last_loss: float  # mean over the last min(10, steps) steps
    seconds: float  # the whole call: load, train, save
    train_seconds: float  # the optimisation loop alone
    examples: int
    truncated: int
    skipped: int
    mode: str  # "merged" or "stacked"
    device: str
    losses: tuple[float, ...] = field(repr=False, default=())
    # The trained composition's logits for the first example (checks that a Session
    # running the saved set reproduces training: tests compare the two).
    probe_ids: tuple[int, ...] = field(repr=False, default=())
    probe_logits: torch.Tensor | None = field(repr=False, default=None)
    first_step: int = 1  # > 1: resumed, losses start at this global step
    eval_loss: float | None = None  # the last validation loss (None: no validation set)
    warnings: tuple[str, ...] = ()
    # DPO: the share of validation pairs whose chosen answer is the likelier, before / after
    preference: tuple[float, float] | None = None
    soft_prompt: Path | None = None  # adapter_type prompt: the trained vectors' file


def train(
    job: TrainJob, *, on_step: Callable[[int, int, float], None] | None = None
) -> TrainOutcome:
    """Train ``job``'s adapter and save it in ``job.output_dir``.

    ``on_step(step, total_steps, loss)`` is called after every optimizer step.

    Raises:
        ManifestError: target modules the base lacks.
        BaseMismatchError: a closure adapter was built for another base.
        InferenceError: an unusable closure (unreadable, mixes IA³ with LoRA/DoRA), or the
            loss diverged.
        UsageError: no example fits in ``max_length``.
    """
    started = time.perf_counter()
    device, dtype = choose_device(job.device)
    digest = verify_base(job.base)
    checkpoints = job.checkpoint_dir or Path(job.output_dir) / "checkpoints"
    run_digest = train_files.run_digest(
        (job.config, job.seed, job.epochs, job.max_steps, *job.examples, "|", *job.validation)
    )
    resume_from = train_files.resume_point(checkpoints, run_digest) if job.resume else None
    with cpu_threads(job.threads) if device.type == "cpu" else contextlib.nullcontext():
        tokenizer = load_tokenizer(job.base)
        model = load_model(job.base, device, dtype)
        closure = _closure_files(job, model, digest)
        ordered = _load_order(job, closure)
        templates = [
            job.prompt_template if ref is None else ref.prompt_template for ref, _ in ordered
        ]
        data = _encode(job, tokenizer, model, _max_length(job, model), templates)
        if not job.resume:
            train_files.clear_checkpoints(checkpoints)
            if job.config.save_steps > 0:  # no checkpoints, nothing to resume: no file
                train_files.write_run_digest(checkpoints, run_digest)
        with _seeded(job.seed, device):
            mode, trainable = _compose(model, job, closure, ordered)
            if job.init_adapter is not None:
                train_files.load_adapter(model, job.init_adapter)
            trained, trainable = train_prompt.prepare(model, job.config, trainable)
            t0 = time.perf_counter()
            result, notes, preference = _optimise(
                trained, job, data, trainable, device, checkpoints, resume_from, on_step
            )
            train_s = time.perf_counter() - t0
        probe_logits = _logits(trained, data.probe, device)
        train_files.save_adapter(model, job.output_dir)
        soft_prompt = train_prompt.save_if_trained(trained, job.config, job.output_dir, job.name)
    del model, trained
    if device.type == "cuda":
        torch.cuda.empty_cache()
    losses = list(result.losses) or [float("nan")]
    tail = losses[-min(10, len(losses)) :]
    return TrainOutcome(
        job.output_dir,
        result.first_step + len(result.losses) - 1,
        losses[0],
        sum(tail) / len(tail),
        time.perf_counter() - started,
        train_s,
        len(data.train),
        data.truncated,
        data.skipped,
        mode,
        str(device),
        tuple(result.losses),
        data.probe,
        probe_logits,
        result.first_step,
        result.eval_loss,
        notes,
        preference,
        soft_prompt,
    )


@dataclass(frozen=True)
class _Data:
    train: tuple[Any, ...]  # Encoded items, or (chosen, rejected) pairs for DPO
    eval: tuple[Any, ...]
    truncated: int
    skipped: int
    pad: int
    probe: tuple[int, ...]  # the first training sequence


def _encode(
    job: TrainJob, tokenizer: Any, model: Any, length: int, templates: list[str | None]
) -> _Data:
    from hxpm.errors import UsageError

    kw: dict[str, Any] = {"max_length": length, "templates": templates}
    dpo = job.config.method == "dpo"
    if dpo and job.config.adapter_type == "prompt":
        raise UsageError(
            "method dpo cannot train a soft prompt (adapter_type prompt) in this version",
            hint="Train the soft prompt with method sft.",
        )
    wanted = PreferenceExample if dpo else (Example, TextExample, ChatExample)
    if not all(isinstance(e, wanted) for e in (*job.examples, *job.validation)):
        raise UsageError(
            f"method {job.config.method} trains on "
            + (
                "preference pairs (prompt, chosen, rejected)"
                if dpo
                else "text, prompt/completion or messages records, not preference pairs"
            ),
            hint="Set training.config.method to match the dataset (docs/training.md).",
        )
    end = trainset.end_of_turn(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end
    if dpo:
        train_pairs = [e for e in job.examples if isinstance(e, PreferenceExample)]
        held_pairs = [e for e in job.validation if isinstance(e, PreferenceExample)]
        pairs = trainset.encode_pairs(tokenizer, model, train_pairs, **kw)
        heldout = trainset.encode_pairs(tokenizer, model, held_pairs, **kw) if held_pairs else ()
        cut = sum(c.truncated or r.truncated for c, r in pairs)
        return _Data(pairs, heldout, cut, len(train_pairs) - len(pairs), pad, pairs[0][0].ids)
    train_sft = [e for e in job.examples if not isinstance(e, PreferenceExample)]
    held_sft = [e for e in job.validation if not isinstance(e, PreferenceExample)]
    encoded = trainset.encode(tokenizer, model, train_sft, **kw)
    validation = trainset.encode(tokenizer, model, held_sft, **kw).items if held_sft else ()
    return _Data(
        encoded.items, validation, encoded.truncated, encoded.skipped, pad, encoded.items[0].ids
    )


# --- composing the model ---------------------------------------------------------------------


def _closure_files(
    job: TrainJob, model: torch.nn.Module, digest: str
) -> list[tuple[AdapterRef, adapter_io.AdapterFiles]]:
    modules = dict(model.named_modules())
    missing = adapter_io.missing_targets(list(job.config.target_modules), modules)
    if missing:
        raise ManifestError(
            f"training.config.target_modules: base {job.base.name} has no module named "
            f"{', '.join(missing)}",
            problems=[
                (
                    "training.config.target_modules",
                    list(job.config.target_modules),
                    "module names of the base model",
                )
            ],
            hint="Use the names of the base's Linear layers (q_proj, k_proj, v_proj, o_proj, "
            "gate_proj, up_proj, down_proj for Qwen3).",
        )
    out = []
    for ref in job.requires:
        if ref.base_sha256 and not digests_equal(ref.base_sha256.lower(), digest):
            raise BaseMismatchError(
                f"required expert {ref.name}@{ref.version} was built for "
                f"another base than {job.base.name}",
                hint="Install its variant for this base model.",
            )
        out.append((ref, adapter_io.read_adapter(ref, modules, job.base.name)))
    family = "ia3" if job.config.adapter_type == "ia3" else "lora"
    other = [ref.name for ref, files in out if files.family != family]
    if other:
        raise InferenceError(
            f"cannot train a {job.config.adapter_type.upper()} adapter on top of "
            f"{', '.join(other)}: IA3 and LoRA/DoRA experts cannot be stacked in one set",
            hint="Use the adapter family of the required experts (training.config.adapter_type).",
        )
    return out


def _load_order(
    job: TrainJob, closure: Sequence[tuple[AdapterRef, Any]]
) -> list[tuple[AdapterRef | None, Any]]:
    """The set in ``Session``'s order (load_order, ties in the given order); None = new."""
    entries: list[tuple[AdapterRef | None, Any]] = [*closure, (None, None)]
    return sorted(entries, key=lambda e: e[0].load_order if e[0] is not None else job.load_order)


def _peft_config(job: TrainJob) -> Any:
    c = job.config
    if c.adapter_type == "ia3":
        from peft import IA3Config

        return IA3Config(
            target_modules=list(c.target_modules),
            feedforward_modules=list(c.feedforward_modules),
            base_model_name_or_path=job.base.name,
            task_type="CAUSAL_LM",
        )
    from peft import LoraConfig

    if c.rank is None or c.alpha is None:  # parse_recipe sets both for lora and dora
        raise InferenceError(f"a {c.adapter_type} recipe needs a rank and an alpha")
    alpha = int(c.alpha) if float(c.alpha).is_integer() else c.alpha
    # peft annotates lora_alpha as int; it only multiplies by it, so a fraction works too.
    return LoraConfig(
        r=c.rank,
        lora_alpha=cast(int, alpha),
        lora_dropout=c.dropout,
        target_modules=list(c.target_modules),
        use_dora=c.adapter_type == "dora",
        bias="none",
        base_model_name_or_path=job.base.name,
        task_type="CAUSAL_LM",
    )


def _compose(
    model: torch.nn.Module,
    job: TrainJob,
    closure: Sequence[tuple[AdapterRef, adapter_io.AdapterFiles]],
    ordered: Sequence[tuple[AdapterRef | None, Any]],
) -> tuple[str, list[tuple[str, torch.nn.Parameter]]]:
    """Attach the frozen closure and the new trainable adapter; returns (mode, params)."""
    from peft.functional import inject_adapter_in_model, set_adapter
    from peft.tuners.tuners_utils import cast_adapter_dtype

    names: dict[int, str] = {}
    for i, (ref, files) in enumerate(closure):
        names[id(ref)] = f"hxreq{i}"
        adapter_io.attach(model, names[id(ref)], files)
    with quiet_transformers():
        inject_adapter_in_model(_peft_config(job), model, adapter_name=NEW)
    # On a bf16/fp16 base (GPU) the trained weights stay float32, as get_peft_model does.
    cast_adapter_dtype(model, NEW)
    order = [NEW if ref is None else names[id(ref)] for ref, _ in ordered]
    modules_of = {names[id(ref)]: files.modules for ref, files in closure}
    req = [n for n in order if n != NEW]
    merged = (
        order[-1] == NEW
        and not (job.config.adapter_type == "dora" and req)
        and why_not_mergeable(model, req, modules_of) is None
    )
    if merged and req:
        Merger(model).apply(req, modules_of)
    with quiet_transformers():
        set_adapter(model, [NEW] if merged else order, inference_mode=False)
    trainable = []
    for name, param in model.named_parameters():
        mine = f".{NEW}." in name or name.endswith(f".{NEW}")
        param.requires_grad_(mine)
        if mine:
            trainable.append((name, param))
    return ("merged" if merged else "stacked"), trainable


def _max_length(job: TrainJob, model: torch.nn.Module) -> int:
    context = int(getattr(model.config, "max_position_embeddings", 0) or 0)
    if context and job.config.adapter_type == "prompt":
        context -= job.config.num_virtual_tokens  # the soft prompt takes positions too
    return min(job.config.max_length, context) if context else job.config.max_length


# --- the loop --------------------------------------------------------------------------------


def _optimise(
    model: torch.nn.Module,
    job: TrainJob,
    data: _Data,
    params: list[tuple[str, torch.nn.Parameter]],
    device: torch.device,
    checkpoints: Path,
    resume_from: Path | None,
    on_step: Callable[[int, int, float], None] | None,
) -> tuple[Any, tuple[str, ...], tuple[float, float] | None]:
    """Run transformers' Trainer over ``params``: (LoopResult, warnings, DPO preference)."""
    from . import train_dpo, train_loop

    c = job.config
    args, notes = train_loop.training_arguments(
        c,
        output_dir=checkpoints,
        device=device,
        seed=job.seed,
        epochs=job.epochs if job.epochs is not None else c.epochs,
        max_steps=job.max_steps if job.max_steps is not None else c.max_steps,
        has_eval=bool(data.eval),
    )
    preference = None
    trainer: train_loop.HxTrainer
    with quiet_transformers():
        if c.method == "dpo":
            trainer, before = train_dpo.dpo_trainer(
                model,
                args,
                params,
                data.train,
                data.eval,
                data.pad,
                beta=c.beta,
                device=device,
                sft_weight=c.sft_weight,
            )
        else:
            trainer = train_loop.sft_trainer(model, args, params, data.train, data.eval, data.pad)
        result = train_loop.run(trainer, resume_from=resume_from, on_step=on_step)
    if c.method == "dpo" and data.eval:
        after = train_dpo.pair_logps(model, data.eval, data.pad, c.batch_size, device)
        preference = (
            train_dpo.preference_accuracy(before),
            train_dpo.preference_accuracy(after),
        )
    return result, notes, preference


def _logits(model: torch.nn.Module, ids: Sequence[int], device: torch.device) -> torch.Tensor:
    with torch.inference_mode():
        tensor = torch.tensor([list(ids)], dtype=torch.long, device=device)
        return model(input_ids=tensor, use_cache=False).logits[0].float().cpu()


# --- process state ---------------------------------------------------------------------------


@contextlib.contextmanager
def cpu_threads(requested: int | None) -> Iterator[None]:
    """Run with ``requested`` CPU threads, by default ``default_threads()``."""
    before = torch.get_num_threads()
    torch.set_num_threads(requested or default_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before)


def default_threads() -> int:
    """torch's thread count, at most the CPUs this process may use.

    Fixed for a machine: float sums depend on how work is split among threads, so a count
    that followed the machine's load would give the same seed different weights.
    ``--threads`` (``TrainJob.threads``) sets it; on a CPU shared with busy processes, fewer
    threads are faster (OpenMP threads wait for each other at every operation).
    """
    return max(1, min(torch.get_num_threads(), usable_cpus()))


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed adapter init and dropout without disturbing the caller's random state."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
