"""A sampler that only picks tokens the request's grammar allows (docs/grammar.md).

Used by the batch decoder (``hxpm/runtime/batch.py``: chat, the Python API, ``hxpm serve``),
where each row has its own grammar. Once the grammar is complete only EOS is allowed, so
the row ends as any answer does. ``generate.decode`` applies the matcher directly and stops
as soon as the grammar is complete (one forward pass fewer).
"""

from __future__ import annotations

from typing import Any

import torch

from .generate import Sampler, grammar_matcher
from .grammar import GrammarMatcher
from .refs import GenerationConfig


class GrammarSampler(Sampler):
    """``Sampler`` over the logits the grammar leaves, advancing the grammar by each pick."""

    def __init__(
        self,
        config: GenerationConfig,
        device: torch.device,
        matcher: GrammarMatcher,
        eos: frozenset[int],
    ) -> None:
        super().__init__(config, device)
        self._matcher = matcher
        self._eos = eos

    @property
    def matcher(self) -> GrammarMatcher:
        return self._matcher

    def __call__(self, logits: torch.Tensor) -> int:
        return self.pick_masked(self._matcher.mask(logits))

    def pick_masked(self, masked: torch.Tensor) -> int:
        """Sample from logits the grammar has already masked (``grammar.mask_rows``)."""
        return self.take(super().__call__(masked))

    def take(self, token: int) -> int:
        """Advance the grammar past ``token``, one it allows (an end token leaves it as is)."""
        if token not in self._eos:
            self._matcher.consume(token)
        return token


def sampler_for(
    config: GenerationConfig,
    device: torch.device,
    model: Any,
    tokenizer: Any,
    eos: frozenset[int],
) -> Sampler:
    """A plain Sampler, or a GrammarSampler when ``config.grammar`` is set."""
    matcher = grammar_matcher(config, model, tokenizer, eos)
    if matcher is None:
        return Sampler(config, device)
    return GrammarSampler(config, device, matcher, eos)
