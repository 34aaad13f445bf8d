"""A session: one base model kept loaded, experts attached, stacked, swapped and run.

* ``use(adapters)`` makes exactly that set active, stacked in ``load_order`` (requires before
  dependents). Adapters not yet loaded are read, checked and attached (peft functional API);
  beyond ``max_loaded`` the least recently used ones are detached. The base is never
  reloaded: switching sets only touches adapter state and, when merged, the adapted weights.
* ``merge``: "never" runs the set through peft's adapter layers; "always" writes it into the
  base weights (see ``merge.py``, exact restore from pristine copies); "auto" (default)
  merges whenever the set can be merged (Linear layers, LoRA/DoRA/IA³), since a merged
  forward costs the same as the bare base while peft's unmerged layers cost 2-3x for a LoRA
  stack and 5-15x for DoRA on CPU. The merge happens inside ``use`` (a few ms on the tiny
  base), so ``generate`` does no hidden work.
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import torch

from hxpm.core.digest import digests_equal
from hxpm.errors import BaseMismatchError, InferenceError, UsageError

from . import adapters as adapter_io
from . import quantize as quant
from . import softprompt
from .device import choose_device, dtype_name
from .fields import check_set, options_for
from .generate import decode, generation_errors
from .loader import load_base, load_tokenizer, verify_base
from .merge import Merger, why_not_mergeable
from .quiet import library_output
from .refs import (
    MERGE_MODES,
    AdapterRef,
    BaseRef,
    GenerationConfig,
    GenerationResult,
    LoadOptions,
)
from .templates import build_prompt

__all__ = [
    "AdapterRef",
    "BaseRef",
    "GenerationConfig",
    "GenerationResult",
    "LoadOptions",
    "Session",
]


_Key = tuple[str, str, str]  # AdapterRef.key: name, version, resolved path


@dataclass(frozen=True, slots=True)
class _Loaded:
    ref: AdapterRef
    peft_name: str  # a ModuleDict key: peft names may not hold dots, versions do
    family: str
    kind: str
    modules: frozenset[str]
    why_not_mergeable: str | None  # None: it can be merged into the base weights
    soft_prompts: tuple[torch.Tensor, ...] = ()  # [tokens, hidden] each, float32 on the CPU


class Session:
    """One loaded base model plus the experts attached to it (see the module docstring)."""

    _model: Any  # the transformers model (None once closed or while reloading)

    def __init__(
        self,
        base: BaseRef,
        *,
        device: str = "auto",
        max_loaded: int = 8,
        merge: str = "auto",
        options: LoadOptions | None = None,
        adapt: bool = False,
    ) -> None:
        if merge not in MERGE_MODES:
            raise UsageError(f"merge must be one of {', '.join(MERGE_MODES)}, got {merge!r}")
        if max_loaded < 1:
            raise UsageError(f"max_loaded must be at least 1, got {max_loaded}")
        self._device, self._device_dtype = choose_device(device)
        self.base = base
        self.base_digest = verify_base(base)
        self.max_loaded = max_loaded
        self.merge = merge
        # adapt: a set needing another RoPE scaling or quantization reloads the base (chat,
        # where sets change with each message) instead of being refused.
        self.adapt = adapt
        self._tokenizer = load_tokenizer(base)
        self._counter = 0
        self._pending_switch_s = 0.0
        self._closed = False
        self._load(options or LoadOptions())

    def _load(self, options: LoadOptions) -> None:
        """(Re)load the base with ``options``; every adapter is detached."""
        quantized = options.quantization in quant.QUANTIZE_CHOICES
        if quantized and self.merge == "always":
            raise UsageError(
                "merge='always' cannot be used with a quantized base",
                hint="Adapters run unmerged on a quantized base; use merge='auto'.",
            )
        self._dtype = self._device_dtype
        if options.quantization in quant.DTYPE_CHOICES:
            self._dtype = quant.dtype_for(options.quantization)
        self._model = None  # the old weights go before the new ones load
        self._model, self._context = load_base(self.base, self._device, self._dtype, options)
        self.options, self._quantized = options, quantized
        self._hidden = softprompt.hidden_size(self._model)
        # Module paths of the base before any peft wrapper: what adapters may target.
        self._modules = dict(self._model.named_modules())
        self._merger = Merger(self._model)
        self._loaded: OrderedDict[_Key, _Loaded] = OrderedDict()  # least recent first
        self._active: tuple[_Loaded, ...] = ()
        self._peft_active: tuple[str, ...] | None = ()  # None: unknown, re-apply

    # --- properties -----------------------------------------------------------------------

    def soft_prefix(self) -> torch.Tensor | None:
        """The active set's soft prompts, ``[tokens, hidden]`` float32 (None: none).

        A decoder other than ``generate`` (the batched one) must prepend it to the prompt's
        embeddings, or refuse the set: never drop it silently.
        """
        return softprompt.prefix_for([p for e in self._active for p in e.soft_prompts])

    @property
    def context_length(self) -> int:
        """The positions a prompt plus its answer may take (0: unknown), RoPE scaling included."""
        return self._context

    @property
    def device(self) -> str:
        return str(self._device)

    @property
    def dtype(self) -> str:
        return dtype_name(self._dtype)

    @property
    def loaded(self) -> tuple[str, ...]:
        """Names of the attached experts, least recently used first."""
        return tuple(entry.ref.name for entry in self._loaded.values())

    @property
    def active(self) -> tuple[str, ...]:
        """Names of the active experts, in load order."""
        return tuple(entry.ref.name for entry in self._active)

    @property
    def merged(self) -> bool:
        """Whether the active set is currently merged into the base weights."""
        return bool(self._active) and bool(self._merger.applied)

    @property
    def model(self) -> Any:
        """The transformers model (with peft layers once experts are attached)."""
        self._check_open()
        return self._model

    @property
    def tokenizer(self) -> Any:
        self._check_open()
        return self._tokenizer

    # --- switching ------------------------------------------------------------------------

    def use(self, adapters: Sequence[AdapterRef]) -> float:
        """Make exactly ``adapters`` active, stacked in load order; return the seconds spent.

        Raises:
            BaseMismatchError: an adapter was built for another base digest.
            InferenceError: an adapter is unreadable, targets modules the base lacks, or the
                set mixes IA³ with LoRA/DoRA.
            UsageError: the set is larger than ``max_loaded``.
        """
        self._check_open()
        started = time.perf_counter()
        wanted = self._ordered(adapters)
        for ref in wanted.values():
            self._check_base(ref)
        if self.adapt and wanted:
            needed = options_for(
                list(wanted.values()),
                self._forced_quantization(),
            )
            if needed != self.options:
                loaded_with = self.options
                try:
                    self._load(needed)
                except Exception:
                    self._load(loaded_with)  # keep the session usable, as it was
                    raise
        check_set(list(wanted.values()), self.options, self.base.name)
        if len(wanted) > self.max_loaded:
            raise UsageError(
                f"{len(wanted)} experts requested but max_loaded is {self.max_loaded}",
                hint="Raise --max-loaded.",
            )
        fresh = {
            key: adapter_io.read_adapter(ref, self._modules, self.base.name)
            for key, ref in wanted.items()
            if key not in self._loaded
        }
        prompts = {
            key: softprompt.read_all(
                wanted[key].soft_prompts, hidden=self._hidden, label=f"expert {wanted[key].name}"
            )
            for key in fresh
        }
        self._check_families(wanted, fresh)
        self._evict_for(wanted, len(fresh))
        previous = self._active
        try:
            for key, ref in wanted.items():
                if key in fresh:
                    with library_output():
                        self._attach(key, ref, fresh[key], prompts[key])
                self._loaded.move_to_end(key)
            self._active = tuple(self._loaded[key] for key in wanted)
            self._sync()
        except Exception:
            # Keep the session usable: fall back to what is left of the previous set.
            self._active = tuple(e for e in previous if e.ref.key in self._loaded)
            self._sync()
            raise
        elapsed = time.perf_counter() - started
        self._pending_switch_s += elapsed
        return elapsed

    def _forced_quantization(self) -> str | None:
        """The ``--quantize`` value the session keeps through reloads (None: not forced)."""
        if not self.options.forced:
            return None
        return self.options.quantization or "none"

    def _ordered(self, adapters: Sequence[AdapterRef]) -> dict[_Key, AdapterRef]:
        """By identity, in load order (requires before dependents); ties keep the caller's."""
        unique: dict[_Key, AdapterRef] = {}
        for ref in adapters:
            unique.setdefault(ref.key, ref)
        return dict(sorted(unique.items(), key=lambda item: item[1].load_order))

    def _check_base(self, ref: AdapterRef) -> None:
        if ref.base_sha256 and not digests_equal(ref.base_sha256.lower(), self.base_digest):
            raise BaseMismatchError(
                f"expert {ref.name}@{ref.version} was built for base {ref.base_sha256[:12]}…, "
                f"not for {self.base.name} ({self.base_digest[:12]}…)",
                hint="Install the expert's variant for this base model, or run with the base "
                "it was built for (--base).",
                details={"expert": ref.name, "expected": ref.base_sha256, "base": self.base_digest},
            )

    def _check_families(
        self, wanted: dict[_Key, AdapterRef], fresh: dict[_Key, adapter_io.AdapterFiles]
    ) -> None:
        families: dict[str, list[str]] = {}
        for key, ref in wanted.items():
            family = fresh[key].family if key in fresh else self._loaded[key].family
            families.setdefault(family, []).append(ref.name)
        if len(families) > 1:
            raise InferenceError(
                f"cannot stack IA3 experts ({', '.join(families['ia3'])}) with LoRA/DoRA "
                f"experts ({', '.join(families['lora'])}) in one set",
                hint="peft applies the two kinds of layers in injection order, so the result "
                "would depend on history; use them in separate runs.",
            )

    def _evict_for(self, wanted: dict[_Key, AdapterRef], incoming: int) -> None:
        while len(self._loaded) + incoming > self.max_loaded:
            victim = next(key for key in self._loaded if key not in wanted)
            entry = self._loaded.pop(victim)
            adapter_io.detach(self._model, entry.peft_name, entry.family)
            self._peft_active = None
            self._merger.forget_layers()

    def _attach(
        self,
        key: _Key,
        ref: AdapterRef,
        files: adapter_io.AdapterFiles,
        prompts: tuple[torch.Tensor, ...] = (),
    ) -> None:
        self._counter += 1
        name = f"hx{self._counter}"
        self._peft_active = None  # new wrappers start with their own adapter active
        self._merger.forget_layers()
        adapter_io.attach(self._model, name, files)
        # Whether it can be merged depends only on its own layers: decide once.
        why_not = why_not_mergeable(self._model, [name], {name: files.modules})
        self._loaded[key] = _Loaded(
            ref, name, files.family, files.kind, files.modules, why_not, prompts
        )

    def _sync(self) -> None:
        """Make the model compute exactly ``self._active`` (merged or through peft)."""
        names = tuple(entry.peft_name for entry in self._active)
        if self._merge_now():
            self._set_peft_active(())
            self._merger.apply(names, {e.peft_name: e.modules for e in self._active})
        else:
            self._merger.restore()
            self._set_peft_active(names)

    def _merge_now(self) -> bool:
        # A quantized base keeps its quantized weights: adapters run unmerged on top.
        if self.merge == "never" or not self._active or self._quantized:
            return False
        reason = next(
            (
                f"{e.ref.name}: {e.why_not_mergeable}"
                for e in self._active
                if e.why_not_mergeable is not None
            ),
            None,
        )
        if reason is not None and self.merge == "always":
            raise InferenceError(
                f"cannot merge the active experts: {reason}",
                hint="Run with merge='auto' or 'never'.",
            )
        return reason is None

    def _set_peft_active(self, names: tuple[str, ...]) -> None:
        if names == self._peft_active or (not self._loaded and self._peft_active is not None):
            return
        from peft.functional import set_adapter

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            set_adapter(self._model, list(names), inference_mode=True)
        self._peft_active = names

    # --- running --------------------------------------------------------------------------

    def generate(
        self,
        prompt: str,
        config: GenerationConfig = GenerationConfig(),
        *,
        on_text: Callable[[str], None] | None = None,
        system: str | None = None,
    ) -> GenerationResult:
        """Generate an answer to ``prompt`` with the active experts, streaming to ``on_text``.

        Raises:
            UsageError: invalid decoding settings, or a prompt too long for the context.
            InferenceError: the model failed (for example out of memory).
        """
        ids = self.prompt_ids(prompt, config, system=system)
        prefix = self.soft_prefix()
        started = time.perf_counter()
        with generation_errors("Lower --max-new-tokens or use a shorter prompt."):
            decoded = decode(
                self._model,
                self._tokenizer,
                ids,
                config,
                device=self._device,
                on_text=on_text,
                prefix_embeds=prefix,
            )
        elapsed = time.perf_counter() - started
        switch_s, self._pending_switch_s = self._pending_switch_s, 0.0
        count = len(decoded.token_ids)
        return GenerationResult(
            decoded.text,
            len(ids),
            count,
            decoded.stopped_by,
            self.active,
            switch_s,
            elapsed,
            count / elapsed if elapsed > 0 else 0.0,
        )

    def prompt_ids(
        self, prompt: str, config: GenerationConfig, *, system: str | None = None
    ) -> list[int]:
        """The token ids ``generate`` decodes after: the active set's template applied.

        Raises:
            UsageError: invalid decoding settings, or a prompt (soft prompt included) that
                leaves no room for ``config.max_new_tokens`` in the context.
        """
        self._check_open()
        config.check()
        rendered = build_prompt(
            self._tokenizer,
            prompt,
            system=system,
            templates=[e.ref.prompt_template for e in self._active],
        )
        # verbose=False: _check_context below says what is too long; the tokenizer's own
        # "sequence length is longer than" warning would only reach the terminal first.
        ids = self._tokenizer(
            rendered.text, add_special_tokens=rendered.add_special_tokens, verbose=False
        )["input_ids"]
        prefix = self.soft_prefix()
        soft_tokens = 0 if prefix is None else int(prefix.shape[0])
        self._check_context(len(ids) + soft_tokens, config.max_new_tokens)
        return list(ids)

    def check_context(self, prompt_tokens: int, max_new_tokens: int) -> None:
        """UsageError unless a prompt of ``prompt_tokens`` plus the answer fit the context."""
        self._check_context(prompt_tokens, max_new_tokens)

    def _check_context(self, prompt_tokens: int, max_new_tokens: int) -> None:
        context = self._context
        if context and prompt_tokens + max_new_tokens > context:
            room = max(context - max_new_tokens, 0)
            raise UsageError(
                f"the prompt is {prompt_tokens} tokens but at most {room} fit: the model's "
                f"context is {context} tokens and max_new_tokens is {max_new_tokens}",
                hint="Shorten the prompt or lower --max-new-tokens.",
                details={"context_length": context, "prompt_tokens": prompt_tokens},
            )

    def logits(self, token_ids: Sequence[int]) -> torch.Tensor:
        """The model's logits for ``token_ids`` with the active set (float32, on the CPU).

        A direct window on the model for tests and checks: shape [len(token_ids), vocab].
        """
        self._check_open()
        with torch.inference_mode():
            ids = torch.tensor([list(token_ids)], dtype=torch.long, device=self._device)
            return self._model(input_ids=ids, use_cache=False).logits[0].float().cpu()

    # --- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Drop the model and adapters (frees GPU memory); the session cannot be used after."""
        if self._closed:
            return
        self._closed = True
        self._active, self._loaded = (), OrderedDict()
        self._model = self._tokenizer = self._merger = None  # type: ignore[assignment]
        self._modules = {}
        if self._device.type == "cuda":
            torch.cuda.empty_cache()

    def _check_open(self) -> None:
        if self._closed:
            raise InferenceError("this runtime session is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
