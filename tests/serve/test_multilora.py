"""Rows of one batch running different expert sets (hxpm.runtime.multilora) compute what each
set computes alone, merged, as `hxpm run` runs it: the committed demo experts (plain LoRA,
one a stack of four) and peft adapters made here (DoRA, IA³, rsLoRA with rank patterns)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.serve.conftest import ROOT

torch = pytest.importorskip("torch")

PROMPTS = [
    "write sql to count users in the table",
    'json please: {"a": 1}',
    "Classify this document: Invoice #123, total due $400",
    "hello there",
    "a graph of people who know each other",
]
STACK = ("expert-json", "expert-english-basic", "expert-cypher", "expert-document-classifier")
ORDER = {"expert-json": 1, "expert-english-basic": 2, "expert-cypher": 3}


def ref(name: str, path: Path | None = None, order: int | None = None):
    from hxpm.runtime.refs import AdapterRef

    load_order = order if order is not None else ORDER.get(name, 9)
    return AdapterRef(name, "0.1.0", path or ROOT / "experts" / name, load_order)


@pytest.fixture(params=["side-by-side", "gathered"])
def mixer(session, request, monkeypatch):
    """Both layouts of the factors (multilora's docstring): every test runs on each."""
    from hxpm.runtime import multilora
    from hxpm.runtime.multilora import RowAdapters

    monkeypatch.setattr(
        multilora, "SIDE_BY_SIDE_RANK", 10**6 if request.param == "side-by-side" else 0
    )
    session.use([])  # mixing runs on the bare base weights
    m = RowAdapters(session.model, "tiny", session.base_digest)
    yield m
    m.close()


def _alone(session, refs, prompt, config):
    from hxpm.runtime.generate import decode

    session.use(refs)  # merged, as `hxpm run` runs a set
    try:
        ids = _chat_ids(session, prompt)
        return decode(session.model, session.tokenizer, ids, config, device=torch.device("cpu"))
    finally:
        session.use([])


def _chat_ids(session, prompt):
    from hxpm.runtime.templates import build_prompt

    rendered = build_prompt(session.tokenizer, prompt, system=None, templates=["chatml"])
    return session.tokenizer(rendered.text, add_special_tokens=rendered.add_special_tokens)[
        "input_ids"
    ]


def test_rows_of_different_sets_decode_together_as_each_set_alone(session, mixer):
    from hxpm.runtime.batch import BatchDecoder, Request
    from hxpm.runtime.refs import GenerationConfig

    sets = {
        "sql": [ref("expert-sql")],
        "json": [ref("expert-json")],
        "stack": [ref(n) for n in STACK],
        "bare": [],
        "cypher": [ref("expert-cypher")],
    }
    for key, refs in sets.items():
        if refs:
            assert mixer.prepare(key, refs) is None
    config = GenerationConfig(max_new_tokens=24)
    decoder = BatchDecoder(session.model, session.tokenizer, torch.device("cpu"), mixer=mixer)
    ids = [_chat_ids(session, p) for p in PROMPTS]
    keys = [k if sets[k] else None for k in sets]
    # Four prompts of different lengths prefilled together, a fifth joins three steps later.
    slots = decoder.add_many([Request(ids[i], config, keys[i]) for i in range(4)])
    assert len(decoder.slots) == 4
    for _ in range(3):
        decoder.step()
    slots.append(decoder.add(ids[4], config, keys[4]))
    while decoder.slots:
        decoder.step()
    texts = set()
    for prompt, refs, slot in zip(PROMPTS, sets.values(), slots, strict=True):
        alone = _alone(session, refs, prompt, config)
        assert tuple(slot.new_ids) == alone.token_ids and slot.text == alone.text
        texts.add(slot.text)
    assert len(texts) == 5  # the sets really answered differently


def _peft_adapter(out: Path, **lora: object) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from hxpm.runtime.loader import quiet_transformers

    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(ROOT / "models" / "tiny-qwen3")
        peft_model = get_peft_model(model, LoraConfig(lora_dropout=0.0, **lora))  # type: ignore[arg-type]
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_magnitude_vector" in name:
                p.mul_(0.8 + 0.4 * torch.rand(p.shape, generator=gen))
            elif "lora_" in name:  # peft starts B at zero: the adapter would change nothing
                p.copy_(0.15 * torch.randn(p.shape, generator=gen))
    with quiet_transformers():
        peft_model.save_pretrained(out)
    return out


def test_rank_patterns_and_rslora_scale_as_peft_does(session, mixer, tmp_path):
    path = _peft_adapter(
        tmp_path / "rs",
        r=4,
        lora_alpha=8,
        use_rslora=True,
        target_modules=["q_proj", "v_proj", "down_proj"],
        rank_pattern={"v_proj": 2},
        alpha_pattern={"down_proj": 3},
    )
    refs = [ref("expert-rs", path), ref("expert-sql")]
    assert mixer.prepare("rs", refs) is None
    ids = session.tokenizer(PROMPTS[0])["input_ids"]
    session.use(refs)
    want = session.logits(ids)
    session.use([])
    with torch.inference_mode(), mixer.rows(["rs"]):
        got = session.model(input_ids=torch.tensor([ids])).logits[0].float()
    bare = session.logits(ids)
    assert (want - bare).abs().max() > 1e-2  # the adapter matters
    assert torch.allclose(got, want, atol=1e-4)


def test_dora_and_foreign_sets_are_refused_with_a_reason(session, mixer, tmp_path):
    dora = _peft_adapter(tmp_path / "dora", r=4, target_modules=["q_proj"], use_dora=True)
    assert "dora" in mixer.prepare("dora", [ref("expert-dora", dora)])
    assert not mixer.mixable("dora")
    missing = mixer.prepare("gone", [ref("expert-gone", tmp_path / "nowhere")])
    assert missing and "does not exist" in missing
    from hxpm.runtime.refs import AdapterRef

    foreign = AdapterRef("expert-sql", "0.1.0", ROOT / "experts" / "expert-sql", 1, "ab" * 32)
    assert "another base" in mixer.prepare("foreign", [foreign])


def test_outside_rows_the_model_is_untouched(session, mixer):
    ids = session.tokenizer(PROMPTS[0])["input_ids"]
    before = session.logits(ids)
    assert mixer.prepare("sql", [ref("expert-sql")]) is None
    with torch.inference_mode(), mixer.rows(["sql"]):
        pass
    assert torch.equal(session.logits(ids), before)
    wrapped = [m for m in session.model.modules() if "forward" in vars(m)]
    assert wrapped, "prepare wraps the adapted layers' forward"
    mixer.close()
    assert not [m for m in session.model.modules() if "forward" in vars(m)]
    with torch.inference_mode(), mixer.rows(["sql"]):  # closed: no wrappers, no sets
        assert torch.equal(session.logits(ids), before)
