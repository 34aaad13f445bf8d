"""Soft prompts: PEFT prompt tuning's vectors, packaged as soft_prompts/<name>.safetensors,
give the same answer in hxpm as in PEFT's own PeftModelForCausalLM; bad ones are refused
at install and at attach time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.factories import manifest_dict

torch = pytest.importorskip("torch")

TOKENS = 6


@pytest.fixture(scope="module")
def prompt_tuned(tiny, tmp_path_factory) -> Path:
    """A PEFT prompt-tuning adapter on the tiny base, saved with plain save_pretrained."""
    from peft import PromptTuningConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from hxpm.runtime.loader import quiet_transformers

    out = tmp_path_factory.mktemp("prompt-tuning")
    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(tiny.base)
        peft_model = get_peft_model(
            model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=TOKENS)
        )
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():  # trained vectors, not the init: large enough to change the answer
        for name, p in peft_model.named_parameters():
            if "prompt_encoder" in name:
                p.copy_(0.8 * torch.randn(p.shape, generator=gen))
    with quiet_transformers():
        peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def identity_lora(tiny, tmp_path_factory) -> Path:
    """A LoRA with peft's own init (B = 0): changes nothing, so only the soft prompt acts."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from hxpm.runtime.loader import quiet_transformers

    out = tmp_path_factory.mktemp("identity-lora")
    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(tiny.base)
        get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(out)
    return out


