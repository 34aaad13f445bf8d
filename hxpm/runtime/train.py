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
import copy
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from hxpm.core.digest import digests_equal
from hxpm.errors import BaseMismatchError, InferenceError, ManifestError

from . import adapters as adapter_io
from . import trainset
from .device import choose_device
from .loader import load_model, load_tokenizer, quiet_transformers, verify_base
from .merge import Merger, why_not_mergeable
from .recipe import Example, TrainConfig
from .refs import AdapterRef, BaseRef

NEW = "hxtrain"  # the peft adapter name of the adapter being trained
_SAVED_PREFIX = "base_model.model."


@dataclass(frozen=True)
class TrainJob:
    """Everything one training run needs; ``requires`` is the installed closure."""

    base: BaseRef
    config: TrainConfig
    examples: tuple[Example, ...]
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
    with cpu_threads(job.threads) if device.type == "cpu" else contextlib.nullcontext():
        tokenizer = load_tokenizer(job.base)
        model = load_model(job.base, device, dtype)
        closure = _closure_files(job, model, digest)
        ordered = _load_order(job, closure)
        encoded = trainset.encode(
            tokenizer,
            model,
            job.examples,
            max_length=_max_length(job, model),
            templates=[
                job.prompt_template if ref is None else ref.prompt_template for ref, _ in ordered
            ],
        )
        with _seeded(job.seed, device):
            mode, trainable = _compose(model, job, closure, ordered)
            t0 = time.perf_counter()
            losses = _optimise(model, job, encoded, trainable, tokenizer, device, on_step)
            train_s = time.perf_counter() - t0
        probe = encoded.items[0].ids
        probe_logits = _logits(model, probe, device)
        _save(model, job)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    tail = losses[-min(10, len(losses)) :]
    return TrainOutcome(
        job.output_dir,
        len(losses),
        losses[0],
        sum(tail) / len(tail),
        time.perf_counter() - started,
        train_s,
        len(encoded.items),
        encoded.truncated,
        encoded.skipped,
        mode,
        str(device),
        tuple(losses),
        probe,
        probe_logits,
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
) -> tuple[str, list[torch.nn.Parameter]]:
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
            trainable.append(param)
    return ("merged" if merged else "stacked"), trainable


def _max_length(job: TrainJob, model: torch.nn.Module) -> int:
    context = int(getattr(model.config, "max_position_embeddings", 0) or 0)
    return min(job.config.max_length, context) if context else job.config.max_length


# --- the loop --------------------------------------------------------------------------------


def _optimise(
    model: torch.nn.Module,
    job: TrainJob,
    encoded: trainset.EncodedSet,
    params: list[torch.nn.Parameter],
    tokenizer: Any,
    device: torch.device,
    on_step: Callable[[int, int, float], None] | None,
) -> list[float]:
    c = job.config
    items = encoded.items
    per_epoch = math.ceil(
        trainset.epoch_batches(len(items), c.batch_size) / c.gradient_accumulation_steps
    )
    epochs = job.epochs if job.epochs is not None else c.epochs
    total = job.max_steps if job.max_steps is not None else max(1, math.ceil(epochs * per_epoch))
    optimizer = torch.optim.AdamW(params, lr=c.learning_rate, weight_decay=c.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, c.warmup_steps, c.lr_scheduler)
    )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else encoded.end_token
    generator = torch.Generator().manual_seed(job.seed)
    groups = trainset.iterate_groups(items, c.batch_size, c.gradient_accumulation_steps, generator)
    losses: list[float] = []
    model.train()
    try:
        for step in range(1, total + 1):
            batches = [trainset.collate([items[i] for i in b], pad, device) for b in next(groups)]
            tokens = sum(b.tokens for b in batches)
            loss_sum = 0.0
            for batch in batches:
                loss = _batch_loss(model, batch)
                (loss / tokens).backward()
                loss_sum += float(loss.detach())
            value = loss_sum / tokens
            if not math.isfinite(value):
                raise InferenceError(
                    f"training diverged: the loss is {value} at step {step}",
                    hint="Lower training.config.learning_rate.",
                )
            torch.nn.utils.clip_grad_norm_(params, c.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(value)
            if on_step is not None:
                on_step(step, total, value)
    finally:
        model.eval()
    return losses


def _batch_loss(model: torch.nn.Module, batch: trainset.Batch) -> torch.Tensor:
    """Summed cross-entropy over the labelled tokens (logits only where needed)."""
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        use_cache=False,
        logits_to_keep=batch.keep,
    )
    targets = batch.labels[:, batch.keep + 1]
    return torch.nn.functional.cross_entropy(
        out.logits.float().flatten(0, 1),
        targets.flatten(),
        ignore_index=trainset.IGNORE,
        reduction="sum",
    )


def lr_factor(step: int, total: int, warmup: int, scheduler: str) -> float:
    """Multiplier of the learning rate before optimizer step ``step`` (0-based)."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if scheduler == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if scheduler == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def _logits(model: torch.nn.Module, ids: Sequence[int], device: torch.device) -> torch.Tensor:
    with torch.inference_mode():
        tensor = torch.tensor([list(ids)], dtype=torch.long, device=device)
        return model(input_ids=tensor, use_cache=False).logits[0].float().cpu()


# --- saving ----------------------------------------------------------------------------------


def _save(model: torch.nn.Module, job: TrainJob) -> None:
    """Write peft's layout atomically: each file to a temporary name, then renamed."""
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    state = get_peft_model_state_dict(model, adapter_name=NEW, save_embedding_layers=False)
    tensors = {
        _SAVED_PREFIX + key: value.detach().to("cpu", torch.float32).contiguous()
        for key, value in sorted(state.items())
    }
    configs = cast("dict[str, Any]", model.peft_config)  # set by peft on the model
    config = copy.copy(configs[NEW])
    config.inference_mode = True
    text = json.dumps(_jsonable(config.to_dict()), indent=2, sort_keys=True) + "\n"
    out = Path(job.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights_tmp = out / f".{adapter_io.WEIGHTS_FILE}.tmp"
    config_tmp = out / f".{adapter_io.CONFIG_FILE}.tmp"
    try:
        save_file(tensors, str(weights_tmp), metadata={"format": "pt"})
        config_tmp.write_text(text, encoding="utf-8")
        os.replace(weights_tmp, out / adapter_io.WEIGHTS_FILE)
        os.replace(config_tmp, out / adapter_io.CONFIG_FILE)
    finally:
        for tmp in (weights_tmp, config_tmp):
            tmp.unlink(missing_ok=True)


def _jsonable(value: Any) -> Any:
    """peft configs hold sets and enums: sorted lists and plain strings, for stable bytes."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value  # PeftType / TaskType enums
    return value


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
    """torch's thread count, at most the CPUs this process may use that nothing else runs on.

    OpenMP threads wait for each other at every operation: with two cores and another busy
    process, two threads ran a training step ~10x slower than one (measured on the tiny base),
    while on idle cores the second thread gains ~1.5x. So the CPUs other processes are running
    on right now (the kernel's count of runnable tasks) are left to them.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    try:  # "/proc/loadavg": ... runnable/total ...; this thread is one of the runnable
        others = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0]) - 1
    except (OSError, ValueError, IndexError):
        others = 0
    return max(1, min(torch.get_num_threads(), usable - max(0, others)))


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed adapter init and dropout without disturbing the caller's random state."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
