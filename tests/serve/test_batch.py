"""Batched decoding (hxpm.runtime.batch) gives each request what it gets alone."""

from __future__ import annotations

import pytest

from tests.serve.conftest import ROOT

torch = pytest.importorskip("torch")

PROMPTS = [
    "hello there",
    "write sql to count users in the table",
    "x",
    'json please: {"a": 1, "b": [1, 2, 3]} and more words here',
]


@pytest.fixture(scope="module")
def session():
    from hxpm.core.digest import base_model_digest
    from hxpm.runtime.session import BaseRef, Session

    base = ROOT / "models" / "tiny-qwen3"
    s = Session(BaseRef("tiny", base, base_model_digest(base)), device="cpu")
    yield s
    s.close()


def _alone(session, prompt, config):
    from hxpm.runtime.generate import decode

    ids = session.tokenizer(prompt)["input_ids"]
    return decode(session.model, session.tokenizer, ids, config, device=torch.device("cpu"))


def test_requests_joining_between_steps_match_single_decoding(session):
    from hxpm.runtime.batch import BatchDecoder, batchable
    from hxpm.runtime.refs import GenerationConfig

    assert batchable(session.model)
    configs = [GenerationConfig(max_new_tokens=n) for n in (30, 12, 25, 40)]
    decoder = BatchDecoder(session.model, session.tokenizer, torch.device("cpu"))
    ids = [session.tokenizer(p)["input_ids"] for p in PROMPTS]
    slots = [decoder.add(ids[0], configs[0]), decoder.add(ids[1], configs[1])]
    for _ in range(5):
        decoder.step()
    slots.append(decoder.add(ids[2], configs[2]))  # joins a batch already 6 tokens in
    decoder.step()
    slots.append(decoder.add(ids[3], configs[3]))
    widths = []
    while decoder.slots:
        decoder.step()
        widths.append(len(decoder.slots))
    assert max(widths) == 4 and 1 in widths  # rows really ran together, then left
    for prompt, config, slot in zip(PROMPTS, configs, slots, strict=True):
        alone = _alone(session, prompt, config)
        assert slot.text == alone.text and tuple(slot.new_ids) == alone.token_ids
        assert slot.stopped_by == alone.stopped_by


def test_seeded_sampling_and_stop_strings_match_single_decoding(session):
    from hxpm.runtime.batch import BatchDecoder
    from hxpm.runtime.refs import GenerationConfig

    configs = [
        GenerationConfig(max_new_tokens=30, temperature=0.9, top_p=0.9, seed=s) for s in (1, 2, 3)
    ]
    decoder = BatchDecoder(session.model, session.tokenizer, torch.device("cpu"))
    slots = [
        decoder.add(session.tokenizer(p)["input_ids"], c)
        for p, c in zip(PROMPTS, configs, strict=False)
    ]
    while decoder.slots:
        decoder.step()
    for prompt, config, slot in zip(PROMPTS, configs, slots, strict=False):
        assert slot.text == _alone(session, prompt, config).text


def test_cancel_removes_a_row_and_the_others_go_on(session):
    from hxpm.runtime.batch import BatchDecoder
    from hxpm.runtime.refs import GenerationConfig

    config = GenerationConfig(max_new_tokens=20)
    decoder = BatchDecoder(session.model, session.tokenizer, torch.device("cpu"))
    a, b = (decoder.add(session.tokenizer(p)["input_ids"], config) for p in PROMPTS[:2])
    decoder.step()
    decoder.cancel(a)
    assert a.stopped_by == "cancelled" and decoder.slots == (b,)
    while decoder.slots:
        decoder.step()
    assert b.text == _alone(session, PROMPTS[1], config).text
