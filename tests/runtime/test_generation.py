"""Generation: templates, decoding settings, streaming, stop sequences, limits."""

from __future__ import annotations

import pytest
import torch

from hxpm.errors import InferenceError, UsageError
from hxpm.runtime.session import GenerationConfig
from hxpm.runtime.templates import build_prompt

GREEDY = GenerationConfig(max_new_tokens=24)


def test_session_reports_device_and_dtype(session):
    assert session.device == "cpu"
    assert session.dtype == "float32"
    assert session.loaded == () and session.active == ()


def test_greedy_is_deterministic_and_matches_transformers_generate(session):
    first = session.generate("hello", GREEDY)
    again = session.generate("hello", GenerationConfig(max_new_tokens=24, seed=7))
    assert first.text == again.text and first.stopped_by == "length"
    assert first.new_tokens == 24 and first.experts == ()
    assert first.tokens_per_s > 0 and first.generate_s > 0

    tok = session.tokenizer
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hello"}], tokenize=False, add_generation_prompt=True
    )
    ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    assert first.prompt_tokens == ids.shape[1]
    with torch.no_grad():
        out = session.model.generate(
            ids, max_new_tokens=24, do_sample=False, min_new_tokens=24, pad_token_id=256
        )
    assert first.text == tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def test_sampling_with_a_seed_is_reproducible(session):
    config = GenerationConfig(max_new_tokens=32, temperature=1.0, top_p=0.9, top_k=50, seed=1234)
    a = session.generate("tell me", config)
    b = session.generate("tell me", config)
    c = session.generate("tell me", GenerationConfig(max_new_tokens=32, temperature=1.0, seed=99))
    assert a.text == b.text
    assert a.text != c.text


@pytest.mark.parametrize("cut", [{"top_k": 1}, {"top_p": 1e-6}])
def test_top_k_1_and_a_tiny_top_p_sample_the_greedy_token(session, cut):
    greedy = session.generate("narrow", GREEDY)
    sampled = session.generate(
        "narrow", GenerationConfig(max_new_tokens=24, temperature=1.5, seed=5, **cut)
    )
    assert sampled.text == greedy.text


def test_streamed_pieces_add_up_to_the_text(session):
    pieces: list[str] = []
    result = session.generate("stream", GREEDY, on_text=pieces.append)
    assert len(pieces) > 1
    assert "".join(pieces) == result.text


def test_stop_sequences_cut_the_text(session):
    full = session.generate("stop here", GenerationConfig(max_new_tokens=40)).text
    start = next(i for i in range(6, len(full) - 2) if "\ufffd" not in full[i : i + 2])
    stop = full[start : start + 2]
    cut = full[: full.index(stop)]
    pieces: list[str] = []
    result = session.generate(
        "stop here",
        GenerationConfig(max_new_tokens=40, stop=("never-there", stop)),
        on_text=pieces.append,
    )
    assert result.stopped_by == "stop"
    assert result.text == cut
    assert "".join(pieces) == cut  # nothing of the stop sequence was streamed


def test_eos_ends_generation(session):
    tok = session.tokenizer
    text = tok.apply_chat_template(
        [{"role": "user", "content": "bye"}], tokenize=False, add_generation_prompt=True
    )
    token = int(session.logits(tok(text, add_special_tokens=False)["input_ids"])[-1].argmax())
    config = session.model.generation_config
    saved = config.eos_token_id
    config.eos_token_id = token  # the token greedy decoding picks first now ends the turn
    try:
        result = session.generate("bye", GREEDY)
    finally:
        config.eos_token_id = saved
    assert result.stopped_by == "eos" and result.new_tokens == 0 and result.text == ""


def test_prompt_longer_than_the_context_is_refused(session):
    with pytest.raises(UsageError, match=r"the prompt is \d+ tokens but at most 384 fit"):
        session.generate("x" * 600, GenerationConfig(max_new_tokens=128))
    with pytest.raises(UsageError, match="context is 512 tokens"):
        session.generate("hi", GenerationConfig(max_new_tokens=600))


@pytest.mark.parametrize(
    "config",
    [
        GenerationConfig(max_new_tokens=0),
        GenerationConfig(temperature=-1.0),
        GenerationConfig(top_p=0.0),
        GenerationConfig(top_k=-2),
        GenerationConfig(stop=("",)),
    ],
)
def test_invalid_decoding_settings(session, config):
    with pytest.raises(UsageError):
        session.generate("hi", config)


def test_result_names_the_active_experts_and_the_switch_time(session, ref):
    spent = session.use([ref("lora-b", load_order=2), ref("dora-a", load_order=1)])
    result = session.generate("hi", GenerationConfig(max_new_tokens=4))
    assert result.experts == ("dora-a", "lora-b")
    assert result.switch_s == pytest.approx(spent)
    assert session.generate("hi", GenerationConfig(max_new_tokens=4)).switch_s == 0.0
    session.use([])


def test_system_prompt_goes_through_the_chat_template(session):
    plain = session.generate("hi", GenerationConfig(max_new_tokens=1))
    with_system = session.generate("hi", GenerationConfig(max_new_tokens=1), system="be brief")
    # "<|im_start|>system\n" (1 + 7 byte tokens) + "be brief" (8) + "<|im_end|>\n" (2)
    assert with_system.prompt_tokens == plain.prompt_tokens + 18


class NoTemplateTokenizer:
    chat_template = None


@pytest.mark.parametrize(
    ("templates", "expected"),
    [
        ([None, "chatml"], "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"),
        (["alpaca", "qwen3"], "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"),
        (["llama2"], "[INST] Q [/INST]"),
        (["alpaca"], "### Instruction:\nQ\n\n### Response:\n"),
        ([None], "Q"),
        ([], "Q"),
    ],
)
def test_built_in_templates(templates, expected):
    rendered = build_prompt(NoTemplateTokenizer(), "Q", system=None, templates=templates)
    assert rendered.text == expected


def test_built_in_templates_with_a_system_prompt():
    chatml = build_prompt(NoTemplateTokenizer(), "Q", system="S", templates=["chatml"])
    assert chatml.text.startswith("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n")
    vicuna = build_prompt(NoTemplateTokenizer(), "Q", system="S", templates=["vicuna"])
    assert vicuna.text == "S USER: Q ASSISTANT:"
    with pytest.raises(InferenceError, match="unknown prompt_template 'klingon'"):
        build_prompt(NoTemplateTokenizer(), "Q", system=None, templates=["klingon"])


def test_a_base_without_chat_template_uses_the_experts_template(tmp_path, ref):
    from hxpm.core.digest import base_model_digest
    from hxpm.runtime.session import BaseRef, Session

    from .conftest import make_tiny_base

    folder = make_tiny_base(tmp_path / "plain", chat_template=None)
    with Session(BaseRef("plain", folder, base_model_digest(folder)), device="cpu") as s:
        raw = s.generate("hello", GenerationConfig(max_new_tokens=1))
        assert raw.prompt_tokens == len("hello")
        s.use([ref("lora-a", base_sha256="", prompt_template="chatml")])
        chat = s.generate("hello", GenerationConfig(max_new_tokens=1))
        # 3 special tokens + "user\n" (5) + "hello" (5) + "\n" (1) + "assistant\n" (10)
        assert chat.prompt_tokens == 24
