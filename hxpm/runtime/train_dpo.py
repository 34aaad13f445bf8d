"""Direct Preference Optimization (``method: dpo``) on transformers' Trainer.

The loss of a pair is ``-logsigmoid(beta * ((logp(chosen) - ref(chosen)) - (logp(rejected) -
ref(rejected))))`` (Rafailov et al., 2023, eq. 7), with ``logp(y)`` the completion's token
log-probabilities summed. The reference ``ref`` is the model as training starts: the frozen
closure, plus the expert's SFT adapter when DPO continues from it (else a fresh adapter, which
changes nothing: LoRA starts with B = 0). Its log-probabilities are computed once, before the
first step, so no second model is held in memory.

With ``sft_weight`` > 0 the chosen answers' mean token negative log-likelihood, times that
weight, is added (the "DPO + NLL" regularisation of Pang et al., 2024, "Iterative Reasoning
Preference Optimization"): pure DPO may raise the margin by making *both* answers unlikely,
and on a small expert that loses the exact answer format the SFT adapter had learnt.

TRL's DPOTrainer wraps the model in its own peft adapter and reference copy; hxpm composes the
requires closure beneath the new adapter itself (``hxpm.runtime.train``), so the loss is
written here on the Trainer that TRL's trainers build on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .train_loop import HxTrainer, collate
from .trainset import IGNORE, Encoded

Pair = tuple[Encoded, Encoded]  # (chosen, rejected)


def sequence_logps(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Summed log-probability of each row's labelled tokens, shape [rows]."""
    return _logps_and_counts(model, batch)[0]


def _logps_and_counts(
    model: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed log-probability, labelled token count) of each row, both shape [rows]."""
    out = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
    )
    targets = batch["labels"][:, 1:]
    logps = torch.log_softmax(out.logits[:, :-1].float(), dim=-1)
    mask = targets != IGNORE
    picked = torch.gather(logps, 2, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(dim=1), mask.sum(dim=1)


def _rows(pair: Pair) -> list[dict[str, Any]]:
    return [{"input_ids": e.ids, "labelled": e.labelled} for e in pair]


def _batches(pairs: Sequence[Pair], pad_id: int, size: int, device: torch.device) -> Any:
    pad = collate(pad_id)
    for start in range(0, len(pairs), size):
        rows = [r for pair in pairs[start : start + size] for r in _rows(pair)]
        yield {k: v.to(device) for k, v in pad(rows).items()}


def pair_logps(
    model: torch.nn.Module, pairs: Sequence[Pair], pad_id: int, size: int, device: torch.device
) -> list[tuple[float, float]]:
    """(log π(chosen), log π(rejected)) of each pair under ``model`` as it is now."""
    was_training = model.training
    model.eval()
    out: list[tuple[float, float]] = []
    with torch.no_grad():
        for batch in _batches(pairs, pad_id, size, device):
            values = sequence_logps(model, batch).view(-1, 2).tolist()
            out.extend((float(c), float(r)) for c, r in values)
    model.train(was_training)
    return out


def preference_accuracy(scores: Sequence[tuple[float, float]]) -> float:
    """The share of pairs whose chosen answer is more likely than the rejected one."""
    return sum(c > r for c, r in scores) / len(scores) if scores else 0.0


class PairDataset(torch.utils.data.Dataset[dict[str, Any]]):
    def __init__(self, pairs: Sequence[Pair], reference: Sequence[tuple[float, float]]) -> None:
        self.pairs = list(pairs)
        self.reference = list(reference)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        chosen, rejected = self.pairs[index]
        # group_by_length reads input_ids: the longer answer stands for the pair
        longest = max(chosen.ids, rejected.ids, key=len)
        return {"input_ids": longest, "pair": self.pairs[index], "ref": self.reference[index]}


def collate_pairs(pad_id: int) -> Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]]:
    """Rows 2i and 2i+1 are pair i's chosen and rejected answers; ``ref`` is [pairs, 2]."""
    pad = collate(pad_id)

    def collate_rows(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = pad([r for item in items for r in _rows(item["pair"])])
        batch["ref"] = torch.tensor([item["ref"] for item in items], dtype=torch.float32)
        return batch

    return collate_rows


class DpoTrainer(HxTrainer):
    def __init__(self, *args: Any, beta: float, sft_weight: float = 0.0, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.beta = beta
        self.sft_weight = sft_weight
        self.loss_is_scaled_for_ga = False  # a mean over the micro-batch's pairs

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        sums, counts = _logps_and_counts(model, inputs)
        logps = sums.view(-1, 2)
        ref = inputs["ref"].to(logps.device)
        margin = (logps[:, 0] - ref[:, 0]) - (logps[:, 1] - ref[:, 1])
        loss = -torch.nn.functional.logsigmoid(self.beta * margin).mean()
        if self.sft_weight > 0:
            chosen_tokens = counts.view(-1, 2)[:, 0].clamp(min=1)
            loss = loss + self.sft_weight * (-(logps[:, 0] / chosen_tokens)).mean()
        self.note_loss(model, loss)
        return (loss, {}) if return_outputs else loss


def dpo_trainer(
    model: torch.nn.Module,
    args: Any,
    params: Sequence[tuple[str, torch.nn.Parameter]],
    train_pairs: Sequence[Pair],
    eval_pairs: Sequence[Pair],
    pad_id: int,
    *,
    beta: float,
    device: torch.device,
    sft_weight: float = 0.0,
) -> tuple[DpoTrainer, list[tuple[float, float]]]:
    """The trainer, and the reference log-probabilities of ``eval_pairs`` (before training)."""
    size = args.per_device_train_batch_size
    train_ref = pair_logps(model, train_pairs, pad_id, size, device)
    eval_ref = pair_logps(model, eval_pairs, pad_id, size, device) if eval_pairs else []
    trainer = DpoTrainer(
        model=model,
        args=args,
        params=params,
        beta=beta,
        sft_weight=sft_weight,
        train_dataset=PairDataset(train_pairs, train_ref),
        eval_dataset=PairDataset(eval_pairs, eval_ref) if eval_pairs else None,
        data_collator=collate_pairs(pad_id),
    )
    return trainer, eval_ref
