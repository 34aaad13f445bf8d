"""Regenerate demo/content: a tiny random-weight Qwen3-shaped base and two small experts.

The weights are RANDOM: this content exists so that the package-manager flow (package, sign,
trust, install, verify) runs offline in seconds. Run from the repository root:

    .venv/bin/python demo/make_content.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hxpm.core.digest import base_model_digest  # noqa: E402
from tests.factories import adapter_config, write_safetensors  # noqa: E402

BASE_NAME = "hxpm/tiny-qwen3"
HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN, VOCAB = 64, 2, 4, 2, 16, 128, 272


def make_base(out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM, "intermediate_size": FFN,
        "vocab_size": VOCAB, "max_position_embeddings": 512, "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0, "tie_word_embeddings": True, "torch_dtype": "float32",
        "hidden_act": "silu", "attention_bias": False,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    t: dict[str, tuple[str, list[int]]] = {"model.embed_tokens.weight": ("F32", [VOCAB, HIDDEN]),
                                           "model.norm.weight": ("F32", [HIDDEN])}
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        t[f"{p}.self_attn.q_proj.weight"] = ("F32", [HEADS * HEAD_DIM, HIDDEN])
        t[f"{p}.self_attn.k_proj.weight"] = ("F32", [KV_HEADS * HEAD_DIM, HIDDEN])
        t[f"{p}.self_attn.v_proj.weight"] = ("F32", [KV_HEADS * HEAD_DIM, HIDDEN])
        t[f"{p}.self_attn.o_proj.weight"] = ("F32", [HIDDEN, HEADS * HEAD_DIM])
        t[f"{p}.self_attn.q_norm.weight"] = ("F32", [HEAD_DIM])
        t[f"{p}.self_attn.k_norm.weight"] = ("F32", [HEAD_DIM])
        for m, shape in (("gate_proj", [FFN, HIDDEN]), ("up_proj", [FFN, HIDDEN]),
                         ("down_proj", [HIDDEN, FFN])):
            t[f"{p}.mlp.{m}.weight"] = ("F32", shape)
        t[f"{p}.input_layernorm.weight"] = ("F32", [HIDDEN])
        t[f"{p}.post_attention_layernorm.weight"] = ("F32", [HIDDEN])
    write_safetensors(out / "model.safetensors", t, seed=1)
    return base_model_digest(out)


def make_expert(out: Path, name: str, version: str, base_sha: str, *, requires: list[str],
                keywords: list[str], capabilities: list[str], load_order: int, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    r = 4
    manifest = {
        "name": name, "version": version, "schema_version": "2.0",
        "description": f"Demo {name} (random weights: a packaging demo, not a trained model)",
        "license": "Apache-2.0", "author": "hxpm demo",
        "base_models": [{"name": BASE_NAME, "sha256": base_sha, "prompt_template": "chatml",
                         "adapters": [{"type": "lora", "r": r, "alpha": 2 * r,
                                       "target_modules": ["q_proj", "v_proj"]}]}],
        "capabilities": capabilities,
        "routing": {"keywords": keywords, "priority": 0.8},
        "constraints": {"requires": requires, "incompatible_with": [],
                        "load_order": load_order, "max_chain": 10},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "adapter_config.json").write_text(json.dumps(adapter_config(BASE_NAME, r), indent=2)
                                             + "\n")
    tensors: dict[str, tuple[str, list[int]]] = {}
    for i in range(LAYERS):
        for mod, out_dim in (("q_proj", HEADS * HEAD_DIM), ("v_proj", KV_HEADS * HEAD_DIM)):
            prefix = f"base_model.model.model.layers.{i}.self_attn.{mod}"
            tensors[f"{prefix}.lora_A.weight"] = ("F32", [r, HIDDEN])
            tensors[f"{prefix}.lora_B.weight"] = ("F32", [out_dim, r])
    write_safetensors(out / "adapter_model.safetensors", tensors, seed=seed)
    (out / "README.md").write_text(f"# {name}\n\nDemo content with random weights.\n")


def main() -> None:
    content = ROOT / "demo" / "content"
    base_sha = make_base(content / "tiny-qwen3")
    make_expert(content / "expert-json", "expert-json", "0.4.1", base_sha, requires=[],
                keywords=["json", "json schema"], capabilities=["format:json"], load_order=2,
                seed=2)
    make_expert(content / "expert-sql", "expert-sql", "0.3.0", base_sha,
                requires=["expert-json@>=0.4"], keywords=["sql", "select", "group by"],
                capabilities=["tech:sql"], load_order=6, seed=3)
    print(f"demo content written to {content} (base sha256 {base_sha})")


if __name__ == "__main__":
    main()
