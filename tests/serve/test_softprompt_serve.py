"""An expert with a soft prompt through a real `hxpm serve` process and `hxpm chat`: the
answer equals `hxpm run`'s for the same prompt (greedy), also when the request shares its
forward passes with requests of other sets.

The expert is built as tests/runtime/test_softprompt.py builds one: PEFT prompt tuning's
vectors (plain ``save_pretrained``) saved as ``soft_prompts/task.safetensors``, beside a
PEFT LoRA, on the real tiny base."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import manifest_dict
from tests.serve.conftest import BASE, ROOT, Server, hxpm_cmd, start_server, stop_server

torch = pytest.importorskip("torch")
openai = pytest.importorskip("openai")

TOKENS = 6
PROMPT = "count the rows in the users table"
OTHER = "hello there, what is the weather like today in the mountains?"


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "HXPM_HOME": str(home), "HXPM_OFFLINE": "1"}


def _hxpm(home: Path, *args: str, stdin: str | None = None) -> str:
    r = subprocess.run(
        hxpm_cmd(*args), env=_env(home), input=stdin, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def _soft_expert(out: Path, digest: str) -> Path:
    """expert-soft: a LoRA (non-zero B, so the LoRA acts too) and a 6-token soft prompt."""
    from peft import LoraConfig, PromptTuningConfig, get_peft_model
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM

    from hxpm.runtime.loader import quiet_transformers

    base = ROOT / "models" / "tiny-qwen3"
    gen = torch.Generator().manual_seed(5)
    with quiet_transformers():
        tuned = get_peft_model(
            AutoModelForCausalLM.from_pretrained(base),
            PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=TOKENS),
        )
        lora = get_peft_model(
            AutoModelForCausalLM.from_pretrained(base),
            LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
        )
    with torch.no_grad():  # trained-like values: large enough to change the answer
        for name, p in tuned.named_parameters():
            if "prompt_encoder" in name:
                p.copy_(0.8 * torch.randn(p.shape, generator=gen))
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
    with quiet_transformers():
        tuned.save_pretrained(out / "tuned")
        lora.save_pretrained(out / "expert-soft")
    (vectors,) = load_file(str(out / "tuned" / "adapter_model.safetensors")).values()
    d = out / "expert-soft"
    (d / "soft_prompts").mkdir()
    save_file(
        {"prompt_embeddings": vectors.contiguous()}, str(d / "soft_prompts" / "task.safetensors")
    )
    m = manifest_dict("expert-soft", "1.0.0", bases=((BASE, digest),), keywords=["soft"])
    m["soft_prompts"] = [
        {"name": "task", "path": "soft_prompts/task.safetensors", "tokens": TOKENS}
    ]
    (d / "manifest.json").write_text(json.dumps(m))
    return d


@pytest.fixture(scope="module")
def soft_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hxpm.core.digest import base_model_digest

    root = tmp_path_factory.mktemp("soft-serve")
    home = root / "home"
    expert = _soft_expert(root, base_model_digest(ROOT / "models" / "tiny-qwen3"))
    _hxpm(home, "base", "add", BASE, "--path", str(ROOT / "models" / "tiny-qwen3"))
    _hxpm(home, "install", str(expert), "--unsafe-allow-unsigned")
    return home


@pytest.fixture(scope="module")
def soft_server(soft_home: Path) -> Iterator[Server]:
    s = start_server(soft_home)
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def run_answer(soft_home: Path) -> dict:
    """What `hxpm run` answers PROMPT with expert-soft (greedy, its soft prompt prepended)."""
    out = _hxpm(
        soft_home,
        *("run", "-p", PROMPT, "--expert", "expert-soft", "--max-new-tokens", "20"),
        *("--device", "cpu", "--json"),
    )
    return json.loads(out)


def _ask(server: Server, model: str, prompt: str) -> object:
    c = openai.OpenAI(base_url=server.v1, api_key="unused", max_retries=0, timeout=60)
    return c.chat.completions.create(
        model=model, max_tokens=20, messages=[{"role": "user", "content": prompt}]
    )


def test_serve_answers_a_soft_prompt_expert_as_hxpm_run(soft_server, run_answer):
    r = _ask(soft_server, "expert-soft", PROMPT)
    assert r.model_extra["hxpm"]["experts"] == ["expert-soft@1.0.0"]
    assert r.choices[0].message.content == run_answer["output"]
    assert r.usage.completion_tokens == run_answer["tokens"]["generated"]
    bare = _ask(soft_server, BASE, PROMPT).choices[0].message.content
    assert bare != run_answer["output"]  # the expert (soft prompt and LoRA) really acts


def test_soft_prompt_rows_share_the_batch_with_other_sets(soft_server, run_answer):
    """Requests of the soft-prompt expert and of the bare base, sent together: each row keeps
    its own prefix (or none) and its own positions."""
    cases = [("expert-soft", PROMPT), (BASE, OTHER), ("expert-soft", OTHER), (BASE, PROMPT)]
    answers: dict[int, str] = {}

    def ask(i: int) -> None:
        answers[i] = _ask(soft_server, *cases[i]).choices[0].message.content

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    alone = {i: _ask(soft_server, *cases[i]).choices[0].message.content for i in range(4)}
    assert answers == alone  # together as alone, one request at a time
    assert answers[0] == run_answer["output"]


def test_chat_answers_a_soft_prompt_expert_as_hxpm_run(soft_home, run_answer):
    out = _hxpm(
        soft_home,
        *("chat", "--device", "cpu", "--expert", "expert-soft", "--max-new-tokens", "20"),
        stdin=f"{PROMPT}\n/exit\n",
    )
    from hxpm.cli.output import inert  # chat shows generated text inert, as it should

    assert out == inert(run_answer["output"]) + "\n"


def test_an_unreadable_soft_prompt_is_a_server_error_naming_it(soft_home, tmp_path):
    """A soft-prompt file damaged in the store after install: the request gets a 500 in
    OpenAI's shape naming the file and how to repair it, not a bare "internal error"; the
    server keeps answering other models."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(soft_home, home)
    (damaged,) = home.rglob("task.safetensors")
    damaged.chmod(0o644)
    damaged.write_bytes(b"not a safetensors file")
    server = start_server(home)
    try:
        with pytest.raises(openai.InternalServerError) as caught:
            _ask(server, "expert-soft", PROMPT)
        error = caught.value.body
        assert isinstance(error, dict)
        assert "expert-soft" in error["message"] and "task.safetensors" in error["message"]
        assert "hxpm verify --store" in error["message"]  # the hint, as OpenAI clients show it
        assert "Traceback" not in error["message"]
        assert error["code"] in {"inference", "verification"}
        assert _ask(server, BASE, PROMPT).choices[0].message.content  # still serving
    finally:
        stop_server(server)
