"""Batched decoding: several requests for the same active set advance in one forward pass.

Each request is prefilled alone (its own KV cache, no padding), then its cache is joined to
the running batch: caches are left-padded to a common length and stacked along the batch
dimension. A row's real entries are always its rightmost ``length`` columns, so one
attention mask (zeros over the padding) and explicit position ids (each row's own length)
make every row compute what it would compute alone. Requests may join between any two steps
(continuous batching) and leave as soon as they finish or are cancelled; columns that became
padding for every remaining row are cut off.

Greedy outputs equal single-request decoding (tests/serve/test_batch.py checks it); sampled
ones use each request's own seeded generator, as ``generate.decode`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .generate import Sampler, TextStream, cache_keyword, cache_of, eos_token_ids
from .refs import GenerationConfig


@dataclass(eq=False)
class Slot:
    """One request inside the batch. ``pieces`` collects text not yet handed out."""

    config: GenerationConfig
    prompt_tokens: int
    sampler: Sampler
    stream: TextStream
    pieces: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)
    length: int = 0  # real entries of this row in the batch cache
    stopped_by: str | None = None  # set when finished: "eos" | "stop" | "length" | "cancelled"
    text: str = ""

    @property
    def finished(self) -> bool:
        return self.stopped_by is not None

    def take_text(self) -> str:
        """The text produced since the last call (already safe to show: see TextStream)."""
        out = "".join(self.pieces)
        self.pieces.clear()
        return out


class BatchDecoder:
    """Decodes the slots of one active expert set together (see the module docstring)."""

    def __init__(
        self, model: Any, tokenizer: Any, device: torch.device, *, max_batch: int = 16
    ) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._device = device
        self._eos = eos_token_ids(model, tokenizer)
        self.max_batch = max(1, max_batch)
        self._slots: list[Slot] = []  # rows of the batch cache, in order
        self._cache: Any = None
        self._width = 0  # columns of the batch cache
        self._cache_kw = cache_keyword(model)

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(self._slots)

    @property
    def has_room(self) -> bool:
        return len(self._slots) < self.max_batch

    def add(self, prompt_ids: Sequence[int], config: GenerationConfig) -> Slot:
        """Prefill one request and join it to the batch; its first token is sampled already.

        The returned slot may be finished at once (an end token first, or max_new_tokens 1);
        it is then never part of the batch.
        """
        pieces: list[str] = []
        slot = Slot(
            config,
            len(prompt_ids),
            Sampler(config, self._device),
            TextStream(self._tokenizer, config.stop, pieces.append),
            pieces,
        )
        with torch.inference_mode():
            ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=self._device)
            out = self._model(input_ids=ids, use_cache=True, logits_to_keep=1)
        slot.length = len(prompt_ids)
        self._accept(slot, slot.sampler(out.logits[0, -1]))
        if not slot.finished:
            self._join(slot, cache_of(out))
        return slot

    def step(self) -> list[Slot]:
        """Feed every live row its last token and sample the next; return the rows that ended."""
        if not self._slots:
            return []
        rows = len(self._slots)
        lengths = torch.tensor([s.length for s in self._slots], device=self._device)
        columns = torch.arange(self._width + 1, device=self._device)
        # Real entries are the rightmost `length` columns; the new token is the last column.
        mask = (columns.unsqueeze(0) >= (self._width - lengths).unsqueeze(1)).long()
        tokens = torch.tensor(
            [[s.new_ids[-1]] for s in self._slots], dtype=torch.long, device=self._device
        )
        with torch.inference_mode():
            out = self._model(
                input_ids=tokens,
                attention_mask=mask,
                position_ids=lengths.view(rows, 1),
                use_cache=True,
                **{self._cache_kw: self._cache},
            )
        self._cache = cache_of(out)
        self._width += 1
        for i, slot in enumerate(self._slots):
            slot.length += 1
            self._accept(slot, slot.sampler(out.logits[i, -1]))
        done = [s for s in self._slots if s.finished]
        if done:
            self._keep([s for s in self._slots if not s.finished])
        return done

    def cancel(self, slot: Slot) -> None:
        """Stop a request now (its client went away, or its deadline passed)."""
        if slot.finished:
            return
        slot.stopped_by = "cancelled"
        slot.text = slot.stream.text
        self._keep([s for s in self._slots if s is not slot])

    def _accept(self, slot: Slot, token: int) -> None:
        """Record a sampled token and decide whether the request has ended."""
        if token in self._eos:
            self._finish(slot, "eos")
            return
        slot.new_ids.append(token)
        if slot.stream.push(token):
            self._finish(slot, "stop")
        elif len(slot.new_ids) >= slot.config.max_new_tokens:
            self._finish(slot, "length")

    def _finish(self, slot: Slot, reason: str) -> None:
        slot.stopped_by = reason
        slot.text = slot.stream.finish()

    # --- the batch cache -------------------------------------------------------------------

    def _join(self, slot: Slot, cache: Any) -> None:
        if not self._slots:
            self._slots, self._cache, self._width = [slot], cache, slot.length
            return
        width = max(self._width, slot.length)
        for mine, theirs in zip(_layers(self._cache), _layers(cache), strict=True):
            for attr in ("keys", "values"):
                joined = torch.cat(
                    [
                        _pad_left(getattr(mine, attr), width),
                        _pad_left(getattr(theirs, attr), width),
                    ],
                    dim=0,
                )
                setattr(mine, attr, joined)
        self._slots.append(slot)
        self._width = width

    def _keep(self, keep: list[Slot]) -> None:
        """Drop the other rows; cut the columns that are padding in every kept row."""
        if not keep:
            self._slots, self._cache, self._width = [], None, 0
            return
        rows = torch.tensor([self._slots.index(s) for s in keep], device=self._device)
        cut = self._width - max(s.length for s in keep)
        for layer in _layers(self._cache):
            layer.keys = layer.keys[rows, :, cut:, :]
            layer.values = layer.values[rows, :, cut:, :]
        self._slots = keep
        self._width -= cut


def batchable(model: Any) -> bool:
    """Whether this model's cache can be joined row-wise (full attention, plain K/V tensors).

    Sliding-window and recurrent layers keep other state; such models decode one request at a
    time (max_batch 1) rather than risk wrong output.
    """
    config = getattr(model, "config", None)
    if getattr(config, "use_sliding_window", False):
        return False
    layer_types = getattr(config, "layer_types", None) or ()
    return all(t == "full_attention" for t in layer_types)


def _layers(cache: Any) -> list[Any]:
    layers = getattr(cache, "layers", None)
    if layers is None:
        raise TypeError(f"unsupported KV cache {type(cache).__name__}: no per-layer tensors")
    return list(layers)


def _pad_left(t: torch.Tensor, width: int) -> torch.Tensor:
    """[batch, heads, length, dim] -> [batch, heads, width, dim], zeros on the left."""
    missing = width - t.shape[-2]
    if missing <= 0:
        return t
    return torch.nn.functional.pad(t, (0, 0, missing, 0))