def soft_prompt_file(prompt_tuned: Path, out: Path) -> Path:
    """Convert PEFT's saved prompt embeddings into the package's soft prompt file."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(prompt_tuned / "adapter_model.safetensors"))
    (vectors,) = state.values()  # peft saves them as "prompt_embeddings"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({"prompt_embeddings": vectors.contiguous()}, str(out))
    return out


def _peft_answer(tiny, prompt_tuned: Path, ids: list[int], max_new: int) -> list[int]:
    """Greedy decoding with PEFT's PeftModelForCausalLM: its forward, the whole sequence
    each step. (Not ``PeftModel.generate``: with peft 0.21 and transformers 5.25 its cached
    steps disagree with PEFT's own forward after the first token: it drops position ids.)"""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from hxpm.runtime.loader import quiet_transformers

    with quiet_transformers():
        base = AutoModelForCausalLM.from_pretrained(tiny.base)
        model = PeftModel.from_pretrained(base, prompt_tuned).eval()
        seq = list(ids)
        with torch.no_grad():
            for _ in range(max_new):
                token = int(model(input_ids=torch.tensor([seq])).logits[0, -1].argmax())
                if token == 258:  # the tiny base's EOS
                    break
                seq.append(token)
    return seq[len(ids) :]


def test_soft_prompt_output_equals_peft_prompt_tuning(
    tiny, session, ref, prompt_tuned, identity_lora, tmp_path
):
    from hxpm.runtime.session import AdapterRef, GenerationConfig
    from hxpm.runtime.templates import build_prompt

    sp = soft_prompt_file(prompt_tuned, tmp_path / "soft_prompts" / "task.safetensors")
    expert = AdapterRef(
        "expert-soft", "1.0.0", identity_lora, base_sha256=tiny.digest, soft_prompts=(sp,)
    )
    plain = AdapterRef("expert-plain", "1.0.0", identity_lora, base_sha256=tiny.digest)
    prompt, config = "count the rows", GenerationConfig(max_new_tokens=12)
    rendered = build_prompt(session.tokenizer, prompt, system=None, templates=[None])
    ids = session.tokenizer(rendered.text, add_special_tokens=rendered.add_special_tokens)[
        "input_ids"
    ]
    expected = _peft_answer(tiny, prompt_tuned, ids, 12)
    try:
        session.use([expert])
        with_prompt = session.generate(prompt, config)
        session.use([plain])
        without = session.generate(prompt, config)
    finally:
        session.use([])
    assert with_prompt.text == session.tokenizer.decode(expected, skip_special_tokens=True)
    assert with_prompt.new_tokens == len(expected)
    assert with_prompt.text != without.text  # the soft prompt really acts


def test_attach_refuses_a_soft_prompt_for_another_base(tiny, session, identity_lora, tmp_path):
    from safetensors.torch import save_file

    from hxpm.errors import BaseMismatchError, InferenceError
    from hxpm.runtime.session import AdapterRef

    def expert(tensors: dict) -> AdapterRef:
        path = tmp_path / f"sp{len(list(tmp_path.iterdir()))}.safetensors"
        save_file(tensors, str(path))
        return AdapterRef(
            "expert-x", "1.0.0", identity_lora, base_sha256=tiny.digest, soft_prompts=(path,)
        )

    hidden = session.model.get_input_embeddings().weight.shape[1]
    with pytest.raises(BaseMismatchError, match=f"{hidden + 8} wide but this base's embeddings"):
        session.use([expert({"p": torch.zeros(4, hidden + 8)})])
    with pytest.raises(InferenceError, match="expected a floating-point type"):
        session.use([expert({"p": torch.zeros(4, hidden, dtype=torch.int32)})])
    with pytest.raises(InferenceError, match="holds 2 tensors"):
        session.use([expert({"a": torch.zeros(4, hidden), "b": torch.zeros(4, hidden)})])
    with pytest.raises(InferenceError, match="NaN or infinite"):
        session.use([expert({"p": torch.full((2, hidden), float("nan"))})])
    assert session.active == () and "expert-x" not in session.loaded  # nothing attached


def _expert_dir(root: Path, tiny, identity_lora: Path, soft: Path, tokens: int) -> Path:
    d = root / "expert-soft"
    d.mkdir(parents=True)
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(identity_lora / f, d / f)
    (d / "soft_prompts").mkdir()
    shutil.copy(soft, d / "soft_prompts" / "task.safetensors")
    m = manifest_dict(
        "expert-soft", "1.0.0", bases=(("hxpm/tiny", tiny.digest),), keywords=["soft"]
    )
    m["soft_prompts"] = [
        {"name": "task", "path": "soft_prompts/task.safetensors", "tokens": tokens}
    ]
    (d / "manifest.json").write_text(json.dumps(m))
    return d


def test_install_refuses_a_soft_prompt_sized_for_another_base(cli, tiny, identity_lora, tmp_path):
    from safetensors.torch import save_file

    shutil.copytree(tiny.base, tmp_path / "base")
    assert cli("base", "add", "hxpm/tiny", "--path", tmp_path / "base").code == 0
    wrong = tmp_path / "wrong.safetensors"
    save_file({"prompt_embeddings": torch.zeros(TOKENS, 1024)}, str(wrong))
    d = _expert_dir(tmp_path / "src", tiny, identity_lora, wrong, TOKENS)
    r = cli("install", d, "--unsafe-allow-unsigned")
    assert r.code == 5, r.err
    assert "1024 wide" in r.err and "hidden size 64" in r.err
    assert cli("list", "--json").json()["experts"] == []  # nothing landed


def test_installed_soft_prompt_runs_end_to_end(cli, tiny, prompt_tuned, identity_lora, tmp_path):
    shutil.copytree(tiny.base, tmp_path / "base")
    assert cli("base", "add", "hxpm/tiny", "--path", tmp_path / "base").code == 0
    sp = soft_prompt_file(prompt_tuned, tmp_path / "sp.safetensors")
    bad_count = _expert_dir(tmp_path / "bad", tiny, identity_lora, sp, TOKENS + 1)
    r = cli("install", bad_count, "--unsafe-allow-unsigned")
    assert r.code == 5 and f"says {TOKENS + 1} tokens" in r.err, r.err
    d = _expert_dir(tmp_path / "src", tiny, identity_lora, sp, TOKENS)
    assert cli("install", d, "--unsafe-allow-unsigned").code == 0
    args = ("run", "--prompt", "count the rows", "--max-new-tokens", "12", "--device", "cpu")
    on = cli(*args, "--expert", "expert-soft", "--json")
    off = cli(*args, "--expert", "", "--json")
    assert on.code == 0 and off.code == 0, on.err + off.err
    assert on.json()["output"] != off.json()["output"]
