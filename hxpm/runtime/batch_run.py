"""Many prompts through a session's active set, decoded together (``hxpm eval``).

Each prompt is built and checked exactly as ``Session.generate`` builds it (the set's
template, the context check), then up to ``max_batch`` of them run in one batched decode
(``batch.py``): a row leaves when it ends and the next prompt takes its place. Greedy rows
give what one-at-a-time decoding gives (tests/runtime/test_batch_run.py checks whole held-out
sets), so a held-out set scores the same at any batch size, only sooner: on the CPU one
forward pass of 16 rows costs little more than one of a single row.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch

from hxpm.errors import HxpmError

from .batch import BatchDecoder, Request, Slot, batchable
from .generate import generation_errors
from .refs import GenerationConfig
from .session import Session


def generate_all(
    session: Session,
    prompts: Sequence[str],
    config: GenerationConfig,
    *,
    max_batch: int = 16,
    on_answer: Callable[[int], None] | None = None,
    item: str = "prompt",
) -> list[str]:
    """Every prompt's answer with the active set, in order; ``on_answer(i)`` as each ends.

    Raises:
        UsageError: a prompt that does not fit the context (the message names it as
            ``{item} N``, counted from 1).
        InferenceError: the model failed, or a row's decoding did (its grammar).
    """
    prefix = session.soft_prefix()  # the active set's, the same for every row
    requests = []
    for number, prompt in enumerate(prompts, start=1):
        with _named(f"{item} {number}"):
            ids = session.prompt_ids(prompt, config)
        requests.append(Request(ids, config, soft_prefix=prefix))
    model = session.model
    size = max(1, max_batch) if batchable(model) else 1
    decoder = BatchDecoder(model, session.tokenizer, torch.device(session.device), max_batch=size)
    with generation_errors("Lower --batch-size."):
        slots = _decode(decoder, requests, on_answer, item)
    return [s.text for s in slots]


@contextlib.contextmanager
def _named(what: str) -> Iterator[None]:
    """Prefix an HxpmError's message with the item it is about."""
    try:
        yield
    except HxpmError as e:
        e.message = f"{what}: {e.message}"
        e.args = (e.message,)
        raise


def _decode(
    decoder: BatchDecoder,
    requests: Sequence[Request],
    on_answer: Callable[[int], None] | None,
    item: str,
) -> list[Slot]:
    """Keep the batch full until every request has ended; the slots in request order."""
    slots: list[Slot] = []
    index: dict[int, int] = {}  # id(slot) -> its request's position
    waiting = 0
    while waiting < len(requests) or decoder.slots:
        if decoder.room and waiting < len(requests):
            joined = decoder.add_many(requests[waiting : waiting + decoder.room])
            for slot in joined:
                index[id(slot)] = len(slots)
                slots.append(slot)
            waiting += len(joined)
            ended = [s for s in joined if s.finished]
        else:
            ended = []
        ended += decoder.step()
        for slot in ended:
            if slot.error is not None:
                with _named(f"{item} {index[id(slot)] + 1}"):
                    raise slot.error
            if on_answer is not None:
                on_answer(index[id(slot)])
    return slots
