"""Score an expert set against the bare base on a held-out set, through ``Session``.

Both passes generate as ``hxpm run`` does (same session, same prompt template, same stop
handling), greedily, with the expert's decoding settings: first the bare base on every item,
then the set (closure + expert, stacked in load order). ``metrics`` judges each answer.
Items are decoded ``batch_size`` at a time (``batch_run.py``); greedy rows give what
one-at-a-time decoding gives, so the batch size changes the time, not the scores.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .batch_run import generate_all
from .metrics import score
from .recipe import Example, MetricSpec
from .refs import AdapterRef, GenerationConfig
from .session import Session
from .train import cpu_threads


@dataclass(frozen=True)
class EvalOutcome:
    n: int
    experts: tuple[str, ...]  # the active set of the expert pass, in load order
    base_outputs: tuple[str, ...]
    expert_outputs: tuple[str, ...]
    base_correct: tuple[float, ...]  # each item: 1.0/0.0 (pass/fail) or a graded value
    expert_correct: tuple[float, ...]
    base_score: float
    expert_score: float
    seconds: float


def evaluate(
    session: Session,
    adapters: Sequence[AdapterRef],
    examples: Sequence[Example],
    config: GenerationConfig,
    metric: MetricSpec,
    *,
    on_item: Callable[[int, int], None] | None = None,
    batch_size: int = 16,
) -> EvalOutcome:
    """Generate every example's answer with the bare base, then with ``adapters``; score both.

    ``on_item(done, total)`` is called after each generation (``total`` = 2 × items).
    The session is left on the bare base.

    Raises:
        UsageError: an item's prompt does not fit the context (the message names the item).
        InferenceError, BaseMismatchError: the set cannot be loaded or run.
    """
    started = time.perf_counter()
    greedy = replace(config, temperature=0.0, seed=None)
    total = 2 * len(examples)
    counter = [0]

    def tick() -> None:
        counter[0] += 1
        if on_item is not None:
            on_item(counter[0], total)

    threads = cpu_threads(None) if session.device == "cpu" else contextlib.nullcontext()
    try:
        with threads:
            session.use([])
            base_out = _answers(session, examples, greedy, tick, batch_size)
            session.use(list(adapters))
            experts = session.active
            expert_out = _answers(session, examples, greedy, tick, batch_size)
    finally:
        session.use([])
    expected = [ex.completion for ex in examples]
    base_score, base_ok = score(metric.name, base_out, expected, pattern=metric.pattern)
    expert_score, expert_ok = score(metric.name, expert_out, expected, pattern=metric.pattern)
    return EvalOutcome(
        len(examples),
        experts,
        tuple(base_out),
        tuple(expert_out),
        base_ok,
        expert_ok,
        base_score,
        expert_score,
        time.perf_counter() - started,
    )


def _answers(
    session: Session,
    examples: Sequence[Example],
    config: GenerationConfig,
    tick: Callable[[], None],
    batch_size: int,
) -> list[str]:
    return generate_all(
        session,
        [ex.prompt for ex in examples],
        config,
        max_batch=batch_size,
        on_answer=lambda _: tick(),
        item="held-out item",
    )
