"""base add/list/default/remove (metadata only: no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hxpm.cli.options import JsonOpt
from hxpm.cli.output import emit_json, escape, say, table, warn
from hxpm.cli.serialize import base_dict
from hxpm.store.store import Store

base_app = typer.Typer(help="Base models your experts run on.", no_args_is_help=True)
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Model id, e.g. Qwen/Qwen3-0.6B.")]


@base_app.command("add")
def base_add(
    name: NameArg,
    path: Annotated[
        Path | None,
        typer.Option("--path", metavar="DIR", help="A local Hugging Face-format model directory."),
    ] = None,
    from_hub: Annotated[
        str | None,
        typer.Option(
            "--from-hub",
            metavar="REPO_ID",
            help="Download from the Hugging Face Hub (network; needs the runtime extra).",
        ),
    ] = None,
    revision: Annotated[str | None, typer.Option("--revision", help="Hub revision.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a base model by its digest (config.json + *.safetensors)."""
    from hxpm.errors import UsageError
    from hxpm.services.bases import add_base, add_base_from_hub

    if (path is None) == (from_hub is None):
        raise UsageError("give exactly one of --path DIR or --from-hub REPO_ID")
    store = Store.from_env()
    added = (
        add_base(store, name, path)
        if path is not None
        else add_base_from_hub(store, name, from_hub or "", revision=revision)
    )
    b = added.base
    if as_json:
        emit_json(
            "base-add",
            {
                "base": base_dict(b),
                "left_unmatched": list(added.left),
                "rematched": [
                    {
                        "name": e.name,
                        "version": e.version,
                        "manifest_base_model": e.manifest_base_name,
                    }
                    for e in added.rematched
                ],
            },
        )
        return
    default = " (default)" if b.is_default else ""
    say(
        f"[green]registered[/] {escape(b.name)}{default}: sha256 {b.sha256[:16]}… at "
        f"{escape(str(b.path))}"
    )
    for e in added.rematched:
        say(
            f"matched installed {escape(e.name)} {escape(e.version)} (manifest base "
            f"{escape(e.manifest_base_name)}) to {escape(b.name)}"
        )
    for line in added.left:
        warn(f"not matched: {line}")


@base_app.command("list")
def base_list(as_json: JsonOpt = False) -> None:
    """List registered base models."""
    from hxpm.services.bases import list_bases

    bases = list_bases(Store.from_env())
    if as_json:
        emit_json("base-list", {"bases": [base_dict(b) for b in bases]})
        return
    table(
        ["name", "default", "sha256", "path"],
        [(b.name, "*" if b.is_default else "", b.sha256[:16] + "…", str(b.path)) for b in bases],
        empty="no base models (add one with `hxpm base add`)",
    )


@base_app.command("default")
def base_default(name: NameArg, as_json: JsonOpt = False) -> None:
    """Choose the base model used when --base is not given."""
    from hxpm.services.bases import set_default_base

    b = set_default_base(Store.from_env(), name)
    if as_json:
        emit_json("base-default", {"base": base_dict(b)})
        return
    say(f"default base is now {escape(b.name)}")


@base_app.command("remove")
def base_remove(name: NameArg, as_json: JsonOpt = False) -> None:
    """Forget a base model (its files are left untouched)."""
    from hxpm.services.bases import remove_base

    b = remove_base(Store.from_env(), name)
    if as_json:
        emit_json("base-remove", {"base": base_dict(b)})
        return
    say(f"[green]removed[/] base {escape(b.name)}")


def register(app: typer.Typer) -> None:
    app.add_typer(base_app, name="base")
