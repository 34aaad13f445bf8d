#!/usr/bin/env python3
"""Build hxpm's trained demo content: train, package, evaluate the seven experts in experts/.

The pipeline, run in a throw-away store (a temporary HXPM_HOME, never the user's):

1. register ``models/tiny-qwen3`` as ``hxpm/tiny-qwen3`` and check that every expert manifest
   names its base digest;
2. for each expert, in dependency order (what it ``requires`` first):
   ``hxpm train experts/<name> --seed 0`` (hxpm's own trainer: the adapter trains on top of
   its installed requires closure; an expert that ships preference pairs, the
   document-classifier, then gets ``hxpm train --method dpo`` on top), then
   ``hxpm package`` and install the package into the build store (unsigned, allowed there
   only), so that its dependents can train on top;
3. ``hxpm eval`` every expert on its held-out set (the bare base vs base + closure + expert,
   greedy decoding) and write the scores into each README (between ``<!-- scores -->`` and
   ``<!-- /scores -->``) and into ``experts/SCORES.json``;
4. package every expert again into ``experts/<name>/dist/`` (the README now has its scores);
   scripts/build_demo_index.py then signs them with the demo key and rewrites index/.

The trained ``adapter_config.json`` and ``adapter_model.safetensors`` are written into each
expert folder. Run from anywhere (about 5-10 minutes on 2 CPU cores):

    .venv/bin/python scripts/build_demo_content.py
    .venv/bin/python scripts/build_demo_content.py --only expert-sql   # retrain one expert
    .venv/bin/python scripts/build_demo_content.py --eval-only         # re-score, no training

With ``--only``, the experts not named are installed from their committed weights (they must
have been trained before) and keep their scores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hxpm.core.digest import base_model_digest  # noqa: E402
from hxpm.core.manifest import Manifest  # noqa: E402

BASE_NAME = "hxpm/tiny-qwen3"
BASE_DIR = ROOT / "models" / "tiny-qwen3"
EXPERTS_DIR = ROOT / "experts"
SCORES_FILE = EXPERTS_DIR / "SCORES.json"
SEED = 0
MARK_OPEN, MARK_CLOSE = "<!-- scores -->", "<!-- /scores -->"
EXPERTS = (
    "expert-json",
    "expert-english-basic",
    "expert-cypher",
    "expert-sql",
    "expert-python",
    "expert-rust",
    "expert-document-classifier",
)


def log(msg: str) -> None:
    print(msg, flush=True)


# --- the release hook ------------------------------------------------------------------------


# --- helpers ---------------------------------------------------------------------------------


def load_manifests(names: Sequence[str]) -> dict[str, Manifest]:
    return {n: Manifest.load(EXPERTS_DIR / n / "manifest.json") for n in names}


def dependency_order(manifests: dict[str, Manifest]) -> list[str]:
    """Names ordered so that every expert comes after what it requires (then load order)."""
    done: list[str] = []
    pending = sorted(manifests, key=lambda n: (manifests[n].load_order, n))
    while pending:
        ready = [
            n
            for n in pending
            if all(r.name in done or r.name not in manifests for r in manifests[n].requires)
        ]
        if not ready:
            raise SystemExit(f"requires cycle among {', '.join(pending)}")
        done.append(ready[0])
        pending.remove(ready[0])
    return done


def requires_closure(manifests: dict[str, Manifest], names: Sequence[str]) -> set[str]:
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(r.name for r in manifests[name].requires if r.name in manifests)
    return out


def check_digests(manifests: dict[str, Manifest], update: bool) -> str:
    digest = base_model_digest(BASE_DIR)
    recorded = (BASE_DIR / "DIGEST").read_text(encoding="ascii").strip()
    if digest != recorded:
        raise SystemExit(
            f"{BASE_DIR}: base digest {digest} differs from DIGEST {recorded}; "
            "rebuild it with models/make_tiny_qwen3.py"
        )
    for name, m in manifests.items():
        variant = m.variant_for(BASE_NAME)
        if variant.sha256 == digest:
            continue
        if not update:
            raise SystemExit(
                f"{name}: manifest names base digest {variant.sha256!r}, the base "
                f"is {digest}; rerun with --update-digests"
            )
        path = EXPERTS_DIR / name / "manifest.json"
        raw = json.loads(path.read_text(encoding="utf-8"))
        for entry in raw["base_models"]:
            if entry["name"] == BASE_NAME:
                entry["sha256"] = digest
        path.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        log(f"  {name}: manifest base digest updated")
    return digest


def package_into(expert_dir: Path, out_dir: Path) -> Path:
    from hxpm.services.packaging import package_directory

    built = package_directory(expert_dir, base=BASE_NAME, out_dir=out_dir)
    return built[0].path


def install_unsigned(store, package: Path) -> None:
    from hxpm.services.install import InstallOptions, install_package_file

    install_package_file(
        store, package, options=InstallOptions(unsafe_allow_unsigned=True, force_reinstall=True)
    )


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def fmt(x: float) -> str:
    return f"{x:.2f}"


def scores_block(name: str, ev: dict, train: dict | None) -> str:
    """The README section between the markers."""
    lines = [
        MARK_OPEN,
        "| metric | held-out items | base alone | base + expert |",
        "|---|---|---|---|",
        f"| `{ev['metric']}` | {ev['n']} | {fmt(ev['base'])} | **{fmt(ev['expert'])}** |",
        "",
        f"Measured by `scripts/build_demo_content.py` with `hxpm eval` (greedy decoding) on "
        f"`datasets/heldout.jsonl`, after `hxpm train --seed {SEED}`"
        + (
            f" ({train['steps']} steps, final training loss {train['last_loss']:.3f})"
            if train
            else ""
        )
        + ".",
    ]
    if ev.get("experts") and len(ev["experts"]) > 1:
        lines.append(
            f"The expert pass runs the whole set, in load order: {', '.join(ev['experts'])}."
        )
    lines.append(MARK_CLOSE)
    return "\n".join(lines)


def write_readme_scores(expert_dir: Path, block: str) -> None:
    path = expert_dir / "README.md"
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(MARK_OPEN) + r".*?" + re.escape(MARK_CLOSE), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{path}: no {MARK_OPEN} ... {MARK_CLOSE} section to fill in")
    path.write_text(pattern.sub(lambda _m: block, text, count=1), encoding="utf-8")


def read_scores() -> dict:
    if SCORES_FILE.is_file():
        return json.loads(SCORES_FILE.read_text(encoding="utf-8"))
    return {}


# --- the pipeline ----------------------------------------------------------------------------


def build(
    only: Sequence[str],
    *,
    eval_only: bool,
    update_digests: bool,
    threads: int | None,
    keep_home: bool,
) -> int:
    started = time.perf_counter()
    manifests = load_manifests(EXPERTS)
    order = dependency_order(manifests)
    selected = [n for n in order if not only or n in only]
    needed = requires_closure(manifests, selected)  # selected + what they need installed
    digest = check_digests(manifests, update_digests)
    if update_digests:
        manifests = load_manifests(EXPERTS)
    home = Path(tempfile.mkdtemp(prefix="hxpm-demo-build-"))
    os.environ["HXPM_HOME"] = str(home)  # read at call time by hxpm: only this build's store
    log(f"build store: {home}\nbase {BASE_NAME}: {digest}\norder: {', '.join(order)}")

    import torch

    from hxpm.services.bases import add_base
    from hxpm.services.evaluation import EvalRequest, evaluate_expert
    from hxpm.services.training import TrainRequest, train_expert
    from hxpm.store.store import Store

    # Generation runs on one thread: the model is tiny, and two OpenMP pools competing for
    # the same cores (another process on the machine) make token-by-token decoding 20x
    # slower. Training uses ``threads`` (default: every core this process may use).
    train_threads = threads or usable_cpus()
    torch.set_num_threads(1)
    store = Store.from_env()
    trained: dict[str, dict] = {}
    evals: dict[str, dict] = {}
    timings: dict[str, float] = {}
    try:
        add_base(store, BASE_NAME, BASE_DIR)
        staging = home / "dist"
        for name in order:
            expert_dir = EXPERTS_DIR / name
            if name not in needed:
                continue
            if name in selected and not eval_only:
                t0 = time.perf_counter()

                def on_step(step: int, total: int, loss: float, _n: str = name) -> None:
                    if step == 1 or step % 50 == 0 or step == total:
                        log(f"  {_n}: step {step}/{total} loss {loss:.4f}")

                log(f"train {name}")
                res = train_expert(
                    store,
                    TrainRequest(expert_dir, base=BASE_NAME, seed=SEED, threads=train_threads),
                    on_step=on_step,
                )
                trained[name] = {
                    "steps": res.steps,
                    "first_loss": res.first_loss,
                    "last_loss": res.last_loss,
                    "seconds": res.seconds,
                    "mode": res.mode,
                    "requires": list(res.requires),
                }
                timings[f"train {name}"] = time.perf_counter() - t0
                log(
                    f"  {name}: {res.steps} steps in {res.seconds:.1f}s ({res.mode}), loss "
                    f"{res.first_loss:.3f} -> {res.last_loss:.3f}"
                    + "".join(f"\n  warning: {w}" for w in res.warnings)
                )
                if _has_preference_pairs(expert_dir):
                    # Then DPO from the shipped preference pairs, on top of the SFT adapter,
                    # with the recipe's own training.dpo settings (docs/training.md).
                    log(f"train {name} (dpo)")
                    dpo = train_expert(
                        store,
                        TrainRequest(
                            expert_dir,
                            base=BASE_NAME,
                            seed=SEED,
                            threads=train_threads,
                            method="dpo",
                        ),
                        on_step=on_step,
                    )
                    trained[name]["dpo"] = {
                        "steps": dpo.steps,
                        "first_loss": dpo.first_loss,
                        "last_loss": dpo.last_loss,
                        "seconds": dpo.seconds,
                    }
                    log(
                        f"  {name}: dpo {dpo.steps} steps in {dpo.seconds:.1f}s, loss "
                        f"{dpo.first_loss:.3f} -> {dpo.last_loss:.3f}"
                    )
            if not (expert_dir / "adapter_model.safetensors").is_file():
                raise SystemExit(f"{name} has no trained weights; train it first")
            install_unsigned(store, package_into(expert_dir, staging / name))
            log(f"  {name}: packaged and installed into the build store")

        scores = read_scores()
        for name in selected:
            t0 = time.perf_counter()
            log(f"eval {name}")
            out = evaluate_expert(store, EvalRequest(EXPERTS_DIR / name, None, base=BASE_NAME))
            timings[f"eval {name}"] = time.perf_counter() - t0
            evals[name] = {
                "metric": out.metric,
                "n": out.n,
                "base": out.base_score,
                "expert": out.expert_score,
                "experts": list(out.experts),
            }
            log(
                f"  {name}: {out.metric} base {out.base_score:.3f} -> expert "
                f"{out.expert_score:.3f} (n={out.n}, {out.seconds:.1f}s)"
            )
            for ex in out.examples[:2]:
                log(
                    f"    prompt {ex['prompt']!r}\n    want   {ex['expected']!r}\n"
                    f"    base   {ex['base_output'][:60]!r}\n    expert {ex['expert_output']!r}"
                )
            write_readme_scores(
                EXPERTS_DIR / name, scores_block(name, evals[name], trained.get(name))
            )
            scores[name] = {
                "metric": out.metric,
                "n": out.n,
                "base": round(out.base_score, 4),
                "expert": round(out.expert_score, 4),
            }
        ordered = {n: scores[n] for n in order if n in scores}
        SCORES_FILE.write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")

        for name in selected:
            dist = EXPERTS_DIR / name / "dist"
            if dist.is_dir():
                for old in dist.glob("*.expert*"):
                    old.unlink()
            package_into(EXPERTS_DIR / name, dist)
    finally:
        store.close()
        if keep_home:
            log(f"kept the build store at {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)

    total = time.perf_counter() - started
    log("\nsummary (metric: base alone -> base + expert):")
    for name in selected:
        ev = evals[name]
        tr = trained.get(name)
        extra = f", {tr['steps']} steps, {tr['seconds']:.0f}s training" if tr else ""
        log(
            f"  {name:28s} {ev['metric']:12s} {ev['base']:.2f} -> {ev['expert']:.2f} "
            f"(n={ev['n']}{extra}, eval {timings[f'eval {name}']:.0f}s)"
        )
    log(f"total {total:.0f}s")
    return 0


def _has_preference_pairs(expert_dir: Path) -> bool:
    manifest = json.loads((expert_dir / "manifest.json").read_text(encoding="utf-8"))
    dataset = manifest.get("training", {}).get("dataset", {})
    return bool(dataset.get("preference_path"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated expert names to (re)build")
    parser.add_argument(
        "--eval-only",
        action="store_true",
        help="no training: package, install and evaluate the committed weights",
    )
    parser.add_argument(
        "--update-digests",
        action="store_true",
        help="rewrite the manifests' base digest to the committed base's",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for training (default: all cores); evaluation uses 1",
    )
    parser.add_argument("--keep-home", action="store_true", help="keep the build store")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [n for n in only if n not in EXPERTS]
    if unknown:
        parser.error(f"unknown expert(s): {', '.join(unknown)}; known: {', '.join(EXPERTS)}")
    return build(
        only,
        eval_only=args.eval_only,
        update_digests=args.update_digests,
        threads=args.threads,
        keep_home=args.keep_home,
    )


if __name__ == "__main__":
    raise SystemExit(main())
