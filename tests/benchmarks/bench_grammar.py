"""Grammar-constrained decoding on the demo experts: exact match, validity, tokens/s.

    .venv/bin/python tests/benchmarks/bench_grammar.py [--limit N] [--json]

For expert-sql, expert-cypher and expert-json (committed weights, models/tiny-qwen3, CPU,
greedy as their manifests say) each held-out prompt is answered twice, without and with the
expert's grammar.gbnf, interleaved so that machine load hits both alike. Validity is judged
by llguidance's matcher; exact match compares with the held-out completion.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "models/tiny-qwen3"
EXPERTS = ("expert-sql", "expert-cypher", "expert-json")


def bench_expert(session, name: str, limit: int) -> dict:
    from hxpm.runtime.grammar import GrammarSpec, grammar_accepts
    from hxpm.runtime.session import AdapterRef, GenerationConfig

    folder = ROOT / "experts" / name
    manifest = json.loads((folder / "manifest.json").read_text())
    digest = (TINY / "DIGEST").read_text().split()[0]
    order = manifest.get("constraints", {}).get("load_order", 0)
    session.use([AdapterRef(name, manifest["version"], folder, order, digest)])
    spec = GrammarSpec.gbnf((folder / "grammar.gbnf").read_text(), f"{name}/grammar.gbnf")
    max_new = manifest["training"]["decoding"]["max_new_tokens"]
    rows = [json.loads(line) for line in (folder / "datasets/heldout.jsonl").open()][:limit]
    stats = {mode: {"exact": 0, "valid": 0, "tokens": 0, "seconds": 0.0} for mode in ("off", "on")}
    for row in rows:
        for mode in ("off", "on"):
            config = GenerationConfig(
                max_new_tokens=max_new, grammar=spec if mode == "on" else None
            )
            started = time.perf_counter()
            out = session.generate(row["prompt"], config)
            s = stats[mode]
            s["seconds"] += time.perf_counter() - started
            s["tokens"] += out.new_tokens
            s["exact"] += out.text.strip() == row["completion"].strip()
            s["valid"] += grammar_accepts(spec, session.tokenizer, out.text)
    session.use([])
    result = {"prompts": len(rows)}
    for mode, s in stats.items():
        result[mode] = {
            "exact_match": round(s["exact"] / len(rows), 3),
            "valid": round(s["valid"] / len(rows), 3),
            "tokens_per_s": round(s["tokens"] / s["seconds"], 1),
        }
    result["overhead_pct"] = round(
        100 * (1 - result["on"]["tokens_per_s"] / result["off"]["tokens_per_s"]), 1
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100, help="held-out prompts per expert")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from hxpm.runtime.session import BaseRef, Session

    digest = (TINY / "DIGEST").read_text().split()[0]
    with Session(BaseRef("hxpm/tiny-qwen3", TINY, digest), device="cpu") as session:
        results = {name: bench_expert(session, name, args.limit) for name in EXPERTS}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| expert | prompts | exact match off/on | valid off/on | tok/s off/on | overhead |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        off, on = r["off"], r["on"]
        print(
            f"| {name} | {r['prompts']} | {off['exact_match']:.0%} / {on['exact_match']:.0%} | "
            f"{off['valid']:.0%} / {on['valid']:.0%} | {off['tokens_per_s']} / "
            f"{on['tokens_per_s']} | {r['overhead_pct']}% |"
        )


if __name__ == "__main__":
    main()
