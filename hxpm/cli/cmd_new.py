"""new: scaffold an expert repository from hxpm/templates/expert/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hxpm.cli.options import JsonOpt
from hxpm.cli.output import emit_json, escape, say

if TYPE_CHECKING:
    from hxpm.services.scaffold import ScaffoldResult


def new(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="Expert name: sql or expert-sql (expert- is added when missing)."
        ),
    ],
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="NAME",
            help="Base model of the first variant (default: your default base, else "
            "Qwen/Qwen3-0.6B with an empty digest).",
        ),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            metavar="PATH",
            help="Where to create it (default: ./NAME); must be new or empty.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an expert repo: manifest, README, LICENSE, dataset generator, tests, Git commit."""
    from hxpm.services.scaffold import new_expert

    result = new_expert(name, base=base, directory=directory)
    if as_json:
        emit_json("new", new_dict(result))
        return
    _say_created(result)


def new_dict(r: ScaffoldResult) -> dict[str, Any]:
    return {
        "name": r.name,
        "version": r.version,
        "path": str(r.path),
        "files": list(r.files),
        "commit": r.commit,
        "base": {"name": r.base.name, "sha256": r.base.sha256, "registered": r.base.registered},
    }


def _say_created(r: ScaffoldResult) -> None:
    say(
        f"[green]created[/] {escape(r.name)} {r.version} in {escape(str(r.path))} "
        f"({len(r.files)} files, commit {r.commit[:12]})"
    )
    if r.base.registered:
        say(f"base model: {escape(r.base.name)} (sha256 {r.base.sha256[:16]}…)")
    else:
        say(
            f"base model: {escape(r.base.name)} [yellow](not registered: sha256 left empty; "
            "see the _comment in manifest.json)[/]"
        )
    say(
        "next: edit datasets/generate.py and regenerate the data, train (the recipe is in "
        "manifest.json), then `hxpm validate .`, `hxpm package .` and `hxpm sign`."
    )


def register(app: typer.Typer) -> None:
    app.command()(new)
