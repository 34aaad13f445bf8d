"""The optimisation loop of ``hxpm train``: transformers' ``Trainer``, checkpoints without pickles.

``Trainer`` gives what a hand-written loop would have to re-implement: gradient accumulation
with token-weighted losses, warm-up and schedules, evaluation every ``eval_steps``,
checkpoints every ``save_steps`` with rotation (``save_total_limit``), the best checkpoint
loaded at the end, mixed precision, gradient checkpointing and resumption.

Two things are ours:

* **the model**: the closure is already composed beneath the new adapter (see
  ``hxpm.runtime.train``), so the Trainer gets a plain module whose only trainable parameters
  are the new adapter's; checkpoints hold those parameters alone, not the base.
* **the checkpoint files**: the Trainer writes optimizer, scheduler and RNG states with
  ``torch.save`` (pickles) and reads them back with ``torch.load``. hxpm never unpickles, so
  :class:`HxTrainer` writes them as safetensors + JSON (``train_state``) and reads those.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from hxpm.core.strictjson import read_json
from hxpm.errors import InferenceError

from . import train_state
from .trainset import IGNORE, Encoded

StepHook = Callable[[int, int, float], None]

_STATE_CAP = 64 << 20  # trainer_state.json of a checkpoint: small, but read bounded


class EncodedDataset(torch.utils.data.Dataset[dict[str, Any]]):
    """Encoded examples as the Trainer's dataset (``input_ids`` names the length to group by)."""

    def __init__(self, items: Sequence[Encoded]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.items[index]
        return {"input_ids": item.ids, "labelled": item.labelled}


def collate(pad_id: int) -> Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]]:
    """Right-pad a batch; ``labels`` hold the token where it carries loss, else IGNORE."""

    def collate_rows(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[row, :n] = torch.tensor(r["input_ids"], dtype=torch.long)
            mask[row, :n] = 1
            for start, end in r["labelled"]:
                labels[row, start:end] = ids[row, start:end]
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    return collate_rows


def token_loss(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over the labelled tokens, and their count."""
    out = model(
        input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False
    )
    targets = inputs["labels"][:, 1:]
    total = torch.nn.functional.cross_entropy(
        out.logits[:, :-1].float().flatten(0, 1),
        targets.flatten(),
        ignore_index=IGNORE,
        reduction="sum",
    )
    return total, int((targets != IGNORE).sum())


class HxTrainer(Trainer):
    """``Trainer`` with a token-weighted SFT loss and pickle-free checkpoints."""

    def __init__(self, *args: Any, params: Sequence[tuple[str, torch.nn.Parameter]], **kw: Any):
        super().__init__(*args, **kw)
        self.hx_params = dict(params)
        self.hx_step_loss = 0.0  # this optimizer step's loss so far (micro-batches summed)
        # compute_loss divides by the tokens of the whole accumulated step (num_items_in_batch)
        self.loss_is_scaled_for_ga = True

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        total, count = token_loss(model, inputs)
        denominator = max(1, int(num_items_in_batch) if num_items_in_batch is not None else count)
        loss = total / denominator
        self.note_loss(model, loss)
        return (loss, {}) if return_outputs else loss

    def note_loss(self, model: torch.nn.Module, loss: torch.Tensor) -> None:
        """Add a micro-batch's loss to the step's (as the optimizer sees it)."""
        if model.training:
            steps = getattr(self, "current_gradient_accumulation_steps", None)
            scale = (
                1 if self.loss_is_scaled_for_ga else steps or self.args.gradient_accumulation_steps
            )
            self.hx_step_loss += float(loss.detach()) / scale

    # --- checkpoints: safetensors + JSON, never torch.save / torch.load -------------------

    def _save(self, output_dir: str | None = None, state_dict: Any = None) -> None:
        folder = Path(output_dir or str(self.args.output_dir))
        train_state.save_params(folder, self.hx_params)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        train_state.load_params(Path(resume_from_checkpoint), self.hx_params)

    def _load_best_model(self) -> None:
        best = self.state.best_model_checkpoint
        if best:
            train_state.load_params(Path(best), self.hx_params)

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        train_state.save_optimizer(Path(output_dir), self.optimizer, self.lr_scheduler)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is not None:
            train_state.load_optimizer(Path(checkpoint), self.optimizer, self.lr_scheduler)

    def _save_scaler(self, output_dir: str) -> None:
        return None  # no fp16 grad scaler state is kept: a resumed fp16 run re-calibrates it

    def _load_scaler(self, checkpoint: str | None) -> None:
        return None

    def _save_rng_state(self, output_dir: str) -> None:
        train_state.save_rng(Path(output_dir))

    def _load_rng_state(self, checkpoint: str | None) -> None:
        if checkpoint is not None:
            train_state.load_rng(Path(checkpoint))


class _StepReport(TrainerCallback):
    """Per-step losses for the caller (``on_step``) and a divergence check."""

    def __init__(self, trainer: HxTrainer, on_step: StepHook | None) -> None:
        self.trainer = trainer
        self.on_step = on_step
        self.losses: list[float] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        value = self.trainer.hx_step_loss
        self.trainer.hx_step_loss = 0.0
        if not math.isfinite(value):
            raise InferenceError(
                f"training diverged: the loss is {value} at step {state.global_step}",
                hint="Lower training.config.learning_rate.",
            )
        self.losses.append(value)
        if self.on_step is not None:
            self.on_step(state.global_step, state.max_steps, value)


@dataclass(frozen=True)
class LoopResult:
    losses: tuple[float, ...]  # this process's steps (after a resume: from the checkpoint on)
    first_step: int  # the global step of losses[0] (1, or the checkpoint's step + 1)
    total_steps: int
    eval_loss: float | None  # the last evaluation on the validation set (None: no set)
    best_checkpoint: str | None


def sft_trainer(
    model: torch.nn.Module,
    args: TrainingArguments,
    params: Sequence[tuple[str, torch.nn.Parameter]],
    train_items: Sequence[Encoded],
    eval_items: Sequence[Encoded],
    pad_id: int,
) -> HxTrainer:
    return HxTrainer(
        model=model,
        args=args,
        params=params,
        train_dataset=EncodedDataset(train_items),
        eval_dataset=EncodedDataset(eval_items) if eval_items else None,
        data_collator=collate(pad_id),
    )


def run(trainer: HxTrainer, *, resume_from: Path | None, on_step: StepHook | None) -> LoopResult:
    """Train with ``trainer``; resume from a checkpoint folder if given."""
    # Library code never prints: the Trainer's console loggers go; the caller gets on_step.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    report = _StepReport(trainer, on_step)
    trainer.add_callback(report)
    Path(str(trainer.args.output_dir)).mkdir(parents=True, exist_ok=True)
    try:
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    finally:
        if trainer.model is not None:
            trainer.model.eval()
    eval_loss = None
    for entry in reversed(trainer.state.log_history):
        if "eval_loss" in entry:
            eval_loss = float(entry["eval_loss"])
            break
    done = trainer.state.global_step
    return LoopResult(
        tuple(report.losses),
        done - len(report.losses) + 1,
        trainer.state.max_steps,
        eval_loss,
        trainer.state.best_model_checkpoint,
    )


def last_checkpoint(folder: Path) -> Path | None:
    """The newest *complete* ``checkpoint-N`` (its trainer_state.json, written last, parses)."""
    found: list[tuple[int, Path]] = []
    for entry in folder.glob("checkpoint-*") if folder.is_dir() else ():
        suffix = entry.name.removeprefix("checkpoint-")
        if not suffix.isdigit():
            continue
        try:
            read_json((entry / "trainer_state.json").read_bytes(), max_bytes=_STATE_CAP)
        except (OSError, ValueError):
            continue  # killed while writing this one
        found.append((int(suffix), entry))
    return max(found)[1] if found else None


def precision(config: Any, device: torch.device) -> tuple[bool, bool, tuple[str, ...]]:
    """(bf16, fp16, warnings): the recipe's mixed precision where the device has it.

    On CUDA, bf16 is used unless the recipe asks for fp16 (or the GPU lacks bf16). A CPU
    trains in float32: a bf16/fp16 recipe falls back with a warning naming the key.
    """
    if device.type != "cuda":
        asked = [k for k in ("bf16", "fp16") if getattr(config, k)]
        notes = tuple(
            f"training.config.{k}: ignored on the CPU (it trains in float32)" for k in asked
        )
        return False, False, notes
    bf16_ok = torch.cuda.is_bf16_supported()
    if config.fp16 or not bf16_ok:
        return False, True, ()
    return True, False, ()


def training_arguments(
    config: Any,
    *,
    output_dir: Path,
    device: torch.device,
    seed: int,
    epochs: float,
    max_steps: int,
    has_eval: bool,
) -> tuple[TrainingArguments, tuple[str, ...]]:
    """The Trainer's arguments for a recipe (``config``: a ``TrainConfig``).

    Raises:
        UsageError: load_best_model_at_end without evaluation and checkpoints that line up.
    """
    from hxpm.errors import UsageError

    c = config
    bf16, fp16, notes = precision(c, device)
    evaluating = has_eval and c.eval_steps > 0
    if c.load_best_model_at_end and not (
        evaluating and c.save_steps > 0 and c.save_steps % c.eval_steps == 0
    ):
        raise UsageError(
            "training.config.load_best_model_at_end needs eval_steps, save_steps (a multiple "
            "of eval_steps) and training.dataset.validation_path",
            hint="Set them, or set load_best_model_at_end to false.",
        )
    scheduler = "constant_with_warmup" if c.lr_scheduler == "constant" else c.lr_scheduler
    args = TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=c.batch_size,
        per_device_eval_batch_size=c.batch_size,
        gradient_accumulation_steps=c.gradient_accumulation_steps,
        learning_rate=c.learning_rate,
        weight_decay=c.weight_decay,
        max_grad_norm=c.max_grad_norm,
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps > 0 else -1,
        lr_scheduler_type=scheduler,
        lr_scheduler_kwargs={"num_cycles": c.lr_cycles} if scheduler.endswith("restarts") else {},
        warmup_steps=c.warmup_steps or c.warmup_ratio,
        logging_strategy="steps",
        logging_steps=c.logging_steps,
        save_strategy="steps" if c.save_steps else "no",
        save_steps=c.save_steps or 500,
        save_total_limit=c.save_total_limit or None,
        eval_strategy="steps" if evaluating else "no",
        eval_steps=c.eval_steps or None,
        load_best_model_at_end=c.load_best_model_at_end,
        metric_for_best_model="loss",
        greater_is_better=False,
        bf16=bf16,
        fp16=fp16,
        activation_checkpointing=c.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        optim="adamw_torch_fused" if device.type == "cuda" else "adamw_torch",
        seed=seed,
        data_seed=seed,
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        report_to="none",
        disable_tqdm=True,
        use_cpu=device.type == "cpu",
        dataloader_num_workers=0,
    )
    return args, notes
