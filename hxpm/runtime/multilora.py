"""Per-row LoRA: rows of one batch run different expert sets in the same forward pass.

The base weights stay unmerged (the bare base); every set of plain LoRA experts is *folded*
into one LoRA per module: the experts' ``A`` matrices stacked and their ``B`` matrices,
scaling baked in, placed side by side, so that ``B_set @ A_set`` is exactly the sum of the
experts' deltas (what peft's ``add_weighted_adapter(combination_type="cat")`` builds). Each
adapted base ``Linear``'s forward is then wrapped to add ``(x_i @ A_i^T) @ B_i^T`` for every
row ``i`` with its own set's factors (bare-base rows get none, so they compute exactly what
the bare base computes). A wrapper rather than a forward hook: on a small base each module
call is a few microseconds of work, and torch's hook dispatch added about a third to the
delta's cost (docs/performance.md, serve).

Two layouts of the factors, chosen per layer by the total rank of the sets in the batch:

- **side by side** (total rank ≤ ``SIDE_BY_SIDE_RANK``): one copy of every present set's
  ``A`` and ``B`` concatenated along the rank, ``((x @ A_all) * mask) @ B_all`` with a mask
  that keeps each row's own set's columns: plain matmuls over a few KB of factors. Every row
  computes every present set's ``x @ A``, which is cheap while the sets are few.
- **gathered** (more): each row's own factors gathered into ``[rows, in, r]`` and
  ``[rows, r, out]``, two batched matmuls: no wasted rank, but a copy of the factors per row,
  which on a small model costs more in memory traffic than the matmuls themselves.

Only sets that fold exactly are mixed: plain LoRA on ``nn.Linear`` layers. DoRA rescales
whole rows of the weight, IA³ multiplies, other variants change the forward: such sets are
refused with a reason (``prepare``) and run set-at-a-time, merged, by the caller.

The cost is memory: each prepared set keeps its factors, and a bound batch keeps them
gathered per row (rows × rank × features per module), which is small for the ranks experts
use but grows with the batch.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hxpm.core.digest import digests_equal
from hxpm.errors import HxpmError

from . import adapters as adapter_io
from .merge import layer_chain
from .refs import AdapterRef

RowKey = Hashable  # identifies one prepared set; None in a row means the bare base
_RECENT_BINDINGS = 4
# Up to this total rank per layer the sets of a batch sit side by side (module docstring):
# 16 rows over 3 sets of rank 8 on the tiny base: 0.84x the bare step side by side, 0.80x
# gathered (30 interleaved rounds, docs/performance.md).
SIDE_BY_SIDE_RANK = 64


@dataclass(frozen=True, slots=True)
class _Bank:
    """One layer's factors for the sets of a batch, behind their entries 1..n (0: none).

    Side by side: ``a`` [in, R], ``b`` [R, out] and ``spans[j]``, entry j's columns.
    Gathered: ``a`` [n + 1, in, r], ``b`` [n + 1, r, out] (entry 0 zeros), ``spans`` empty.
    """

    a: torch.Tensor
    b: torch.Tensor
    spans: tuple[tuple[int, int], ...] = ()


Factors = tuple[torch.Tensor, torch.Tensor]  # (A [r, in], B·scaling [out, r])
# What a wrapped layer applies to the rows of a batch: (a, b, mask); mask None: gathered.
_Bound = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]


@dataclass(frozen=True, slots=True)
class FoldedSet:
    """One expert set as one LoRA per module: ``{path: (A [r, in], B·scaling [out, r])}``."""

    factors: dict[str, tuple[torch.Tensor, torch.Tensor]]


def fold(
    model: nn.Module, refs: Sequence[AdapterRef], base_name: str, base_digest: str
) -> FoldedSet | str:
    """The set ``refs`` folded into one LoRA per module, or why it cannot be (a reason)."""
    modules = dict(model.named_modules())
    parts: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    for ref in sorted(refs, key=lambda r: r.load_order):
        if ref.base_sha256 and not digests_equal(ref.base_sha256.lower(), base_digest):
            return f"{ref.name} was built for another base"
        try:
            files = adapter_io.read_adapter(ref, modules, base_name)
        except HxpmError as e:
            return e.message
        reason = _why_not_plain(files)
        if reason:
            return f"{ref.name}: {reason}"
        for path, (a, b) in _factors(model, files).items():
            parts.setdefault(path, []).append((a, b))
    dtype = _dtype(model)
    folded = {
        path: (
            torch.cat([a for a, _ in pieces]).to(dtype),
            torch.cat([b for _, b in pieces], dim=1).to(dtype),
        )
        for path, pieces in parts.items()
    }
    return FoldedSet(folded)


def _why_not_plain(files: adapter_io.AdapterFiles) -> str | None:
    config = files.config
    if files.kind != "lora":
        return f"{files.kind} adapters change more than a low-rank delta"
    if getattr(config, "fan_in_fan_out", False):
        return "fan_in_fan_out layers"
    for variant in ("alora_invocation_tokens", "use_qalora", "arrow_config", "use_bdlora"):
        if getattr(config, variant, None):
            return f"a LoRA variant ({variant})"
    return None


def _factors(
    model: nn.Module, files: adapter_io.AdapterFiles
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{path: (A, B·scaling)}`` in float32, with the scaling peft would give each module."""
    from peft.utils.other import get_pattern_key

    config = files.config
    by_path: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in files.state.items():
        path, _, leaf = key.removeprefix("base_model.model.").partition(".lora_")
        by_path.setdefault(path, {})[leaf] = tensor
    out = {}
    for path, tensors in by_path.items():
        _, base = layer_chain(model, path)
        if type(base) is not nn.Linear:
            raise _NotFoldable(f"{path} is not a Linear layer")
        a, b = tensors["A.weight"].float(), tensors["B.weight"].float()
        rank_key = get_pattern_key(config.rank_pattern.keys(), path)
        alpha_key = get_pattern_key(config.alpha_pattern.keys(), path)
        r = config.rank_pattern.get(rank_key, config.r)
        alpha = config.alpha_pattern.get(alpha_key, config.lora_alpha)
        scaling = alpha / math.sqrt(r) if config.use_rslora else alpha / r
        out[path] = (a, b * scaling)
    return out


