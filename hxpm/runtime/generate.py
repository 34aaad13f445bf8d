"""The decoding loop: prefill, then one token at a time with a KV cache.

Our own loop rather than ``model.generate``: it streams text pieces, enforces stop strings
on the decoded text (cutting the text there), and costs less per token than the generic
generation machinery, which matters on a tiny CPU model where Python overhead dominates.
"""

from __future__ import annotations

import contextlib
import inspect
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from hxpm.errors import InferenceError

from .grammar import GrammarMatcher
from .quiet import library_output
from .refs import GenerationConfig

_REPLACEMENT = "\ufffd"  # what a half-decoded multi-byte character looks like


@dataclass(frozen=True, slots=True)
class Decoded:
    token_ids: tuple[int, ...]
    text: str
    stopped_by: str  # "eos" | "stop" | "length"


def eos_token_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """Every id that ends a turn: the generation config's, the model config's, the tokenizer's."""
    ids: set[int] = set()
    sources = (
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
        getattr(model.config, "eos_token_id", None),
        getattr(tokenizer, "eos_token_id", None),
    )
    for value in sources:
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, Iterable) and not isinstance(value, str):
            ids.update(v for v in value if isinstance(v, int))
    return frozenset(ids)


MIN_TEMPERATURE = 1e-4  # lower temperatures sample as this one: the top token, in effect


class Sampler:
    """Greedy when temperature is 0, else temperature / top-k / top-p sampling (seeded)."""

    def __init__(self, config: GenerationConfig, device: torch.device) -> None:
        self._config = config
        self._generator: torch.Generator | None = None
        if config.temperature > 0:
            seed = config.seed if config.seed is not None else random.SystemRandom().getrandbits(63)
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(seed)

    @property
    def greedy(self) -> bool:
        """Whether the pick is the top logit (temperature 0)."""
        return self._generator is None

    def __call__(self, logits: torch.Tensor) -> int:
        """Pick the next token from the last position's logits (shape [vocab])."""
        if self._generator is None:
            return int(torch.argmax(logits))
        cfg = self._config
        # Shifted so the top logit is 0, and the temperature floored (1e-46 is 0 in float32):
        # a tiny temperature then gives -inf for the others, not nan; greedy, as it should.
        logits = (logits.float() - logits.max()) / max(cfg.temperature, MIN_TEMPERATURE)
        if 0 < cfg.top_k < logits.numel():
            kth = torch.topk(logits, cfg.top_k).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if cfg.top_p < 1.0:
            ordered, order = torch.sort(logits, descending=True)
            probs = torch.softmax(ordered, dim=-1)
            # Drop a token when the tokens before it already reach top_p (keeps at least one).
            drop = (probs.cumsum(dim=-1) - probs) >= cfg.top_p
            logits = logits.scatter(0, order[drop], float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self._generator))


class TextStream:
    """Decodes the growing token list, finds stop strings, and hands out safe text pieces.

    Text is held back while it could still be the start of a stop string or ends in half a
    multi-byte character, so that ``on_text`` never receives text the result later cuts.
    """

    def __init__(
        self, tokenizer: Any, stop: tuple[str, ...], on_text: Callable[[str], None] | None
    ) -> None:
        self._tokenizer = tokenizer
        self._stop = stop
        self._hold = max((len(s) for s in stop), default=1) - 1
        self._on_text = on_text
        self._ids: list[int] = []
        self._sent = 0
        self.text = ""

    @property
    def active(self) -> bool:
        """Whether text must be decoded per token (streaming or stop strings)."""
        return bool(self._stop) or self._on_text is not None

    def push(self, token_id: int) -> bool:
        """Add a token; True when a stop string has appeared (the text is cut before it)."""
        self._ids.append(token_id)
        if not self.active:
            return False
        self.text = self._decode()
        start = max(0, self._sent - self._hold)
        hits = [i for i in (self.text.find(s, start) for s in self._stop) if i >= 0]
        if hits:
            self.text = self.text[: min(hits)]
            self._send(len(self.text))
            return True
        safe = len(self.text) - self._hold
        if self.text.endswith(_REPLACEMENT):
            safe = min(safe, len(self.text.rstrip(_REPLACEMENT)))
        self._send(safe)
        return False

    def finish(self) -> str:
        """The final text; sends whatever was still held back."""
        if not self.active:
            self.text = self._decode()
        self._send(len(self.text))
        return self.text

    def _decode(self) -> str:
        return self._tokenizer.decode(self._ids, skip_special_tokens=True)

    def _send(self, upto: int) -> None:
        if upto > self._sent:
            if self._on_text is not None:
                self._on_text(self.text[self._sent : upto])
            self._sent = upto


