"""train and eval (both load the runtime inside their bodies)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hxpm.cli.options import BaseOpt, JsonOpt
from hxpm.cli.output import emit_json, escape, say, table, warn
from hxpm.store.store import Store

DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]


def train(
    expert_dir: Annotated[Path, typer.Argument(metavar="DIR")],
    base: BaseOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Makes the run reproducible.")] = 0,
    epochs: Annotated[float | None, typer.Option("--epochs", min=0.01)] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1)] = None,
    device: DeviceOpt = "auto",
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue from the newest checkpoint (save_steps)."),
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1, help="CPU threads (default: the usable CPUs)."),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option("--method", help="sft or dpo (default: training.config.method)."),
    ] = None,
    from_scratch: Annotated[
        bool,
        typer.Option("--from-scratch", help="DPO: start from a fresh adapter, not the SFT one."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train the expert DIR's manifest describes, on its requires stacked and frozen."""
    from hxpm.cli.progress import progress_display
    from hxpm.services.training import TrainRequest, train_expert

    request = TrainRequest(
        expert_dir,
        base=base,
        seed=seed,
        epochs=epochs,
        device=device,
        max_steps=max_steps,
        threads=threads,
        resume=resume,
        method=method,
        from_scratch=from_scratch,
    )
    with progress_display(enabled=not as_json) as display:
        result = train_expert(Store.from_env(), request, on_step=display.loss_step)
    if as_json:
        emit_json("train", _train_dict(result))
        return
    for w in result.warnings:
        warn(w)
    on = f" on {', '.join(result.requires)}" if result.requires else ""
    if result.preference is not None:
        before, after = result.preference
        say(f"held-out pairs with the chosen answer likelier: {before:.0%} -> {after:.0%}")
    if result.soft_prompt is not None:
        say(f"soft prompt in {escape(str(result.soft_prompt))} (declared in manifest.json)")
    if result.first_step > 1:
        say(f"resumed at step {result.first_step} from {escape(str(result.checkpoints))}")
    say(
        f"[green]trained[/] {escape(result.name)} {escape(str(result.version))}{escape(on)}: "
        f"{result.steps} steps, "
        f"loss {result.first_loss:.3f} -> {result.last_loss:.3f} in {result.seconds:.1f} s "
        f"({escape(str(result.device))}); weights in {escape(str(result.output_dir))}"
    )


def _train_dict(r: Any) -> dict[str, Any]:
    return {
        "name": r.name,
        "version": r.version,
        "base_model": r.base_model,
        "output_dir": str(r.output_dir),
        "steps": r.steps,
        "examples": r.examples,
        "first_loss": r.first_loss,
        "last_loss": r.last_loss,
        "seconds": r.seconds,
        "requires": list(r.requires),
        "mode": r.mode,
        "device": r.device,
        "warnings": list(r.warnings),
        "first_step": r.first_step,
        "eval_loss": r.eval_loss,
        "checkpoints": str(r.checkpoints) if r.checkpoints else None,
        "method": r.method,
        "preference": list(r.preference) if r.preference else None,
        "soft_prompt": str(r.soft_prompt) if r.soft_prompt else None,
    }


def eval_cmd(
    expert_dir: Annotated[Path | None, typer.Argument(metavar="[DIR]")] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            metavar="FILE",
            help="JSONL of prompt/completion (default: the recipe's held-out set).",
        ),
    ] = None,
    installed: Annotated[
        str | None,
        typer.Option(
            "--installed", metavar="NAME", help="Score an installed expert instead of DIR."
        ),
    ] = None,
    base: BaseOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            max=256,
            help="Items decoded together (1: one at a time); the scores are the same.",
        ),
    ] = 16,
    device: DeviceOpt = "auto",
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            metavar="NAME",
            help="exact_match, json_valid, json_exact, prefix_match, label, token_f1 or bleu "
            "(default: evaluation.metric).",
        ),
    ] = None,
    write: Annotated[
        bool,
        typer.Option("--write", help="Store the scores in DIR's manifest (quality_metrics)."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Score an expert (and the bare base) on a held-out set with the manifest's metric."""
    from hxpm.cli.progress import progress_display
    from hxpm.errors import UsageError
    from hxpm.services.evaluation import EvalRequest, evaluate_expert

    if (expert_dir is None) == (installed is None):
        raise UsageError("give an expert directory or --installed NAME (one of them)")
    with progress_display(enabled=not as_json) as display:
        result = evaluate_expert(
            Store.from_env(),
            EvalRequest(
                expert_dir,
                dataset,
                base=base,
                installed=installed,
                device=device,
                limit=limit,
                metric=metric,
                write=write,
                batch_size=batch_size,
            ),
            on_item=display.items("generating (base, then expert)"),
        )
    if as_json:
        emit_json("eval", {k: v for k, v in result.to_dict().items() if k != "schema"})
        return
    say(
        f"[bold]{escape(result.name)} {escape(str(result.version))}[/] on {result.n} "
        "held-out items "
        f"({escape(result.metric)}): base {result.base_score:.3f}, with the expert "
        f"{result.expert_score:.3f}"
    )
    if result.written is not None:
        say(f"recorded in {escape(str(expert_dir))}/manifest.json (quality_metrics)")
    table(
        ["prompt", "expected", "base", "expert"],
        [
            (e["prompt"][:40], e["expected"][:30], e["base_output"][:30], e["expert_output"][:30])
            for e in result.examples[:5]
        ],
    )


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command("eval")(eval_cmd)