class _NotFoldable(Exception):
    pass


def _dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


class RowAdapters:
    """The wrapped layers and the per-row factors of one model (see the module docstring).

    ``prepare(key, ...)`` folds a set once; ``rows(keys)`` makes the next forward passes
    apply ``keys[i]``'s set to row ``i`` (None: the bare base). Outside ``rows`` the wrappers
    do nothing, so other callers see the model unchanged.
    """

    def __init__(self, model: nn.Module, base_name: str, base_digest: str, *, max_sets: int = 64):
        self._model = model
        self._base = (base_name, base_digest)
        self._max_sets = max(1, max_sets)
        self._sets: OrderedDict[RowKey, FoldedSet | str] = OrderedDict()
        self._wrapped: dict[str, nn.Module] = {}  # path -> the Linear whose forward is wrapped
        self._bound_keys: tuple[RowKey, ...] | None = None
        self._bound: dict[str, _Bound] = {}
        # The last few bindings: a scheduler alternates between the running batch's rows
        # and the rows it is prefilling, and rebuilding 28 gathered banks each time shows.
        self._recent: OrderedDict[tuple[RowKey, ...], dict[str, _Bound]] = OrderedDict()
        self._bank_cache: OrderedDict[
            frozenset[RowKey], tuple[dict[RowKey, int], dict[str, _Bank]]
        ] = OrderedDict()
        self._on = False

    def prepare(self, key: RowKey, refs: Sequence[AdapterRef]) -> str | None:
        """Fold ``refs`` under ``key`` (once); None when it can be mixed, else the reason."""
        if key not in self._sets:
            try:
                folded = fold(self._model, refs, *self._base)
            except (_NotFoldable, KeyError) as e:
                folded = str(e)
            self._sets[key] = folded
            self._recent.clear()  # a binding made before gave this key's rows zero factors
            self._bank_cache.clear()
            self._evict()
            if isinstance(folded, FoldedSet):
                self._wrap(folded.factors)
        self._sets.move_to_end(key)
        found = self._sets[key]
        return found if isinstance(found, str) else None

    def mixable(self, key: RowKey) -> bool:
        return isinstance(self._sets.get(key), FoldedSet)

    @contextmanager
    def rows(self, keys: Sequence[RowKey | None]) -> Iterator[None]:
        """Within the block, row ``i`` of every forward pass runs ``keys[i]``'s set."""
        self._bind(tuple(keys))
        self._on = bool(self._bound)
        try:
            yield
        finally:
            self._on = False

    def _bind(self, keys: tuple[RowKey | None, ...]) -> None:
        if keys == self._bound_keys:
            return
        self._bound_keys = keys
        cached = self._recent.get(keys)
        if cached is not None:
            self._recent.move_to_end(keys)
            self._bound = cached
            return
        self._bound = {}
        self._recent[keys] = self._bound
        while len(self._recent) > _RECENT_BINDINGS:
            self._recent.popitem(last=False)
        members = frozenset(k for k in keys if isinstance(self._sets.get(k), FoldedSet))
        if not members:
            return
        index, banks = self._banks_for(members)
        entries = [index.get(k, 0) for k in keys]
        gathered: dict[torch.device, torch.Tensor] = {}
        masks: dict[tuple[Any, ...], torch.Tensor] = {}
        for path, bank in banks.items():
            device = bank.a.device
            if bank.spans:
                mask = masks.get((device, bank.spans))
                if mask is None:
                    mask = masks[(device, bank.spans)] = _mask(entries, bank, device)
                self._bound[path] = (bank.a, bank.b, mask)
                continue
            rows = gathered.get(device)
            if rows is None:
                rows = gathered[device] = torch.tensor(entries, device=device)
            # [rows, in, r] and [rows, r, out]: x @ A^T then @ B^T as two batched matmuls.
            self._bound[path] = (bank.a.index_select(0, rows), bank.b.index_select(0, rows), None)

    def _banks_for(self, members: frozenset[RowKey]) -> tuple[dict[RowKey, int], dict[str, _Bank]]:
        """Per path, the factors of ``members`` (transposed, on the layer's device) in the
        layout their total rank calls for, and each member's entry. Rows change at every join
        and leave; the sets present rarely do, so binding new rows is cheap."""
        cached = self._bank_cache.get(members)
        if cached is not None:
            self._bank_cache.move_to_end(members)
            return cached
        sets = [(k, s) for k, s in self._sets.items() if k in members and isinstance(s, FoldedSet)]
        index = {key: j for j, (key, _) in enumerate(sets, start=1)}
        banks: dict[str, _Bank] = {}
        for path in sorted({p for _, s in sets for p in s.factors}):
            present = [s.factors.get(path) for _, s in sets]
            total = sum(f[0].shape[0] for f in present if f is not None)
            bank = _side_by_side(present) if total <= SIDE_BY_SIDE_RANK else _gathered(present)
            device = self._device(path)
            banks[path] = _Bank(bank.a.to(device), bank.b.to(device), bank.spans)
        self._bank_cache[members] = (index, banks)
        while len(self._bank_cache) > _RECENT_BINDINGS:
            self._bank_cache.popitem(last=False)
        return index, banks

    def _device(self, path: str) -> torch.device:
        _, base = layer_chain(self._model, path)
        weight: torch.Tensor = base.weight  # type: ignore[assignment]
        return weight.device

    def _wrap(self, factors: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        for path in factors:
            if path in self._wrapped:
                continue
            # The innermost Linear: peft may wrap the module at ``path`` later, never this one.
            _, base = layer_chain(self._model, path)
            # An instance attribute: nn.Module.__call__ calls it instead of the class's forward
            # (a plain function is no parameter or submodule, so nothing else sees it).
            base.forward = self._forward_with_delta(path, base.forward)
            self._wrapped[path] = base

    def _forward_with_delta(self, path: str, forward: Any) -> Any:
        def forward_rows(x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = forward(x)
            if not self._on:
                return out
            factors = self._bound.get(path)
            if factors is None:
                return out
            a, b, mask = factors
            rows = a.shape[0] if mask is None else mask.shape[0]
            if x.dim() != 3 or x.shape[0] != rows:
                raise RuntimeError(f"{path}: {x.shape[0]} rows but {rows} bound")
            if mask is None:
                return torch.baddbmm(out, torch.bmm(x, a), b)
            h = torch.matmul(x, a).mul_(mask).flatten(0, 1)  # [rows * tokens, R]
            return torch.addmm(out.flatten(0, 1), h, b).view_as(out)

        return forward_rows

    def _evict(self) -> None:
        bound = set(self._bound_keys or ())
        while len(self._sets) > self._max_sets:
            victim = next((k for k in self._sets if k not in bound), None)
            if victim is None:
                return
            del self._sets[victim]
            self._recent.clear()
            self._bank_cache.clear()

    def close(self) -> None:
        """Unwrap the layers (the model computes the bare base again)."""
        for base in self._wrapped.values():
            base.__dict__.pop("forward", None)  # the class's own forward again
        self._wrapped.clear()
        self._sets.clear()
        self._bound, self._bound_keys, self._on = {}, None, False
        self._recent.clear()
        self._bank_cache.clear()


def _side_by_side(present: Sequence[Factors | None]) -> _Bank:
    """``A``s concatenated along the rank ([in, R]), ``B``s likewise ([R, out])."""
    spans, start = [], 0
    for f in present:
        end = start + (0 if f is None else f[0].shape[0])
        spans.append((start, end))
        start = end
    pieces = [f for f in present if f is not None]
    a = torch.cat([a for a, _ in pieces]).T.contiguous()
    b = torch.cat([b for _, b in pieces], dim=1).T.contiguous()
    return _Bank(a, b, ((0, 0), *spans))  # entry 0, the bare base: no columns


def _gathered(present: Sequence[Factors | None]) -> _Bank:
    """Entries 1..n padded to the largest rank behind a zero entry 0."""
    found = [f for f in present if f is not None]
    rank = max(a.shape[0] for a, _ in found)
    a0, b0 = found[0]
    bank_a = torch.zeros(len(present) + 1, a0.shape[1], rank, dtype=a0.dtype)
    bank_b = torch.zeros(len(present) + 1, rank, b0.shape[0], dtype=b0.dtype)
    for j, f in enumerate(present, start=1):
        if f is not None:
            a, b = f
            bank_a[j, :, : a.shape[0]] = a.T
            bank_b[j, : b.shape[1]] = b.T
    return _Bank(bank_a, bank_b)


def _mask(entries: Sequence[int], bank: _Bank, device: torch.device) -> torch.Tensor:
    """[rows, 1, R]: ones over each row's own entry's columns (none for entry 0)."""
    mask = torch.zeros(len(entries), 1, bank.a.shape[1], dtype=bank.a.dtype)
    for i, j in enumerate(entries):
        start, end = bank.spans[j]
        mask[i, 0, start:end] = 1
    return mask.to(device)
