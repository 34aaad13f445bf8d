"""Batched decoding (hxpm.runtime.batch) gives each request what it gets alone."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

PROMPTS = [
    "hello there",
    "write sql to count users in the table",
    "x",
    'json please: {"a": 1, "b": [1, 2, 3]} and more words here',
]


def _alone(session, prompt, config):
    from hxpm.runtime.generate import decode

    ids = session.tokenizer(prompt)["input_ids"]
    return decode(session.model, session.tokenizer, ids, config, device=torch.device("cpu"))


def _decoded_together(session, prompts, configs):
    """Each prompt added to one batch (prefilled one by one), decoded until all have ended."""
    from hxpm.runtime.batch import BatchDecoder

    decoder = BatchDecoder(session.model, session.tokenizer, torch.device("cpu"))
    slots = [
        decoder.add(session.tokenizer(p)["input_ids"], c)
        for p, c in zip(prompts, configs, strict=True)
    ]
    while decoder.slots:
        decoder.step()
    return slots


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
    from hxpm.runtime.refs import GenerationConfig

    configs = [
        GenerationConfig(max_new_tokens=30, temperature=0.9, top_p=0.9, seed=s) for s in (1, 2, 3)
    ]
    prompts = PROMPTS[: len(configs)]
    slots = _decoded_together(session, prompts, configs)
    for prompt, config, slot in zip(prompts, configs, slots, strict=True):
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


def test_prompts_prefilled_together_match_single_decoding(session):
    from hxpm.runtime.batch import BatchDecoder, Request
    from hxpm.runtime.refs import GenerationConfig

    config = GenerationConfig(max_new_tokens=20)
    decoder = BatchDecoder(session.model, session.tokenizer, torch.device("cpu"))
    ids = [session.tokenizer(p)["input_ids"] for p in PROMPTS]
    assert len({len(i) for i in ids}) == len(ids)  # left padding really happens
    slots = decoder.add_many([Request(i, config) for i in ids])
    assert len(decoder.slots) == len(PROMPTS)
    while decoder.slots:
        decoder.step()
    for prompt, slot in zip(PROMPTS, slots, strict=True):
        alone = _alone(session, prompt, config)
        assert tuple(slot.new_ids) == alone.token_ids and slot.text == alone.text


def test_ignore_eos_decodes_max_tokens(session):
    from hxpm.runtime.batch import BatchDecoder, Request
    from hxpm.runtime.refs import GenerationConfig

    decoder = BatchDecoder(session.model, session.tokenizer, torch.device("cpu"))
    eos = next(iter(decoder._eos))
    config = GenerationConfig(max_new_tokens=6)
    slot = decoder.add_many([Request([eos, eos], config, ignore_eos=True)])[0]
    while decoder.slots:
        decoder.step()
    assert len(slot.new_ids) == 6 and slot.stopped_by == "length"


def test_a_row_whose_sampler_fails_ends_alone_with_its_error(session):
    """A grammar that can go no further fails its own request, not the batch. llguidance
    refuses such grammars when compiling, so no real one can be made here on demand: the
    failing row's sampler is a stand-in that raises as GrammarMatcher.mask does."""
    from hxpm.errors import InferenceError
    from hxpm.runtime.batch import BatchDecoder
    from hxpm.runtime.refs import GenerationConfig

    config = GenerationConfig(max_new_tokens=20)
    decoder = BatchDecoder(session.model, session.tokenizer, torch.device("cpu"))
    ids = [session.tokenizer(p)["input_ids"] for p in PROMPTS[:2]]
    good, bad = decoder.add(ids[0], config), decoder.add(ids[1], config)
    real, calls = bad.sampler, []

    def failing(logits):
        calls.append(1)
        if len(calls) > 3:
            raise InferenceError("grammar: the grammar allows no token here")
        return real(logits)

    bad.sampler = failing
    while decoder.slots:
        decoder.step()
    assert bad.stopped_by == "error" and "allows no token" in bad.error.message
    assert len(bad.new_ids) == 4  # the first token (prefill) and three steps
    alone = _alone(session, PROMPTS[0], config)
    assert good.text == alone.text and good.stopped_by == alone.stopped_by


def test_grammar_rows_masked_together_match_single_decoding(session):
    """Rows under grammars are masked in one batched llguidance call (grammar.mask_rows);
    each gets exactly what it gets alone, greedy and seeded, beside an unconstrained row."""
    from pathlib import Path

    from hxpm.runtime.grammar import GrammarSpec
    from hxpm.runtime.refs import GenerationConfig

    corpus = Path(__file__).resolve().parents[1] / "fixtures" / "original-ecosystem" / "grammars"
    sql = corpus / "expert-sql" / "grammar.gbnf"  # the older tool's real SQL grammar
    specs = [
        GrammarSpec.gbnf(sql.read_text(), str(sql)),
        GrammarSpec.json_object("response_format"),
        GrammarSpec.json_schema({"type": "object", "properties": {"n": {"type": "integer"}}}, "s"),
        None,
    ]
    configs = [
        GenerationConfig(max_new_tokens=24, grammar=specs[0]),
        GenerationConfig(max_new_tokens=24, grammar=specs[1], temperature=0.8, seed=7),
        GenerationConfig(max_new_tokens=24, grammar=specs[2]),
        GenerationConfig(max_new_tokens=24),
    ]
    slots = _decoded_together(session, PROMPTS, configs)
    for prompt, config, slot in zip(PROMPTS, configs, slots, strict=True):
        alone = _alone(session, prompt, config)
        # decode() stops when the grammar is complete; the batch row stops at the EOS that
        # is then the only token left: the same tokens and text.
        assert tuple(slot.new_ids) == alone.token_ids and slot.text == alone.text


def test_greedy_grammar_rows_skip_the_mask_when_the_top_token_is_allowed(session, monkeypatch):
    """With the trained SQL expert the top token is usually grammatical: the row takes it
    after a one-token check, with no mask computed, and still decodes exactly as alone (where
    every step masks)."""
    from pathlib import Path

    from hxpm.runtime import batch as batch_module
    from hxpm.runtime import grammar as grammar_module
    from hxpm.runtime.grammar import GrammarSpec
    from hxpm.runtime.refs import AdapterRef, GenerationConfig

    root = Path(__file__).resolve().parents[2]
    sql = root / "experts" / "expert-sql"
    session.use([AdapterRef("expert-sql", "0.1.0", sql, 5)])  # merged: the expert answers
    try:
        spec = GrammarSpec.gbnf((sql / "grammar.gbnf").read_text(), "expert-sql grammar")
        config = GenerationConfig(max_new_tokens=20, grammar=spec)
        prompts = ["count the rows in users", "list all orders", "names of all products"]
        calls = {"allowed": 0, "masked rows": 0}
        allows, mask_rows = grammar_module.GrammarMatcher.allows, batch_module.mask_rows

        def counting_allows(self, token):
            ok = allows(self, token)
            calls["allowed"] += ok
            return ok

        def counting_mask_rows(matchers, logits):
            calls["masked rows"] += len(matchers)
            return mask_rows(matchers, logits)

        monkeypatch.setattr(grammar_module.GrammarMatcher, "allows", counting_allows)
        monkeypatch.setattr(batch_module, "mask_rows", counting_mask_rows)
        slots = _decoded_together(session, prompts, [config] * len(prompts))
        assert calls["allowed"] > calls["masked rows"], calls  # the check did most of the work
        for prompt, slot in zip(prompts, slots, strict=True):
            alone = _alone(session, prompt, config)
            assert tuple(slot.new_ids) == alone.token_ids and slot.text == alone.text
    finally:
        session.use([])
