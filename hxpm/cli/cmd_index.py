"""index init/add/list/update/remove/yank, publish, search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hxpm.cli.options import JsonOpt
from hxpm.cli.output import emit_json, escape, say, table, warn
from hxpm.core.redact import strip_url_credentials
from hxpm.store.records import IndexRecord
from hxpm.store.store import Store

index_app = typer.Typer(
    help="Indexes (Git repositories or sparse HTTP trees) that list experts.", no_args_is_help=True
)
IndexDirOpt = Annotated[
    Path, typer.Option("--index-dir", metavar="DIR", help="The index checkout (default: here).")
]


def _index_dict(i: IndexRecord) -> dict[str, object]:
    return {
        "name": i.name,
        "url": strip_url_credentials(i.url),
        "priority": i.priority,
        "trust_keys": i.trust_keys,
        "commit": i.accepted_commit,
        "added_at": i.added_at,
        "updated_at": i.updated_at,
    }


@index_app.command("init")
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


@index_app.command("add")
def index_add(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    url: Annotated[str, typer.Argument(metavar="URL")],
    priority: Annotated[
        int | None,
        typer.Option("--priority", help="Lower is consulted first (default: after the others)."),
    ] = None,
    trust_keys: Annotated[
        bool,
        typer.Option(
            "--trust-keys", help="Trust the keys config.json lists, for the experts it lists."
        ),
    ] = False,
    snapshot_key: Annotated[
        str | None,
        typer.Option(
            "--snapshot-key",
            metavar="PUBKEY|FILE",
            help="Sparse indexes: the key that must sign snapshots (default: the keys its "
            "config.json lists, trusted on first use).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an index (a Git URL, or sparse+https://host/path/) and fetch it."""
    from hxpm.services.indexes import add_index

    pinned = None
    if snapshot_key is not None:
        from hxpm.services.trust import read_key_argument

        pinned = read_key_argument(snapshot_key)
    u = add_index(
        Store.from_env(), name, url, priority=priority, trust_keys=trust_keys, snapshot_key=pinned
    )
    if as_json:
        emit_json("index-add", {"index": _index_dict(u.index), "files": u.changed})
        return
    say(
        f"[green]added[/] index {escape(name)} at "
        f"{(u.index.accepted_commit or '')[:12]} ({u.changed} expert file(s))"
    )


@index_app.command("list")
def index_list(as_json: JsonOpt = False) -> None:
    """List configured indexes in priority order."""
    from hxpm.services.indexes import list_indexes

    rows = list_indexes(Store.from_env())
    if as_json:
        emit_json("index-list", {"indexes": [_index_dict(i) for i in rows]})
        return
    table(
        ["name", "priority", "url", "commit", "updated", "keys"],
        [
            (
                i.name,
                i.priority,
                strip_url_credentials(i.url),
                (i.accepted_commit or "")[:12],
                i.updated_at,
                "trusted" if i.trust_keys else "-",
            )
            for i in rows
        ],
        empty="no indexes (add one with `hxpm index add NAME URL`)",
    )


@index_app.command("update")
def index_update(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]")] = None,
    allow_rewind: Annotated[
        bool,
        typer.Option(
            "--allow-rewind", help="Accept a head that does not descend from the last one."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch indexes; refuse one whose history was rewound."""
    from hxpm.services.indexes import update_indexes

    updates = update_indexes(Store.from_env(), name, allow_rewind=allow_rewind)
    if as_json:
        emit_json(
            "index-update",
            {
                "updates": [
                    {
                        "index": _index_dict(u.index),
                        "previous": u.previous_commit,
                        "files": u.changed,
                        "rewound": u.rewound,
                    }
                    for u in updates
                ]
            },
        )
        return
    for u in updates:
        if u.rewound:
            warn(f"index {u.index.name} was rewound (accepted because of --allow-rewind)")
        new = (u.index.accepted_commit or "")[:12]
        state = "up to date" if u.previous_commit == u.index.accepted_commit else "updated"
        say(f"[green]{state}[/] {escape(u.index.name)} at {new} ({u.changed} expert file(s) read)")


@index_app.command("export-sparse")
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


@index_app.command("site")
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


@index_app.command("remove")
def index_remove(
    name: Annotated[str, typer.Argument(metavar="NAME")], as_json: JsonOpt = False
) -> None:
    """Forget an index (its cache and any keys it vouched for)."""
    from hxpm.services.indexes import remove_index

    r = remove_index(Store.from_env(), name)
    if as_json:
        emit_json("index-remove", {"index": _index_dict(r)})
        return
    say(f"[green]removed[/] index {escape(r.name)}")


@index_app.command("yank")
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


@index_app.command("key-add")
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


def search(
    term: Annotated[str, typer.Argument(metavar="TERM")] = "",
    capability: Annotated[
        str | None,
        typer.Option(
            "--capability", metavar="C", help="Only experts with this capability (tech:sql, sql)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    prompt: Annotated[
        str | None,
        typer.Option(
            "--prompt",
            metavar="TEXT",
            help="Rank experts for this prompt as the router would (installed or not).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search every configured index by name, keywords, capabilities and description."""
    from hxpm.services.search import search as run

    if prompt is not None:
        _search_prompt(prompt, term, capability, limit, as_json)
        return
    results = run(Store.from_env(), term, capability=capability, limit=limit)
    if as_json:
        emit_json(
            "search",
            {
                "results": [
                    {
                        "name": r.hit.name,
                        "version": r.hit.version,
                        "description": r.hit.description,
                        "index": r.hit.index,
                        "capabilities": list(r.hit.capabilities),
                        "keywords": list(r.hit.keywords),
                        "score": r.hit.score,
                        "installed": r.installed_version,
                    }
                    for r in results
                ]
            },
        )
        return
    table(
        ["name", "version", "index", "installed", "description"],
        [
            (
                r.hit.name,
                r.hit.version,
                r.hit.index,
                r.installed_version or "",
                r.hit.description[:60],
            )
            for r in results
        ],
        empty=f"no experts match {term!r}",
    )


def _search_prompt(
    prompt: str, term: str, capability: str | None, limit: int, as_json: bool
) -> None:
    from hxpm.errors import UsageError
    from hxpm.services.search import search_by_prompt

    if term or capability is not None:
        raise UsageError(
            "--prompt ranks by the prompt alone; it cannot be combined with TERM or --capability",
            hint='Run either `hxpm search TERM` or `hxpm search --prompt "..."`.',
        )
    found = search_by_prompt(Store.from_env(), prompt, limit=limit)
    if as_json:
        emit_json(
            "search-prompt",
            {
                "prompt": found.prompt,
                "chosen": found.chosen,
                "reason": found.reason,
                "results": [
                    {
                        "name": m.name,
                        "version": m.version,
                        "index": m.index,
                        "description": m.description,
                        "score": m.score,
                        "profiled": m.profiled,
                        "evidence": list(m.evidence),
                        "installed": m.installed_version,
                    }
                    for m in found.matches
                ],
            },
        )
        return
    say(f"router's pick: [bold]{escape(found.chosen or 'none (the bare base)')}[/]")
    table(
        ["name", "version", "index", "score", "installed", "description"],
        [
            (
                m.name,
                m.version,
                m.index,
                f"{m.score:.3f}",
                m.installed_version or "",
                m.description[:60],
            )
            for m in found.matches
        ],
        empty="no expert of the configured indexes matches this prompt",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
    app.command()(publish)
    app.command()(search)
