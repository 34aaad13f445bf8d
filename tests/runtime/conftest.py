"""Real tiny models for the runtime tests: a random Qwen3 in Hugging Face format with a
byte-level tokenizer and a ChatML template, and peft adapters (LoRA, DoRA, IA³) made on it.

Everything is seeded and built once per test session (a few hundred KB, well under a second).
``make_tiny_base`` and ``make_adapter`` are plain functions so that the runtime benchmark can
build a bigger model the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from hxpm.core.digest import base_model_digest  # noqa: E402
from hxpm.runtime.loader import quiet_transformers  # noqa: E402

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")


def byte_alphabet() -> list[str]:
    """GPT-2's byte-to-unicode map, in byte order: token id i is byte i."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def write_tokenizer(out: Path, *, chat_template: str | None = CHATML_TEMPLATE) -> None:
    """A byte-level BPE tokenizer with no merges: 256 byte tokens + ChatML special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {ch: i for i, ch in enumerate(byte_alphabet())}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    tok.save(str(out / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "model_max_length": 4096,
    }
    if chat_template is not None:
        config["chat_template"] = chat_template
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def make_tiny_base(
    out: Path,
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int = 128,
    context: int = 512,
    seed: int = 0,
    chat_template: str | None = CHATML_TEMPLATE,
) -> Path:
    """A random Qwen3ForCausalLM saved as config.json + model.safetensors + tokenizer."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    write_tokenizer(out, chat_template=chat_template)
    config = Qwen3Config(
        vocab_size=256 + len(SPECIAL_TOKENS),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=hidden // heads,
        max_position_embeddings=context,
        tie_word_embeddings=False,
        pad_token_id=256,
        eos_token_id=258,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    with torch.no_grad():  # larger weights than the init's 0.02 std: outputs worth comparing
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.08)
    with quiet_transformers():
        model.save_pretrained(out)
    return out


def make_adapter(
    base_dir: Path,
    out: Path,
    kind: str,
    *,
    seed: int,
    targets: Sequence[str] = ("q_proj", "v_proj", "down_proj"),
    r: int = 4,
    alpha: int = 8,
) -> Path:
    """A peft adapter of ``kind`` ("lora", "dora", "ia3") with random non-zero weights."""
    from peft import IA3Config, LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    if kind == "ia3":
        ff = [t for t in targets if t in MLP and t == "down_proj"]
        config = IA3Config(target_modules=list(targets), feedforward_modules=ff)
    else:
        config = LoraConfig(
            r=r,
            lora_alpha=alpha,
            target_modules=list(targets),
            use_dora=kind == "dora",
            lora_dropout=0.0,
        )
    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(base_dir)
        peft_model = get_peft_model(model, config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_magnitude_vector" in name:  # DoRA: rescale the rows by 0.8-1.2
                p.mul_(0.8 + 0.4 * torch.rand(p.shape, generator=gen))
            elif "ia3_l" in name:
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=gen))
            elif "lora_" in name:  # peft starts B at zero: the adapter would change nothing
                p.copy_(0.15 * torch.randn(p.shape, generator=gen))
    with quiet_transformers():
        # No copy of the (targeted) embedding matrix: hxpm refuses adapters carrying base weights.
        peft_model.save_pretrained(out, save_embedding_layers=False)
    return out


@dataclass(frozen=True)
class TinyWorld:
    base: Path
    digest: str
    adapters: dict[str, Path]


ADAPTER_SPECS: dict[str, tuple[str, int, tuple[str, ...]]] = {
    "lora-a": ("lora", 1, ("q_proj", "v_proj", "down_proj")),
    "lora-b": ("lora", 2, ("k_proj", "v_proj", "o_proj", "up_proj")),
    "lora-c": ("lora", 3, ATTN + MLP),
    "dora-a": ("dora", 4, ("q_proj", "v_proj", "down_proj")),
    "dora-b": ("dora", 5, ("v_proj", "o_proj", "gate_proj")),
    "ia3-a": ("ia3", 6, ("k_proj", "v_proj", "down_proj")),
    "ia3-b": ("ia3", 7, ("v_proj", "down_proj")),
    "lora-emb": ("lora", 8, ("embed_tokens", "q_proj")),  # an Embedding: not merged
}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyWorld:
    root = tmp_path_factory.mktemp("runtime")
    base = make_tiny_base(root / "base")
    adapters = {
        name: make_adapter(base, root / name, kind, seed=seed, targets=targets)
        for name, (kind, seed, targets) in ADAPTER_SPECS.items()
    }
    return TinyWorld(base, base_model_digest(base), adapters)


@pytest.fixture(scope="session")
def base_ref(tiny: TinyWorld):
    from hxpm.runtime.session import BaseRef

    return BaseRef("tiny", tiny.base, tiny.digest)


@pytest.fixture(scope="session")
def ref(tiny: TinyWorld):
    """``ref("lora-a", load_order=3, ...)``: an AdapterRef for one of the built adapters."""
    from hxpm.runtime.session import AdapterRef

    def make(name: str, **kw):
        kw.setdefault("base_sha256", tiny.digest)
        return AdapterRef(name, kw.pop("version", "1.0.0"), tiny.adapters[name], **kw)

    return make


@pytest.fixture(scope="module")
def session(base_ref):
    """A CPU session shared by a test module (tests leave it on the bare base)."""
    from hxpm.runtime.session import Session

    s = Session(base_ref, device="cpu")
    yield s
    s.close()
