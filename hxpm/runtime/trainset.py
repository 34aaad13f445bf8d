"""Turn prompt/completion examples into token batches for supervised fine-tuning.

Each example becomes ``prompt ids + completion ids + end-of-turn id``: the prompt is rendered
by ``templates.build_prompt`` exactly as ``Session.generate`` renders it at run time, and the
end-of-turn token (``<|im_end|>`` for ChatML models) is one that ``generate`` stops on, so the
expert learns to stop. Only completion tokens (and the end token) carry loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from hxpm.errors import InferenceError, UsageError

from .generate import eos_token_ids
from .recipe import Example
from .templates import build_prompt

IGNORE = -100
_GROUP = 16  # batches per length-sorted group (less padding, still shuffled)


@dataclass(frozen=True, slots=True)
class Encoded:
    ids: tuple[int, ...]
    prompt_len: int  # tokens before the first one that carries loss
    truncated: bool


@dataclass(frozen=True, slots=True)
class EncodedSet:
    items: tuple[Encoded, ...]
    truncated: int
    skipped: int  # prompts so long that no completion token fit in max_length
    end_token: int


@dataclass(frozen=True, slots=True)
class Batch:
    input_ids: torch.Tensor  # [B, T] right-padded
    attention_mask: torch.Tensor | None  # None when no row is padded
    labels: torch.Tensor  # [B, T]: the token itself where it carries loss, else IGNORE
    keep: torch.Tensor  # 1D positions whose logits predict a labelled token
    tokens: int  # labelled tokens


def end_of_turn(model: Any, tokenizer: Any) -> int:
    """The token a completion ends with: ``<|im_end|>`` when it stops generation, else EOS.

    Raises:
        InferenceError: the base has no end-of-sequence token at all.
    """
    stops = eos_token_ids(model, tokenizer)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end in stops:
        return im_end
    eos = getattr(tokenizer, "eos_token_id", None)
    if isinstance(eos, int) and eos in stops:
        return eos
    if stops:
        return min(stops)
    raise InferenceError(
        "the base model declares no end-of-sequence token, so a trained "
        "expert could not learn to stop",
        hint="Set eos_token_id in the base's config.json or tokenizer.",
    )


def encode(
    tokenizer: Any,
    model: Any,
    examples: Sequence[Example],
    *,
    templates: Sequence[str | None],
    max_length: int,
) -> EncodedSet:
    """Tokenize ``examples``; completions are cut at ``max_length`` (their end token too)."""
    end = end_of_turn(model, tokenizer)
    items, truncated, skipped = [], 0, 0
    for ex in examples:
        rendered = build_prompt(tokenizer, ex.prompt, system=None, templates=templates)
        prompt = list(
            tokenizer(rendered.text, add_special_tokens=rendered.add_special_tokens)["input_ids"]
        )
        completion = list(tokenizer(ex.completion, add_special_tokens=False)["input_ids"])
        ids = prompt + completion + [end]
        if len(prompt) >= max_length:
            skipped += 1
            continue
        cut = len(ids) > max_length
        truncated += cut
        items.append(Encoded(tuple(ids[:max_length]), len(prompt), cut))
    if not items:
        raise UsageError(
            f"no training example fits in max_length={max_length} tokens: every "
            "prompt (with its chat template) is at least that long",
            hint="Raise training.config.max_length.",
        )
    return EncodedSet(tuple(items), truncated, skipped, end)


def batch_order(
    lengths: Sequence[int], batch_size: int, generator: torch.Generator
) -> list[list[int]]:
    """One epoch of batches (indices): shuffled, grouped by length to cut padding."""
    perm = torch.randperm(len(lengths), generator=generator).tolist()
    batches: list[list[int]] = []
    span = batch_size * _GROUP
    for start in range(0, len(perm), span):
        group = sorted(perm[start : start + span], key=lambda i: -lengths[i])
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in order]


def epoch_batches(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def collate(items: Sequence[Encoded], pad_id: int, device: torch.device) -> Batch:
    width = max(len(e.ids) for e in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, e in enumerate(items):
        n = len(e.ids)
        ids[row, :n] = torch.tensor(e.ids)
        labels[row, e.prompt_len : n] = ids[row, e.prompt_len : n]
        mask[row, :n] = 1
    # Position t predicts token t+1: keep the positions from the first labelled one - 1.
    first = min(e.prompt_len for e in items) - 1
    keep = torch.arange(first, width - 1)
    padded = bool((mask == 0).any())
    return Batch(
        ids.to(device),
        mask.to(device) if padded else None,
        labels.to(device),
        keep.to(device),
        int((labels != IGNORE).sum()),
    )


def iterate_groups(
    encoded: Sequence[Encoded], batch_size: int, accumulation: int, generator: torch.Generator
) -> Iterator[list[list[int]]]:
    """Endless optimizer steps, each ``accumulation`` batches (fewer at an epoch's end)."""
    lengths = [len(e.ids) for e in encoded]
    while True:
        batches = batch_order(lengths, batch_size, generator)
        for start in range(0, len(batches), accumulation):
            yield batches[start : start + accumulation]
