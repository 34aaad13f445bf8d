"""route, run, chat, export. Only run and chat load the runtime, inside their bodies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hxpm.cli.options import BaseOpt, JsonOpt
from hxpm.cli.output import emit_json, escape, inert, say, table
from hxpm.store.store import Store

export_app = typer.Typer(help="Hand installed experts to serving engines.", no_args_is_help=True)
ExpertsOpt = Annotated[
    str | None,
    typer.Option(
        "--expert",
        "--experts",
        metavar="A,B",
        help="Use these experts (and what they require) instead of routing; '' for the bare base.",
    ),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
GrammarOpt = Annotated[
    Path | None,
    typer.Option("--grammar", metavar="FILE", help="Constrain the answer to this GBNF grammar."),
]
JsonSchemaOpt = Annotated[
    Path | None,
    typer.Option(
        "--json-schema", metavar="FILE", help="Constrain the answer to JSON valid by this schema."
    ),
]
QuantizeOpt = Annotated[
    str | None,
    typer.Option(
        "--quantize",
        metavar="int8|int4|bf16|fp16|none",
        help="Load the base so, whatever the experts' manifests ask (docs/runtime.md).",
    ),
]


def route(
    prompt: Annotated[str | None, typer.Argument(metavar="[PROMPT]")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show every score and why.")] = False,
    eval_file: Annotated[
        Path | None,
        typer.Option(
            "--eval",
            metavar="FILE",
            help="Measure routing on labelled prompts (TSV 'prompt<TAB>expert|none', or JSONL).",
        ),
    ] = None,
    base: BaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show which installed experts would answer PROMPT (no model is loaded)."""
    if (prompt is None) == (eval_file is None):
        from hxpm.errors import UsageError

        raise UsageError(
            "give a PROMPT or --eval FILE (one of the two)",
            hint='hxpm route "write a SQL query ..."  or  hxpm route --eval prompts.tsv',
        )
    if eval_file is not None:
        _route_eval(eval_file, base, as_json)
        return
    assert prompt is not None
    from hxpm.cli.render_route import render_routed
    from hxpm.services.routing import route_prompt

    render_routed(
        route_prompt(Store.from_env(), prompt, base=base), as_json=as_json, explain=explain
    )


def _route_eval(path: Path, base: str | None, as_json: bool) -> None:
    from hxpm.services.routing import evaluate_routing

    report = evaluate_routing(Store.from_env(), path, base=base)
    if as_json:
        emit_json("route-eval", {k: v for k, v in report.to_dict().items() if k != "schema"})
        return
    say(
        f"[bold]accuracy {report.accuracy:.1%}[/] ({report.correct}/{report.total} prompts, "
        f"{report.experts} experts); slowest decision {report.slowest_ms:.2f} ms "
        f"({escape(repr(report.slowest_prompt[:60]))}), mean {report.mean_ms:.3f} ms"
    )

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    table(
        ["expected", "prompts", "routed here", "precision", "recall"],
        [
            (c.name, str(c.support), str(c.predicted), pct(c.precision), pct(c.recall))
            for c in report.classes
        ],
    )
    table(["expected", "chosen", "count"], [(e, c, str(n)) for e, c, n in report.confusion])
    if report.errors:
        table(
            ["where", "expected", "chosen", "prompt"],
            [(w, e, c, p) for w, p, e, c in report.errors],
        )


