"""Batched decoding: several requests advance in one forward pass.

Requests that arrive together are prefilled together (left-padded, with an attention mask
and per-row position ids), then their cache rows are joined to the running batch: caches
are left-padded to a common length and stacked along the batch dimension. A row's real
entries are always its rightmost ``length`` columns, so one attention mask (zeros over the
padding) and explicit position ids (each row's own length) make every row compute what it
would compute alone. Requests may join between any two steps (continuous batching) and
leave as soon as they finish or are cancelled; columns that became padding for every
remaining row are cut off.

A row whose expert set has a soft prompt prefills on embeddings: its soft prompt's vectors
take the columns just before its prompt (positions from 0, inside its attention mask), as
``generate.decode`` prepends them; rows without one are embedded as the model would.

Greedy outputs equal single-request decoding (tests/serve/test_batch.py checks it); sampled
ones use each request's own seeded generator, as ``generate.decode`` does. With a
``RowAdapters`` (multilora.py), each row may run its own expert set in the same pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from hxpm.errors import HxpmError, InferenceError

from .generate import Sampler, TextStream, cache_keyword, cache_of, eos_token_ids
from .grammar import mask_rows
from .grammar_sampling import GrammarSampler, sampler_for
from .multilora import RowAdapters, RowKey
from .refs import GenerationConfig


@dataclass(frozen=True, slots=True, eq=False)
class Request:
    """One request to prefill: its prompt, settings, set (RowAdapters key) and eos handling."""

    prompt_ids: Sequence[int]
    config: GenerationConfig
    adapters: RowKey | None = None
    ignore_eos: bool = False
    # The row's soft prompt ([tokens, hidden], softprompt.prefix_for): put before the prompt's
    # embeddings, as ``generate.decode`` does; None: none.
    soft_prefix: torch.Tensor | None = None

    @property
    def length(self) -> int:
        """The positions the prompt takes in the cache: soft prompt tokens included."""
        soft = 0 if self.soft_prefix is None else int(self.soft_prefix.shape[0])
        return soft + len(self.prompt_ids)


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
    adapters: RowKey | None = None  # the row's set in RowAdapters; None: the model as it is
    ignore_eos: bool = False  # decode max_new_tokens whatever comes (vLLM's ignore_eos)
    stopped_by: str | None = None  # "eos" | "stop" | "length" | "cancelled" | "error" at the end
    error: HxpmError | None = None  # why, when stopped_by is "error"
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
        self,
        model: Any,
        tokenizer: Any,
        device: torch.device,
        *,
        max_batch: int = 16,
        mixer: RowAdapters | None = None,
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
        self._mixer = mixer

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(self._slots)

    @property
    def has_room(self) -> bool:
        return len(self._slots) < self.max_batch

    @property
    def room(self) -> int:
        return self.max_batch - len(self._slots)

    def add(
        self,
        prompt_ids: Sequence[int],
        config: GenerationConfig,
        adapters: RowKey | None = None,
        *,
        soft_prefix: torch.Tensor | None = None,
    ) -> Slot:
        """Prefill one request and join it to the batch (see ``add_many``)."""
        return self.add_many([Request(prompt_ids, config, adapters, soft_prefix=soft_prefix)])[0]

    def add_many(self, requests: Sequence[Request]) -> list[Slot]:
        """Prefill requests together and join them to the batch; each first token is sampled.

        A returned slot may be finished at once (an end token first, or max_new_tokens 1);
        it is then never part of the batch.
        """
        slots = [self._new_slot(r) for r in requests]
        if not slots:
            return []
        width = max(r.length for r in requests)
        lengths = torch.tensor([r.length for r in requests], device=self._device)
        columns = torch.arange(width, device=self._device)
        start = (width - lengths).unsqueeze(1)
        with torch.inference_mode(), self._rows(slots):
            out = self._model(
                **self._prefill_inputs(requests, width),
                attention_mask=(columns.unsqueeze(0) >= start).long(),
                position_ids=(columns.unsqueeze(0) - start).clamp(min=0),
                use_cache=True,
                logits_to_keep=1,
            )
        for i, slot in enumerate(slots):
            slot.length = requests[i].length
            self._sample(slot, out.logits[i, -1])
        live = [i for i, slot in enumerate(slots) if not slot.finished]
        if live:
            self._join([slots[i] for i in live], _rows_of(cache_of(out), live, len(slots)), width)
        return slots

    def _prefill_inputs(self, requests: Sequence[Request], width: int) -> dict[str, Any]:
        """Token ids left-padded to ``width``; embeddings instead when a row has a soft prompt.

        A row's soft prompt takes the columns just before its prompt's tokens, so it starts
        at position 0 and is attended to like a prompt prefix, exactly as ``generate.decode``
        puts it (the other rows, and the padding, are unchanged).
        """
        rows = [[0] * (width - len(r.prompt_ids)) + list(r.prompt_ids) for r in requests]
        ids = torch.tensor(rows, dtype=torch.long, device=self._device)
        if all(r.soft_prefix is None for r in requests):
            return {"input_ids": ids}
        embedded = self._model.get_input_embeddings()(ids)
        for i, r in enumerate(requests):
            if r.soft_prefix is not None:
                end = width - len(r.prompt_ids)
                prefix = r.soft_prefix.to(device=embedded.device, dtype=embedded.dtype)
                embedded[i, end - prefix.shape[0] : end] = prefix
        return {"inputs_embeds": embedded}

    def _new_slot(self, r: Request) -> Slot:
        pieces: list[str] = []
        stream = TextStream(self._tokenizer, r.config.stop, pieces.append)
        sampler = sampler_for(r.config, self._device, self._model, self._tokenizer, self._eos)
        return Slot(
            r.config,
            len(r.prompt_ids),
            sampler,
            stream,
            pieces,
            adapters=r.adapters,
            ignore_eos=r.ignore_eos,
        )

    def _rows(self, slots: Sequence[Slot]) -> Any:
        if self._mixer is None:
            return contextlib.nullcontext()
        return self._mixer.rows([s.adapters for s in slots])

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
        with torch.inference_mode(), self._rows(self._slots):
            out = self._model(
                input_ids=tokens,
                attention_mask=mask,
                position_ids=lengths.view(rows, 1),
                use_cache=True,
                **{self._cache_kw: self._cache},
            )
        self._cache = cache_of(out)
        self._width += 1
        logits = out.logits[:, -1]
        masked = self._grammar_masked(logits)
        for i, slot in enumerate(self._slots):
            slot.length += 1
            self._sample(slot, logits[i], masked.get(i))
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

    def _sample(
        self,
        slot: Slot,
        logits: torch.Tensor,
        masked: torch.Tensor | HxpmError | int | None = None,
    ) -> None:
        """Sample the row's next token (from ``masked`` when the step masked the grammar rows
        together, or ``masked`` itself when it is the token already chosen); a row whose
        grammar fails ends alone, with its error (the other rows of the batch go on)."""
        sampler = slot.sampler
        try:
            if isinstance(masked, HxpmError):
                raise masked
            if isinstance(masked, int) and isinstance(sampler, GrammarSampler):
                token = sampler.take(masked)
            elif isinstance(masked, torch.Tensor) and isinstance(sampler, GrammarSampler):
                token = sampler.pick_masked(masked)
            else:
                token = sampler(logits)
        except HxpmError as e:
            slot.error = e
            self._finish(slot, "error")
            return
        self._accept(slot, token)

    def _grammar_masked(self, logits: torch.Tensor) -> dict[int, torch.Tensor | HxpmError | int]:
        """Row -> its logits masked by its grammar (all grammar rows in one batched call), or
        the error that ends that row; rows without a grammar are absent.

        A greedy row whose top token the grammar allows gets that token instead, with no mask
        computed: the masked logits' top token would be that same one (the mask keeps the
        allowed logits as they are), and checking one token costs far less than a mask over
        the vocabulary."""
        out: dict[int, torch.Tensor | HxpmError | int] = {}
        rows = [i for i, s in enumerate(self._slots) if isinstance(s.sampler, GrammarSampler)]
        greedy = [i for i in rows if self._slots[i].sampler.greedy]
        if greedy:
            top = logits[greedy].argmax(dim=-1).tolist()
            for i, token in zip(greedy, top, strict=True):
                sampler = self._slots[i].sampler
                if isinstance(sampler, GrammarSampler) and sampler.matcher.allows(int(token)):
                    out[i] = int(token)
            rows = [i for i in rows if i not in out]
        if len(rows) < 2:  # one row: the sampler masks it itself, no batch to share
            return out
        samplers = [self._slots[i].sampler for i in rows]
        matchers = [s.matcher for s in samplers if isinstance(s, GrammarSampler)]
        masked, alive = mask_rows(matchers, logits[rows])
        for k, (i, matcher) in enumerate(zip(rows, matchers, strict=True)):
            try:
                matcher.check()
                if not alive[k]:
                    raise InferenceError(f"{matcher.spec.source}: the grammar allows no token here")
                out[i] = masked[k]
            except HxpmError as e:
                out[i] = e
        return out

    def _accept(self, slot: Slot, token: int) -> None:
        """Record a sampled token and decide whether the request has ended."""
        if token in self._eos and not slot.ignore_eos:
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

    def _join(self, slots: list[Slot], cache: Any, width: int) -> None:
        """Append ``slots`` whose cache rows are left-padded to ``width`` columns."""
        if not self._slots:
            self._slots, self._cache, self._width = list(slots), cache, width
            return
        joined_width = max(self._width, width)
        for mine, theirs in zip(_layers(self._cache), _layers(cache), strict=True):
            for attr in ("keys", "values"):
                joined = torch.cat(
                    [
                        _pad_left(getattr(mine, attr), joined_width),
                        _pad_left(getattr(theirs, attr), joined_width),
                    ],
                    dim=0,
                )
                setattr(mine, attr, joined)
        self._slots.extend(slots)
        self._width = joined_width

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


def _rows_of(cache: Any, rows: list[int], total: int) -> Any:
    """The cache with only ``rows`` kept (all of it when every row is kept)."""
    if len(rows) == total:
        return cache
    index = torch.tensor(rows, device=_layers(cache)[0].keys.device)
    for layer in _layers(cache):
        layer.keys = layer.keys[index]
        layer.values = layer.values[index]
    return cache


def _pad_left(t: torch.Tensor, width: int) -> torch.Tensor:
    """[batch, heads, length, dim] -> [batch, heads, width, dim], zeros on the left."""
    missing = width - t.shape[-2]
    if missing <= 0:
        return t
    return torch.nn.functional.pad(t, (0, 0, missing, 0))
