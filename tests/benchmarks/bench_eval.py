"""`hxpm eval` of a demo expert, whole process, beside what a user writes with plain
transformers + peft for the same job (docs/performance.md).

Each command scores the bare base and the base + expert on the expert's held-out set,
greedily, with the expert's max_new_tokens, as `hxpm eval` does:

* `hxpm eval experts/NAME` (batches of 16, the default) and `--batch-size 1`;
* the peer, this file run with `--peer`: `AutoModelForCausalLM` + `PeftModel.from_pretrained`
  on the expert's folder, the tokenizer's chat template, `model.generate` one prompt at a
  time, then 16 at a time with left padding (`disable_adapter()` for the base pass). It
  scores nothing: the generations are the cost.

Run: .venv/bin/python tests/benchmarks/bench_eval.py [--experts expert-sql,expert-json]
[--repeat 3]. Prints medians and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from common import ROOT, env_with_home, median_seconds, run_ok

HXPM = Path(sys.executable).parent / "hxpm"
BASE = ROOT / "models" / "tiny-qwen3"


def _peer(name: str, batch: int) -> None:
    """Both passes with plain transformers + peft (the peer's process)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(2)
    expert = ROOT / "experts" / name
    tokens = json.loads((expert / "manifest.json").read_text())["training"]["decoding"][
        "max_new_tokens"
    ]
    lines = (expert / "datasets" / "heldout.jsonl").read_text().splitlines()
    tokenizer = AutoTokenizer.from_pretrained(BASE)
    tokenizer.padding_side = "left"
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": json.loads(line)["prompt"]}],
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=False,
        )
        for line in lines
    ]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(BASE), expert)
    model.eval()

    def answers() -> None:
        for i in range(0, len(texts), batch):
            inputs = tokenizer(texts[i : i + batch], return_tensors="pt", padding=True)
            with torch.inference_mode():
                model.generate(
                    **inputs,
                    max_new_tokens=tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )

    with model.disable_adapter():
        answers()
    answers()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experts", default="expert-sql,expert-json")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        _peer(args.peer, args.batch)
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = env_with_home(Path(tmp) / "home")
        run_ok([HXPM, "base", "add", "hxpm/tiny-qwen3", "--path", BASE], env)
        # warm-up: torch's and the model's files in the page cache, bytecode written
        first = str(ROOT / "experts" / args.experts.split(",")[0])
        run_ok([HXPM, "eval", first, "--device", "cpu", "--limit", "1"], env)
        print(f"{'expert':<14} {'command':<42} {'median':>8} {'vs peer, 1 at a time':>22}")
        for name in args.experts.split(","):
            expert = str(ROOT / "experts" / name)
            peer = [sys.executable, __file__, "--peer", name]
            rows = {
                "hxpm eval (batches of 16)": [str(HXPM), "eval", expert, "--device", "cpu"],
                "hxpm eval --batch-size 1": [
                    *(str(HXPM), "eval", expert, "--device", "cpu", "--batch-size", "1"),
                ],
                "transformers+peft, 1 at a time": [*peer, "--batch", "1"],
                "transformers+peft, 16 at a time": [*peer, "--batch", "16"],
            }
            timed = {
                what: median_seconds(lambda c=cmd: run_ok(c, env), args.repeat)
                for what, cmd in rows.items()
            }
            peer_one = timed["transformers+peft, 1 at a time"]
            for what, seconds in timed.items():
                print(f"{name:<14} {what:<42} {seconds:>7.1f}s {seconds / peer_one:>21.2f}x")


if __name__ == "__main__":
    main()
