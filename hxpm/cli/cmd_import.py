"""import: turn a plain PEFT adapter folder into an expert repository."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hxpm.cli.options import JsonOpt
from hxpm.cli.output import emit_json, escape, say, warn

if TYPE_CHECKING:
    from hxpm.services.import_adapter import ImportResult


def import_adapter(
    adapter_dir: Annotated[
        Path,
        typer.Argument(
            metavar="ADAPTER_DIR",
            help="A PEFT adapter folder (adapter_config.json + "
            "adapter_model.safetensors), e.g. one downloaded from a model hub.",
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="Expert name: sql or expert-sql (default: expert-<folder name>).",
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="NAME",
            help="Base model the manifest names (default: "
            "base_model_name_or_path from adapter_config.json).",
        ),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", metavar="X.Y.Z", help="Version of the expert (default 0.1.0)."),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            "-o",
            metavar="PATH",
            help="Where to create it (default: ./NAME); must be new or empty.",
        ),
    ] = None,
    git: Annotated[
        bool,
        typer.Option("--git/--no-git", help="Make the folder a Git repository with one commit."),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Make an expert repo from a PEFT LoRA/DoRA/IA3 adapter, ready for package and sign."""
    from hxpm.services.import_adapter import import_adapter as run_import

    result = run_import(
        adapter_dir, name=name, base=base, version=version, directory=directory, git=git
    )
    if as_json:
        emit_json("import", import_dict(result))
        return
    for note in result.warnings:
        warn(note)
    _say_imported(result)


def import_dict(r: ImportResult) -> dict[str, Any]:
    return {
        "name": r.name,
        "version": r.version,
        "path": str(r.path),
        "source": str(r.source),
        "files": list(r.files),
        "commit": r.commit,
        "adapter": {"kind": r.kind, "max_rank": r.rank, "tensors": r.tensors},
        "base": {
            "name": r.base.name,
            "sha256": r.base.sha256,
            "registered": r.base.registered,
            "in_adapter_config": r.base_in_config,
        },
        "warnings": list(r.warnings),
    }


def _say_imported(r: ImportResult) -> None:
    rank = "" if r.kind == "ia3" else f", rank {r.rank}"
    commit = f", commit {r.commit[:12]}" if r.commit else ""
    say(
        f"[green]imported[/] {escape(r.name)} {r.version} ({r.kind}{rank}, {r.tensors} "
        f"tensors) into {escape(str(r.path))} ({len(r.files)} files{commit})"
    )
    say(
        f"base model: {escape(r.base.name)}"
        + (
            f" (sha256 {r.base.sha256[:16]}…)"
            if r.base.registered
            else " [yellow](not registered: sha256 left empty)[/]"
        )
    )
    say(
        "next: fill in description, license and author in manifest.json and README.md, then "
        "`hxpm package .`, `hxpm sign` and `hxpm publish`."
    )


def register(app: typer.Typer) -> None:
    app.command("import")(import_adapter)
