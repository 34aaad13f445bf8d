"""dataset validate/stats/split/dedupe/convert (docs/datasets.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hxpm.cli.options import JsonOpt
from hxpm.cli.output import emit_json, escape, say, table
from hxpm.errors import DatasetError, UsageError

if TYPE_CHECKING:
    from hxpm.services.datasets import Distribution, WriteResult

dataset_app = typer.Typer(
    help="Check, measure, split, dedupe and convert JSONL training datasets.",
    no_args_is_help=True,
)

FileArg = Annotated[Path, typer.Argument(metavar="FILE", help=".jsonl, .jsonl.gz or .jsonl.zst")]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="FORMAT",
        help="text, prompt_completion, messages, instruction or preference (default: detect).",
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="OURS=THEIRS",
        help="Read the file's field THEIRS as OURS (repeatable), like field_mapping.",
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace existing output files.")]


def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours or not theirs:
            raise UsageError(f"--map {pair[:60]!r}: expected OURS=THEIRS, such as output=answer")
        mapping[ours] = theirs
    return mapping


@dataset_app.command("validate")
def validate(
    file: FileArg,
    fmt: FormatOpt = None,
    field_map: MapOpt = None,
    max_problems: Annotated[
        int, typer.Option("--max-problems", min=1, help="How many problems to list.")
    ] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Check every line; list the first problems with line and field (exit 1 if any)."""
    from hxpm.services.datasets import validate_dataset

    report = validate_dataset(
        file, fmt=fmt, field_mapping=_mapping(field_map), max_problems=max_problems
    )
    if as_json:
        emit_json(
            "dataset-validate",
            {
                "path": str(report.path),
                "ok": report.ok,
                "format": report.format,
                "records": report.records,
                "problem_count": report.problem_count,
                "problems": [
                    {"line": p.line, "field": p.field, "message": p.message, "expected": p.expected}
                    for p in report.problems
                ],
            },
        )
    else:
        status = "[green]ok[/]" if report.ok else f"[red]{report.problem_count} problem(s)[/]"
        say(
            f"{escape(str(report.path))}: {status}, {report.records} record(s), "
            f"format {escape(report.format or 'unknown')}"
        )
        for p in report.problems:
            say(f"  - {escape(p.message)}")
        if report.problem_count > len(report.problems):
            say(f"  [dim]… and {report.problem_count - len(report.problems)} more[/]")
    if not report.ok:
        raise typer.Exit(code=DatasetError.exit_code)


