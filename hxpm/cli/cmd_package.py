"""validate, package, inspect, sign."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hxpm.cli.options import JsonOpt
from hxpm.cli.output import emit_json, escape, say, table, warn
from hxpm.cli.serialize import built_dict, contents_dict, human_size


def validate(
    target: Annotated[Path, typer.Argument(metavar="DIR|manifest.json")],
    as_json: JsonOpt = False,
) -> None:
    """Check a manifest against the schema; every problem is listed with its field path.

    What the older expert-cli wrote and hxpm accepts (nulls, bare capabilities, repeated
    comment keys, pickled soft prompts) is valid with a warning.
    """
    from hxpm.services.packaging import validate_manifest

    m = validate_manifest(target)
    if as_json:
        emit_json(
            "validate",
            {
                "ok": True,
                "name": m.name,
                "version": str(m.version),
                "schema_version": m.schema_version,
                "base_models": [v.name for v in m.variants],
                "warnings": list(m.warnings),
            },
        )
        return
    for w in m.warnings:
        warn(w)
    say(
        f"[green]valid[/]: {escape(m.name)} {escape(str(m.version))} "
        f"(schema {escape(str(m.schema_version))}, "
        f"{len(m.variants)} base-model variant(s))"
    )


def package(
    expert_dir: Annotated[Path, typer.Argument(metavar="DIR")],
    base: Annotated[
        str | None,
        typer.Option("--base", metavar="NAME", help="Build only this base-model variant."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", metavar="OUTDIR", help="Where to write (default: DIR/dist)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build one reproducible .expert per base-model variant (tar + zstd, safetensors only)."""
    from hxpm.services.packaging import package_directory

    built = package_directory(expert_dir, base=base, out_dir=out_dir)
    if as_json:
        emit_json(
            "package",
            {"packages": [{**built_dict(b), "warnings": list(b.warnings)} for b in built]},
        )
        return
    for w in dict.fromkeys(w for b in built for w in b.warnings):  # once, not per variant
        warn(w)
    for b in built:
        say(
            f"[green]built[/] {escape(str(b.path))} ({human_size(b.size)}, sha256 {b.sha256[:16]}…)"
        )


def inspect(
    pkg: Annotated[Path, typer.Argument(metavar="PKG")],
    as_json: JsonOpt = False,
) -> None:
    """List a package's members, digests and manifest without unpacking it."""
    from hxpm.services.packaging import inspect_package

    c = inspect_package(pkg)
    if as_json:
        emit_json(
            "inspect",
            {**contents_dict(c), "skipped": list(c.ignored), "warnings": list(c.warnings)},
        )
        return
    for w in c.warnings:
        warn(w)
    m = c.manifest
    bases = ", ".join(_inert(v.name) for v in m.variants)  # legacy base names are any text
    say(
        f"[bold]{escape(m.name)} {escape(str(m.version))}[/] for {escape(bases)}"
        f"{' (legacy gzip package)' if c.legacy else ''}"
    )
    say(f"archive sha256 {c.sha256}\ntree sha256    {c.tree_sha256}")
    table(["member", "size", "sha256"], [(x.path, human_size(x.size), x.sha256) for x in c.members])
    if c.ignored:
        say(
            "[dim]skipped (legacy only, not extracted, not in the tree digest):[/] "
            + escape(", ".join(c.ignored))
        )


def _inert(text: str) -> str:
    """Package text for a terminal: control characters as escapes, rich markup escaped."""
    return escape("".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text))


def sign(
    pkg: Annotated[Path, typer.Argument(metavar="PKG")],
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            metavar="FILE",
            help="Secret key file (default: your 'default' key, else your only key).",
        ),
    ] = None,
    key_name: Annotated[str | None, typer.Option("--key-name", metavar="NAME")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", metavar="FILE")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Sign a package: writes PKG.sig binding its name, version, base and digests."""
    from hxpm.services.keys import sign_package

    r = sign_package(pkg, key_name=key_name, key_path=key, output=output)
    if as_json:
        emit_json(
            "sign",
            {
                "package": str(r.package),
                "signature": str(r.signature_path),
                "key_id": r.key_id,
                "sha256": r.facts.sha256,
                "tree_sha256": r.facts.tree_sha256,
            },
        )
        return
    say(
        f"[green]signed[/] {escape(r.package.name)} with key {escape(r.key_id)} -> "
        f"{escape(str(r.signature_path))}"
    )


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(package)
    app.command()(inspect)
    app.command()(sign)
