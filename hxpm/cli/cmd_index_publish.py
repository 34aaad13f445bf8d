"""The commands of index owners: `hxpm index init/export-sparse/site/yank/key-add` and
`hxpm publish` (registered by ``cmd_index.register``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hxpm.cli.options import JsonOpt
from hxpm.cli.output import emit_json, escape, say, warn

IndexDirOpt = Annotated[
    Path, typer.Option("--index-dir", metavar="DIR", help="The index checkout (default: here).")
]


def index_init(
    directory: Annotated[Path, typer.Argument(metavar="DIR")],
    name: Annotated[str | None, typer.Option("--name", help="Index name (default: DIR).")] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an index repository: config.json, experts/, README, first commit."""
    from hxpm.services.indexes import init_index

    commit = init_index(directory, name=name or directory.resolve().name, description=description)
    if as_json:
        emit_json("index-init", {"path": str(directory.resolve()), "commit": commit})
        return
    say(f"[green]created[/] index at {escape(str(directory))} (commit {commit[:12]})")


def index_export_sparse(
    checkout: Annotated[Path, typer.Argument(metavar="CHECKOUT")],
    outdir: Annotated[Path, typer.Argument(metavar="OUTDIR")],
    key: Annotated[
        Path | None,
        typer.Option("--key", metavar="FILE", help="Secret key file that signs the snapshot."),
    ] = None,
    key_name: Annotated[
        str | None,
        typer.Option("--key-name", metavar="NAME", help="Key name (default: your 'default' key)."),
    ] = None,
    expires_in: Annotated[
        float,
        typer.Option("--expires-in", metavar="DAYS", help="Days until users refuse this snapshot."),
    ] = 14.0,
    serial: Annotated[
        int | None,
        typer.Option(
            "--serial", help="Snapshot serial (default: the Unix time; it must only grow)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a Git index checkout as a static sparse index, with a signed snapshot."""
    from hxpm.services.sparse_export import export_sparse

    r = export_sparse(
        checkout, outdir, key_name=key_name, key_path=key, expires_days=expires_in, serial=serial
    )
    if as_json:
        emit_json(
            "index-export-sparse",
            {
                "outdir": str(r.outdir),
                "index": r.index,
                "serial": r.serial,
                "commit": r.commit,
                "expires": r.expires,
                "experts": r.experts,
                "key_id": r.key_id,
                "snapshot_bytes": r.snapshot_bytes,
            },
        )
        return
    say(
        f"[green]exported[/] {r.experts} expert file(s) of index {escape(r.index)} at "
        f"{r.commit[:12]} to {escape(str(r.outdir))} (serial {r.serial}, signed by "
        f"{escape(r.key_id)}, expires {escape(str(r.expires))})"
    )


def index_site(
    source: Annotated[str, typer.Argument(metavar="CHECKOUT|NAME")],
    outdir: Annotated[Path, typer.Option("-o", "--output", metavar="DIR", help="Site folder.")],
    index_url: Annotated[
        str | None,
        typer.Option(
            "--index-url", metavar="URL", help="URL users add the index by (shown in commands)."
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Read READMEs from the caches only.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a static, browsable catalog of an index (opens from file://; docs/site.md)."""
    from hxpm.services.site import build_site

    r = build_site(source, outdir, install_url=index_url, offline=offline)
    for path, why in r.skipped:
        warn(f"left out {path}: {why}")
    if as_json:
        emit_json(
            "index-site",
            {
                "outdir": str(r.stats.outdir.resolve()),
                "index": r.index,
                "commit": r.commit,
                "experts": r.stats.experts,
                "keys": r.stats.keys,
                "files": r.stats.files,
                "bytes": r.stats.bytes,
                "readmes": r.readmes,
                "skipped": [{"path": p, "reason": why} for p, why in r.skipped],
            },
        )
        return
    home = (r.stats.outdir / "index.html").resolve()
    say(
        f"[green]wrote[/] the site of {escape(r.index)} at {r.commit[:12]}: "
        f"{r.stats.experts} expert page(s), {r.stats.keys} key page(s), "
        f"{r.stats.bytes / 1e6:.1f} MB; open {escape(str(home))}"
    )


def index_yank(
    spec: Annotated[str, typer.Argument(metavar="NAME@VERSION")],
    index_dir: IndexDirOpt = Path("."),
    undo: Annotated[bool, typer.Option("--undo", help="Un-yank instead.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Mark a published version yanked (a new commit in the index checkout)."""
    from hxpm.services.publish import yank

    r = yank(index_dir, spec, undo=undo)
    if as_json:
        emit_json(
            "index-yank",
            {
                "name": r.line.name,
                "version": str(r.line.version),
                "yanked": r.line.yanked,
                "commit": r.index_commit,
            },
        )
        return
    verb = "yanked" if r.line.yanked else "un-yanked"
    say(
        f"[green]{verb}[/] {escape(r.line.name)} {escape(str(r.line.version))} "
        f"(commit {r.index_commit[:12]})"
    )


def index_key_add(
    key: Annotated[str, typer.Argument(metavar="PUBKEY|FILE")],
    owner: Annotated[str, typer.Option("--owner", help="Who holds the key.")],
    experts: Annotated[
        list[str] | None,
        typer.Option(
            "--experts", metavar="GLOB", help="Expert names it may sign (repeatable; default all)."
        ),
    ] = None,
    index_dir: IndexDirOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """List a publisher key in the index's config.json (index owners)."""
    from hxpm.services.publish import vouch_for_key
    from hxpm.services.trust import read_key_argument

    r = vouch_for_key(index_dir, read_key_argument(key), owner=owner, experts=experts or [])
    if as_json:
        emit_json(
            "index-key-add",
            {
                "key_id": r.key_id,
                "owner": r.owner,
                "experts": list(r.experts),
                "commit": r.index_commit,
            },
        )
        return
    say(
        f"[green]listed[/] key {escape(r.key_id)} of {escape(r.owner)} for "
        f"{escape(', '.join(r.experts))} "
        f"(commit {r.index_commit[:12]})"
    )


def publish(
    directory: Annotated[Path, typer.Argument(metavar="[DIR]")] = Path("."),
    index: Annotated[
        Path,
        typer.Option(
            "--index", metavar="INDEX_CHECKOUT", help="Local checkout of the index to publish into."
        ),
    ] = Path("."),
    url: Annotated[
        str | None,
        typer.Option(
            "--url", metavar="PUBLIC_GIT_URL", help="Where users fetch the repo (default: origin)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Append this tagged, signed release to an index checkout as a new commit."""
    from hxpm.services.publish import publish as run

    r = run(directory, index, url=url)
    if as_json:
        emit_json(
            "publish",
            {
                "name": r.line.name,
                "version": str(r.line.version),
                "index_file": str(r.index_file),
                "commit": r.index_commit,
                "line": r.line.to_json_line(),
            },
        )
        return
    say(
        f"[green]published[/] {escape(r.line.name)} {escape(str(r.line.version))} -> "
        f"{escape(str(r.index_file))} "
        f"(commit {r.index_commit[:12]}); push the index or open a pull request"
    )
