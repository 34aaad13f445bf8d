"""Build ``models/tiny-qwen3``: hxpm's built-in demo base model.

A Qwen3-architecture causal LM of about 3.5 MB with RANDOM (seeded) weights and a byte-level
tokenizer (256 byte tokens + ``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``) whose
``chat_template`` is ChatML. It exists so that the whole hxpm flow (train, package, sign,
install, run, eval) works offline on a CPU in seconds; on its own it knows nothing and its
outputs are noise. The demo experts in ``experts/`` are LoRA/DoRA adapters trained on it.

Deterministic: every file is written by this script (no library version or timestamp in
them), so running it twice gives the same bytes and the same base digest.

    .venv/bin/python models/make_tiny_qwen3.py            # rebuild models/tiny-qwen3
    .venv/bin/python models/make_tiny_qwen3.py --out DIR  # somewhere else
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hxpm.core.digest import base_model_digest  # noqa: E402

BASE_NAME = "hxpm/tiny-qwen3"
SEED = 20240601
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, CONTEXT = 128, 4, 4, 2, 384, 512
HEAD_DIM = HIDDEN // HEADS
INIT_STD = 0.05  # weight matrices ~ N(0, INIT_STD); norms = 1
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
VOCAB = 256 + len(SPECIAL_TOKENS)
PAD_ID, BOS_ID, EOS_ID = 256, 257, 258  # <|endoftext|>, <|im_start|>, <|im_end|>
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _dump(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def model_config() -> dict:
    """config.json, written by hand: no transformers_version, so the digest is stable."""
    return {
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "vocab_size": VOCAB,
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "max_position_embeddings": CONTEXT,
        "initializer_range": INIT_STD,
        "rms_norm_eps": 1e-06,
        "rope_theta": 10000.0,
        "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"},
        "attention_bias": False,
        "attention_dropout": 0.0,
        "use_sliding_window": False,
        "sliding_window": None,
        "max_window_layers": LAYERS,
        "tie_word_embeddings": False,
        "use_cache": True,
        "pad_token_id": PAD_ID,
        "bos_token_id": None,
        "eos_token_id": EOS_ID,
        "dtype": "float32",
    }


def byte_alphabet() -> list[str]:
    """GPT-2's byte-to-unicode map, in byte order: token id i is byte i."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def write_tokenizer(out: Path) -> None:
    """A byte-level BPE tokenizer with no merges: 256 byte tokens + the ChatML specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {ch: i for i, ch in enumerate(byte_alphabet())}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    tok.save(str(out / "tokenizer.json"))
    _dump(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": None,
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
            "model_max_length": CONTEXT,
            "clean_up_tokenization_spaces": False,
            "chat_template": CHATML_TEMPLATE,
        },
    )
    _dump(
        out / "special_tokens_map.json",
        {
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        },
    )


def weight_shapes() -> dict[str, tuple[int, ...]]:
    """Every tensor of Qwen3ForCausalLM with this config, in a fixed order."""
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (VOCAB, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        shapes[f"{p}.input_layernorm.weight"] = (HIDDEN,)
        shapes[f"{p}.self_attn.q_proj.weight"] = (HEADS * HEAD_DIM, HIDDEN)
        shapes[f"{p}.self_attn.k_proj.weight"] = (KV_HEADS * HEAD_DIM, HIDDEN)
        shapes[f"{p}.self_attn.v_proj.weight"] = (KV_HEADS * HEAD_DIM, HIDDEN)
        shapes[f"{p}.self_attn.o_proj.weight"] = (HIDDEN, HEADS * HEAD_DIM)
        shapes[f"{p}.self_attn.q_norm.weight"] = (HEAD_DIM,)
        shapes[f"{p}.self_attn.k_norm.weight"] = (HEAD_DIM,)
        shapes[f"{p}.post_attention_layernorm.weight"] = (HIDDEN,)
        shapes[f"{p}.mlp.gate_proj.weight"] = (FFN, HIDDEN)
        shapes[f"{p}.mlp.up_proj.weight"] = (FFN, HIDDEN)
        shapes[f"{p}.mlp.down_proj.weight"] = (HIDDEN, FFN)
    shapes["model.norm.weight"] = (HIDDEN,)
    shapes["lm_head.weight"] = (VOCAB, HIDDEN)
    return shapes


def write_weights(out: Path, seed: int = SEED) -> None:
    """fp32 safetensors: matrices ~ N(0, INIT_STD) from one seeded generator, norms = 1."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, shape in weight_shapes().items():
        if len(shape) == 1:
            tensors[name] = torch.ones(shape, dtype=torch.float32)
        else:
            tensors[name] = torch.randn(shape, generator=gen, dtype=torch.float32) * INIT_STD
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "model.safetensors").chmod(0o644)


def write_readme(out: Path, digest: str) -> None:
    n_params = sum(_prod(s) for s in weight_shapes().values())
    text = f"""# tiny-qwen3 — hxpm's built-in demo base model (RANDOM WEIGHTS)

**This model knows nothing. Its weights are random numbers (seed {SEED}); on its own its
outputs are noise.** It exists so that everything in hxpm — training an expert, packaging,
signing, installing, running and evaluating it — works offline on a laptop CPU in seconds,
with no download. The demo experts in `experts/` are LoRA/DoRA adapters trained on top of it
for narrow, checkable tasks; they show the mechanics, not useful quality. For real work use a
real base such as `Qwen/Qwen3-0.6B`.

| | |
|---|---|
| name in manifests | `{BASE_NAME}` |
| architecture | `Qwen3ForCausalLM` (transformers), fp32 safetensors |
| size | hidden {HIDDEN}, {LAYERS} layers, {HEADS} attention heads / {KV_HEADS} KV heads (head dim {HEAD_DIM}), MLP {FFN}, context {CONTEXT}, untied LM head; {n_params:,} parameters |
| weights | every matrix ~ N(0, {INIT_STD}²) from `torch.Generator().manual_seed({SEED})`, every norm weight 1 |
| base digest | `{digest}` |

Tokenizer: byte-level BPE with no merges. Token ids 0-255 are the bytes 0-255; 256 is
`<|endoftext|>` (padding), 257 `<|im_start|>`, 258 `<|im_end|>` (end of turn, the EOS).
`tokenizer_config.json` holds a ChatML `chat_template`:

    <|im_start|>user
    PROMPT<|im_end|>
    <|im_start|>assistant

The base digest (DESIGN §6: SHA-256 over the sorted `"<sha256>  <path>"` lines of
`config.json` and `model.safetensors`) is also in `DIGEST`. Every demo expert's manifest
names it; hxpm refuses to load an expert onto a base with another digest.

Rebuild (deterministic: the same bytes every time):

    .venv/bin/python models/make_tiny_qwen3.py

Register it with hxpm:

    hxpm base add {BASE_NAME} --path models/tiny-qwen3
"""
    (out / "README.md").write_text(text, encoding="utf-8")


def _prod(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def build(out: Path, seed: int = SEED) -> str:
    """Write the whole model directory; return its base digest."""
    out.mkdir(parents=True, exist_ok=True)
    _dump(out / "config.json", model_config())
    _dump(
        out / "generation_config.json",
        {"eos_token_id": EOS_ID, "pad_token_id": PAD_ID, "do_sample": False},
    )
    write_tokenizer(out)
    write_weights(out, seed)
    digest = base_model_digest(out)
    (out / "DIGEST").write_text(digest + "\n", encoding="ascii")
    write_readme(out, digest)
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "tiny-qwen3")
    args = parser.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
