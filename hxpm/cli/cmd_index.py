"""`hxpm index`: the indexes this store reads (add, list, update, remove).

The commands of index owners (init, export-sparse, site, yank, key-add, and `hxpm publish`)
are in ``cmd_index_publish``, `hxpm search` in ``cmd_search``; ``register`` assembles them
in the order `hxpm index --help` lists them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hxpm.cli import cmd_index_publish as owner
from hxpm.cli.cmd_search import search
from hxpm.cli.options import JsonOpt
from hxpm.cli.output import emit_json, escape, say, table, warn
from hxpm.core.redact import strip_url_credentials
from hxpm.store.records import IndexRecord
from hxpm.store.store import Store

INDEX_HELP = "Indexes (Git repositories or sparse HTTP trees) that list experts."


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


def register(app: typer.Typer) -> None:
    index_app = typer.Typer(help=INDEX_HELP, no_args_is_help=True)
    # Registration order is the order `hxpm index --help` lists the subcommands in.
    for name, command in (
        ("init", owner.index_init),
        ("add", index_add),
        ("list", index_list),
        ("update", index_update),
        ("export-sparse", owner.index_export_sparse),
        ("site", owner.index_site),
        ("remove", index_remove),
        ("yank", owner.index_yank),
        ("key-add", owner.index_key_add),
    ):
        index_app.command(name)(command)
    app.add_typer(index_app, name="index")
    app.command()(owner.publish)
    app.command()(search)