@dataset_app.command("stats")
def stats(
    file: FileArg,
    fmt: FormatOpt = None,
    field_map: MapOpt = None,
    base: Annotated[
        str | None,
        typer.Option("--base", metavar="NAME", help="Count tokens with this base's tokenizer."),
    ] = None,
    tokenizer: Annotated[
        Path | None,
        typer.Option("--tokenizer", metavar="DIR", help="A folder with tokenizer.json."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record count, duplicates, and length distributions (tokens with --base/--tokenizer)."""
    from hxpm.services.datasets import dataset_stats, resolve_tokenizer

    if base is not None and tokenizer is not None:
        raise UsageError("pass --base or --tokenizer, not both")
    store = None
    if base is not None:
        from hxpm.store.store import Store

        store = Store.from_env()
    source = resolve_tokenizer(store, base, tokenizer)
    s = dataset_stats(file, fmt=fmt, field_mapping=_mapping(field_map), tokenizer=source)
    if as_json:
        emit_json(
            "dataset-stats",
            {
                "path": str(s.path),
                "format": s.format,
                "records": s.records,
                "duplicates": s.duplicates,
                "chat_marked": s.chat_marked,
                "chars": _dist(s.chars),
                "tokens": _dist(s.tokens) if s.tokens else None,
                "tokenizer": str(s.tokenizer) if s.tokenizer else None,
            },
        )
        return
    say(f"{escape(str(s.path))}: {s.records} record(s), format {s.format}")
    say(f"duplicates: {s.duplicates}, text with chat markers: {s.chat_marked}")
    rows = [("chars", *_row(s.chars))]
    if s.tokens is not None:
        rows.append(("tokens", *_row(s.tokens)))
    table(["length", "min", "p50", "p95", "max", "mean"], rows)
    if s.tokens is None:
        say("[dim]token lengths: pass --base NAME or --tokenizer DIR[/]")


def _dist(d: Distribution) -> dict[str, Any]:
    return {"min": d.min, "p50": d.p50, "p95": d.p95, "max": d.max, "mean": d.mean}


def _row(d: Distribution) -> tuple[Any, ...]:
    return (d.min, d.p50, d.p95, d.max, d.mean)


def _render_written(
    kind: str, result: WriteResult, as_json: bool, extra: dict[str, Any] | None = None
) -> None:
    if as_json:
        emit_json(
            kind,
            {
                "format": result.format,
                "read": result.read,
                "outputs": [{"path": str(p), "records": n} for p, n in result.outputs],
                **(extra or {}),
            },
        )
        return
    say(f"read {result.read} {escape(result.format)} record(s)")
    table(["file", "records"], [(str(p), n) for p, n in result.outputs])


@dataset_app.command("split")
def split(
    file: FileArg,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", metavar="DIR", help="Where to write (default: FILE's folder)."),
    ] = None,
    ratios: Annotated[
        str, typer.Option("--ratios", metavar="T,V,T", help="train,validation,test fractions.")
    ] = "0.8,0.1,0.1",
    salt: Annotated[
        str, typer.Option("--salt", metavar="TEXT", help="Another (still fixed) split.")
    ] = "",
    fmt: FormatOpt = None,
    field_map: MapOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Split by a hash of each record into train/validation/test (same input, same split)."""
    from hxpm.services.datasets import parse_ratios, split_dataset

    result = split_dataset(
        file,
        out_dir if out_dir is not None else file.parent,
        ratios=parse_ratios(ratios),
        salt=salt,
        fmt=fmt,
        field_mapping=_mapping(field_map),
        overwrite=force,
    )
    _render_written("dataset-split", result, as_json)


@dataset_app.command("dedupe")
def dedupe(
    file: FileArg,
    out: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="OUT", help="Default: FILE.dedup.jsonl."),
    ] = None,
    fmt: FormatOpt = None,
    field_map: MapOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write FILE without exact duplicates (whitespace-normalized), first one kept."""
    from hxpm.services.datasets import dedupe_dataset

    target = out if out is not None else _beside(file, "dedup")
    result = dedupe_dataset(
        file, target, fmt=fmt, field_mapping=_mapping(field_map), overwrite=force
    )
    removed = result.read - result.outputs[0][1]
    _render_written("dataset-dedupe", result, as_json, {"removed": removed})
    if not as_json:
        say(f"removed {removed} duplicate(s)")


def _beside(file: Path, tag: str) -> Path:
    """``data.jsonl.gz`` -> ``data.TAG.jsonl`` in the same folder."""
    name = file.name
    for suffix in (".gz", ".zst", ".zstd", ".jsonl"):
        name = name.removesuffix(suffix)
    return file.with_name(f"{name or 'dataset'}.{tag}.jsonl")


@dataset_app.command("convert")
def convert(
    file: FileArg,
    to: Annotated[str, typer.Option("--to", metavar="FORMAT", help="The format to write.")],
    out: Annotated[Path, typer.Option("-o", "--output", metavar="OUT", help="Output file.")],
    fmt: FormatOpt = None,
    field_map: MapOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write FILE in another format (instruction→prompt_completion, messages↔text, …)."""
    from hxpm.services.datasets import convert_dataset

    result = convert_dataset(
        file, out, to=to, fmt=fmt, field_mapping=_mapping(field_map), overwrite=force
    )
    _render_written("dataset-convert", result, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