def run(
    prompt: Annotated[str, typer.Option("--prompt", "-p", metavar="TEXT")],
    experts: ExpertsOpt = None,
    base: BaseOpt = None,
    max_new_tokens: Annotated[int | None, typer.Option("--max-new-tokens", min=1)] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", min=0.0)] = None,
    top_p: Annotated[float | None, typer.Option("--top-p", min=0.0, max=1.0)] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=0)] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    device: DeviceOpt = "auto",
    quantize: QuantizeOpt = None,
    grammar: GrammarOpt = None,
    json_schema: JsonSchemaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer one prompt with the routed (or named) experts stacked on the base model."""
    from hxpm.services.run import DecodingOverrides, run_once

    overrides = DecodingOverrides(
        max_new_tokens, temperature, top_p, top_k, seed, grammar=grammar, json_schema=json_schema
    )
    stream = not as_json and sys.stdout.isatty()
    record = run_once(
        Store.from_env(),
        prompt,
        experts=_split(experts),
        base=base,
        overrides=overrides,
        device=device,
        on_text=_write if stream else None,
        quantize=quantize,
    )
    if as_json:
        emit_json("run", {k: v for k, v in record.to_dict().items() if k != "schema"})
        return
    _render_run(record.to_dict(), streamed=stream)


def _split(experts: str | None) -> list[str] | None:
    if experts is None:
        return None
    return [e.strip() for e in experts.split(",") if e.strip()]


def _write(text: str) -> None:
    # Generated text comes from the package's adapter: inert, like any package string.
    sys.stdout.write(inert(text))
    sys.stdout.flush()


def _render_run(d: dict[str, Any], *, streamed: bool) -> None:
    if streamed:
        sys.stdout.write("\n")
    else:
        sys.stdout.write(inert(d["output"]) + "\n")
    sys.stdout.flush()  # the summary goes to stderr: keep the order on a shared terminal
    used = ", ".join(f"{e['name']} {e['version']}" for e in d["experts"]) or "none (bare base)"
    from hxpm.cli.output import console

    grammar = (d.get("decoding") or {}).get("grammar")
    constrained = (
        f"; constrained by {escape(grammar['source'])} ({escape(grammar['kind'])})"
        if grammar
        else ""
    )
    console(stderr=True).print(
        f"[dim]experts: {escape(used)} — {escape(d['why'])}{constrained}; "
        f"{d['tokens']['generated']} tokens, {d['tokens_per_s']} tok/s, "
        f"stopped by {d['stopped_by']}[/]"
    )


def chat(
    experts: ExpertsOpt = None,
    base: BaseOpt = None,
    max_new_tokens: Annotated[int | None, typer.Option("--max-new-tokens", min=1)] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", min=0.0)] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    device: DeviceOpt = "auto",
    grammar: GrammarOpt = None,
    json_schema: JsonSchemaOpt = None,
    max_loaded: Annotated[
        int, typer.Option("--max-loaded", min=1, help="Adapters kept attached (LRU).")
    ] = 8,
    quantize: QuantizeOpt = None,
) -> None:
    """Chat with the base model kept loaded: /experts a,b  /auto  /exit."""
    from hxpm.cli.chat_loop import chat_loop
    from hxpm.services.run import DecodingOverrides

    chat_loop(
        Store.from_env(),
        experts=_split(experts),
        base=base,
        overrides=DecodingOverrides(
            max_new_tokens, temperature, None, None, seed, grammar=grammar, json_schema=json_schema
        ),
        device=device,
        max_loaded=max_loaded,
        quantize=quantize,
    )


@export_app.command("vllm")
def export_vllm(
    names: Annotated[list[str] | None, typer.Argument(metavar="[NAME...]")] = None,
    base: BaseOpt = None,
    max_lora_rank: Annotated[
        int | None,
        typer.Option(
            "--max-lora-rank",
            min=1,
            help="vLLM's --max-lora-rank (default: the smallest allowed value that fits).",
        ),
    ] = None,
    max_loras: Annotated[
        int | None,
        typer.Option("--max-loras", min=1, help="vLLM's --max-loras (default: one per module)."),
    ] = None,
    merge_stack: Annotated[
        bool,
        typer.Option(
            "--merge-stack",
            help="Serve each expert that requires others as one LoRA equal to "
            "its stack (written and checked against `hxpm run`; needs the runtime).",
        ),
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="DIR",
            help="Where --merge-stack writes (default: HXPM_HOME/exports/vllm).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a `vllm serve` command serving the resolved set as LoRA modules (checked)."""
    from hxpm.services.export import export_vllm as run_export

    result = run_export(
        Store.from_env(),
        names or [],
        base=base,
        max_lora_rank=max_lora_rank,
        max_loras=max_loras,
        merge_stack=merge_stack,
        out_dir=out_dir.resolve() if out_dir else None,
    )
    if as_json:
        import json

        sys.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return
    sys.stdout.write(result.command + "\n")
    from hxpm.cli.output import console

    err = console(stderr=True)
    for m in result.modules:
        check = m.check
        if check is not None:
            err.print(
                f"[dim]{escape(m.module.name)}: {escape(' + '.join(m.stack))} merged "
                f"into one LoRA of rank {m.rank}; max |logit diff| vs `hxpm run` "
                f"{check['max_abs_diff']:.2e} (allowed {check['allowed']:.1e})[/]"
            )
    for s in result.skipped:
        err.print(f"[yellow]skipped {escape(s.name)}:[/] {escape(s.reason)}")
    for note in result.notes:
        err.print(f"[dim]note: {escape(note)}[/]")


def register(app: typer.Typer) -> None:
    app.command()(route)
    app.command()(run)
    app.command()(chat)
    app.add_typer(export_app, name="export")