def cache_keyword(model: Any) -> str:
    """The forward argument that takes the KV cache: transformers 5.x renamed
    ``past_key_values`` to ``cache``, and the old name prints a FutureWarning to the user."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def cache_of(out: Any) -> Any:
    """The KV cache a forward pass returned, under either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def new_cache(model: Any) -> Any:
    """An empty ``DynamicCache`` for ``model`` (transformers' current cache API).

    Passed on every step, it is filled in place by the model; the config lets transformers
    pick per-layer kinds (sliding windows) where the architecture has them.
    """
    from transformers import DynamicCache

    if "config" in inspect.signature(DynamicCache.__init__).parameters:
        return DynamicCache(config=model.config)
    return DynamicCache()  # transformers < 4.56: no per-layer kinds


@contextlib.contextmanager
def generation_errors(oom_hint: str) -> Iterator[None]:
    """Run a generation quietly; the model's own failures become InferenceErrors (out of
    GPU memory with ``oom_hint``, any other RuntimeError by its first line)."""
    try:
        with library_output():
            yield
    except torch.cuda.OutOfMemoryError:
        raise InferenceError("out of GPU memory while generating", hint=oom_hint) from None
    except RuntimeError as e:
        raise InferenceError(f"generation failed: {str(e).splitlines()[0]}") from None


def decode(
    model: Any,
    tokenizer: Any,
    prompt_ids: list[int],
    config: GenerationConfig,
    *,
    device: torch.device,
    on_text: Callable[[str], None] | None = None,
    prefix_embeds: torch.Tensor | None = None,
) -> Decoded:
    """Generate up to ``config.max_new_tokens`` tokens after ``prompt_ids``.

    ``prefix_embeds`` ([tokens, hidden], the model's dtype): soft prompt vectors put before
    the prompt's token embeddings on the first step (docs/runtime.md, soft prompts).
    """
    eos = eos_token_ids(model, tokenizer)
    sample = Sampler(config, device)
    stream = TextStream(tokenizer, config.stop, on_text)
    new_ids: list[int] = []
    stopped_by = "length"
    grammar = grammar_matcher(config, model, tokenizer, eos)
    cache = {cache_keyword(model): new_cache(model)}
    with torch.inference_mode():
        ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
        # logits_to_keep=1: only the last position's logits are needed (vocab can be 150k).
        out = model(**first_step_inputs(model, ids, prefix_embeds), logits_to_keep=1, **cache)
        for _ in range(config.max_new_tokens):
            logits = out.logits[0, -1]
            token = sample(logits if grammar is None else grammar.mask(logits))
            if token in eos:
                stopped_by = "eos"
                break
            new_ids.append(token)
            if grammar is not None:
                grammar.consume(token)
            if stream.push(token):
                stopped_by = "stop"
                break
            if grammar is not None and grammar.done:
                stopped_by = "eos"  # the grammar is complete: only EOS could follow
                break
            if len(new_ids) == config.max_new_tokens:
                break
            step = torch.tensor([[token]], dtype=torch.long, device=device)
            out = model(input_ids=step, use_cache=True, **cache)
    text = stream.finish()
    return Decoded(tuple(new_ids), text, stopped_by)


def grammar_matcher(
    config: GenerationConfig, model: Any, tokenizer: Any, eos: frozenset[int]
) -> GrammarMatcher | None:
    """The matcher for ``config.grammar`` (docs/grammar.md), or None when unconstrained."""
    if config.grammar is None:
        return None
    n_vocab = max(int(getattr(model.config, "vocab_size", 0) or 0), len(tokenizer))
    return GrammarMatcher(config.grammar, tokenizer, eos, n_vocab)


def first_step_inputs(
    model: Any, ids: torch.Tensor, prefix_embeds: torch.Tensor | None
) -> dict[str, Any]:
    """The prefill's inputs: token ids, or embeddings with the soft prompt in front."""
    if prefix_embeds is None:
        return {"input_ids": ids, "use_cache": True}
    embedded = model.get_input_embeddings()(ids)
    prefix = prefix_embeds.to(device=embedded.device, dtype=embedded.dtype).unsqueeze(0)
    return {"inputs_embeds": torch.cat([prefix, embedded], dim=1), "use_cache": True}
