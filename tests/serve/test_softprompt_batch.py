"""Soft prompts in batched decoding (hxpm.runtime.batch): a row whose set has a soft prompt
gets, in a batch with rows that have none or another one, what ``generate.decode`` gives it
alone with the same soft prompt (the path `hxpm run` takes)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

PROMPTS = ["count the rows", "hello there, tell me about the weather today", "x"]


def _vectors(session, tokens: int, seed: int) -> torch.Tensor:
    """Vectors on the scale of trained ones (as tests/runtime/test_softprompt.py draws them)."""
    hidden = session.model.get_input_embeddings().weight.shape[1]
    return 0.8 * torch.randn(tokens, hidden, generator=torch.Generator().manual_seed(seed))


def _alone(session, ids, config, prefix):
    from hxpm.runtime.generate import decode

    return decode(
        session.model,
        session.tokenizer,
        ids,
        config,
        device=torch.device("cpu"),
        prefix_embeds=prefix,
    )


def test_soft_prompt_rows_prefilled_with_others_match_decoding_alone(session):
    from hxpm.runtime.batch import BatchDecoder, Request
    from hxpm.runtime.refs import GenerationConfig

    config = GenerationConfig(max_new_tokens=16)
    ids = [session.tokenizer(p)["input_ids"] for p in PROMPTS]
    # A 6-token soft prompt, none, and a 2-token one: every row's padding differs.
    prefixes = [_vectors(session, 6, 5), None, _vectors(session, 2, 9)]
    decoder = BatchDecoder(session.model, session.tokenizer, torch.device("cpu"))
    slots = decoder.add_many(
        [Request(i, config, soft_prefix=p) for i, p in zip(ids, prefixes, strict=True)]
    )
    assert len(decoder.slots) == 3
    while decoder.slots:
        decoder.step()
    for i, p, slot in zip(ids, prefixes, slots, strict=True):
        alone = _alone(session, i, config, p)
        assert tuple(slot.new_ids) == alone.token_ids and slot.text == alone.text
        assert slot.prompt_tokens == len(i)  # usage counts the prompt's own tokens
    # The soft prompt really acts: without it the first row answers otherwise.
    assert _alone(session, ids[0], config, None).token_ids != tuple(slots[0].new_ids)


def test_a_soft_prompt_row_joins_a_running_batch(session):
    from hxpm.runtime.batch import BatchDecoder
    from hxpm.runtime.refs import GenerationConfig

    config = GenerationConfig(max_new_tokens=20)
    ids = [session.tokenizer(p)["input_ids"] for p in PROMPTS[:2]]
    prefix = _vectors(session, 12, 3)  # longer than the running row's cache when it joins
    decoder = BatchDecoder(session.model, session.tokenizer, torch.device("cpu"))
    plain = decoder.add(ids[1], config)
    for _ in range(3):
        decoder.step()
    soft = decoder.add(ids[0], config, soft_prefix=prefix)
    while decoder.slots:
        decoder.step()
    assert tuple(soft.new_ids) == _alone(session, ids[0], config, prefix).token_ids
    assert tuple(plain.new_ids) == _alone(session, ids[1], config, None).token_ids
