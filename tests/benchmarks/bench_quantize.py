"""Quantized bases: weight memory and tokens/s of int8/int4 (torchao) against the full base.

Run: .venv/bin/python tests/benchmarks/bench_quantize.py [--tokens N] [--repeat N]
     [--hidden H] [--layers L] [--device cpu|cuda] [--json]

It builds a random Qwen3 (default hidden 1024 x 8 layers, Qwen3-0.6B's width; byte-level
tokenizer) and one LoRA expert (r=8 on the seven projections), then for each of none, int8
and int4 measures:

* the bytes the Linear weights take (torchao tensors counted by their inner storage);
* tokens/s of the bare base and of the base with the expert (merged on the full base, which
  is hxpm's default; unmerged through peft's layers on a quantized base, where merging is
  impossible), greedy, N tokens, median of R runs.

The numbers are what this machine gives; on a CPU, weight-only quantization saves memory
and usually costs speed (the weights are dequantized per matmul): the table says how much.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common  # noqa: F401 -- puts the checkout on sys.path

try:
    import torch

    from hxpm.core.digest import base_model_digest
    from hxpm.runtime.quantize import is_quantized_weight
    from hxpm.runtime.session import AdapterRef, BaseRef, GenerationConfig, LoadOptions, Session
    from tests.runtime.conftest import ATTN, MLP, make_adapter, make_tiny_base
except ImportError as e:  # pragma: no cover
    raise SystemExit(f"bench_quantize needs the runtime extra and torchao: {e}") from e

PROMPT = "Write a short story about a robot learning to paint."


def linear_weight_bytes(model: torch.nn.Module) -> int:
    """Bytes held by the Linear weights (a quantized tensor: its inner tensors)."""
    total = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            total += tensor_bytes(module.weight)
    return total


def tensor_bytes(t: torch.Tensor) -> int:
    if is_quantized_weight(t):
        names, _ = t.__tensor_flatten__()  # type: ignore[attr-defined]
        return sum(tensor_bytes(getattr(t, n)) for n in names)
    return t.numel() * t.element_size()


def tokens_per_s(session: Session, adapters: list[AdapterRef], tokens: int, repeat: int) -> float:
    session.use(adapters)
    config = GenerationConfig(max_new_tokens=tokens)
    session.generate(PROMPT, GenerationConfig(max_new_tokens=4))  # warm-up
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = session.generate(PROMPT, config)
        rates.append(result.new_tokens / (time.perf_counter() - t0))
    session.use([])
    return statistics.median(rates)


def measure(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    base_dir = make_tiny_base(
        root / "base",
        hidden=args.hidden,
        layers=args.layers,
        heads=args.hidden // 64,
        kv_heads=max(1, args.hidden // 128),
        intermediate=3 * args.hidden,
        context=4096,
    )
    expert = make_adapter(base_dir, root / "lora", "lora", seed=1, targets=ATTN + MLP, r=8)
    base = BaseRef("bench", base_dir, base_model_digest(base_dir))
    ref = AdapterRef("expert-bench", "1.0.0", expert, base_sha256=base.sha256)
    rows = []
    for mode in (None, "int8", "int4"):
        t0 = time.perf_counter()
        session = Session(base, device=args.device, options=LoadOptions(quantization=mode))
        load_s = time.perf_counter() - t0
        try:
            rows.append(
                {
                    "quantization": mode or "none",
                    "linear_weight_mb": linear_weight_bytes(session.model) / 2**20,
                    "load_s": load_s,
                    "bare_tokens_per_s": tokens_per_s(session, [], args.tokens, args.repeat),
                    "expert_tokens_per_s": tokens_per_s(session, [ref], args.tokens, args.repeat),
                    "expert_merged": mode is None,
                }
            )
        finally:
            session.close()
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hxpm-bench-quantize-") as tmp:
        rows = measure(args, Path(tmp))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    device = args.device if args.device == "cpu" else torch.cuda.get_device_name()
    print(
        f"\nquantized bases on {device} ({torch.get_num_threads()} threads), random Qwen3 "
        f"hidden {args.hidden} x {args.layers} layers, LoRA r=8 on 7 projections, "
        f"{args.tokens} tokens"
    )
    full = rows[0]
    print(
        f"{'quantization':<13} {'Linear MB':>10} {'x full':>7} {'bare tok/s':>11} "
        f"{'x full':>7} {'expert tok/s':>13} {'x full':>7}"
    )
    for r in rows:
        print(
            f"{r['quantization']:<13} {r['linear_weight_mb']:>10.1f} "
            f"{r['linear_weight_mb'] / full['linear_weight_mb']:>7.2f} "
            f"{r['bare_tokens_per_s']:>11.1f} "
            f"{r['bare_tokens_per_s'] / full['bare_tokens_per_s']:>7.2f} "
            f"{r['expert_tokens_per_s']:>13.1f} "
            f"{r['expert_tokens_per_s'] / full['expert_tokens_per_s']:>7.2f}"
            + ("  (expert merged)" if r["expert_merged"] else "  (expert unmerged)")
        )


if __name__ == "__main__":
    main()
