"""key generate/list/show and trust add/list/remove."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hxpm.cli.options import JsonOpt
from hxpm.cli.output import emit_json, escape, say, table
from hxpm.cli.serialize import trusted_key_dict
from hxpm.store.store import Store

key_app = typer.Typer(help="Your signing keys.", no_args_is_help=True)
trust_app = typer.Typer(
    help="Publisher keys you trust, and for which experts.", no_args_is_help=True
)

KeyNameOpt = Annotated[str, typer.Option("--name", metavar="NAME", help="Key name.")]


@key_app.command("generate")
def key_generate(name: KeyNameOpt = "default", as_json: JsonOpt = False) -> None:
    """Create an Ed25519 signing key (secret file mode 0600 in your config dir)."""
    from hxpm.services.keys import generate_key

    k = generate_key(name)
    _render_key(k.name, str(k.secret_path), k.public_key.text, k.public_key.key_id, as_json)


@key_app.command("show")
def key_show(
    name: Annotated[
        str | None,
        typer.Option(
            "--name", metavar="NAME", help="Key name (default: 'default', else your only key)."
        ),
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", metavar="FILE")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print your public key and key id (share these with your users)."""
    from hxpm.services.keys import show_key

    k = show_key(name, key)
    _render_key(k.name, str(k.secret_path), k.public_key.text, k.public_key.key_id, as_json)


@key_app.command("list")
def key_list(as_json: JsonOpt = False) -> None:
    """List your secret keys; * marks the one used when no name is given."""
    from hxpm.services.keys import list_keys

    keys = list_keys()
    if as_json:
        emit_json(
            "key-list",
            {
                "keys": [
                    {
                        "name": k.name,
                        "secret_key_path": str(k.secret_path),
                        "default": k.is_default,
                        "key_id": k.public_key.key_id if k.public_key else None,
                        "public_key": k.public_key.text if k.public_key else None,
                        "problem": k.problem,
                    }
                    for k in keys
                ]
            },
        )
        return
    table(
        ["name", "default", "key id", "secret key"],
        [
            (
                k.name,
                "*" if k.is_default else "",
                k.public_key.key_id if k.public_key else f"unreadable: {k.problem}",
                str(k.secret_path),
            )
            for k in keys
        ],
        empty="no secret keys (create one with `hxpm key generate --name NAME`)",
    )


def _render_key(name: str, path: str, public: str, key_id: str, as_json: bool) -> None:
    if as_json:
        emit_json(
            "key", {"name": name, "secret_key_path": path, "public_key": public, "key_id": key_id}
        )
        return
    say(
        f"key id:     {escape(key_id)}\npublic key: {escape(public)}\n"
        f"secret key: {escape(str(path))}"
    )
    say(f"[dim]users trust it with: hxpm trust add {escape(public)} --name YOUR-NAME[/]")


@trust_app.command("add")
def trust_add(
    key: Annotated[str, typer.Argument(metavar="PUBKEY|FILE")],
    name: Annotated[str, typer.Option("--name", metavar="PUBLISHER", help="Who owns the key.")],
    experts: Annotated[
        list[str] | None,
        typer.Option(
            "--experts",
            metavar="GLOB",
            help="Expert names this key may sign (repeatable; default: all).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Trust a publisher's key for the expert names its scope matches."""
    from hxpm.services.trust import add_trusted_key

    k = add_trusted_key(Store.from_env(), key, publisher=name, scopes=experts)
    if as_json:
        emit_json("trust-add", {"key": trusted_key_dict(k)})
        return
    say(
        f"[green]trusted[/] key {escape(k.key_id)} of {escape(k.publisher)} for "
        f"{escape(', '.join(k.scopes))}"
    )


@trust_app.command("list")
def trust_list(as_json: JsonOpt = False) -> None:
    """List trusted keys and their scopes."""
    from hxpm.services.trust import trusted_keys

    keys = trusted_keys(Store.from_env())
    if as_json:
        emit_json("trust-list", {"keys": [trusted_key_dict(k) for k in keys]})
        return
    table(
        ["key id", "publisher", "experts", "source", "added"],
        [(k.key_id, k.publisher, ", ".join(k.scopes), k.source, k.added_at) for k in keys],
        empty="no trusted keys (add one with `hxpm trust add`)",
    )


@trust_app.command("remove")
def trust_remove(
    key: Annotated[str, typer.Argument(metavar="KEY_ID|PUBLISHER")],
    as_json: JsonOpt = False,
) -> None:
    """Stop trusting a key (by key id) or every key of a publisher."""
    from hxpm.services.trust import remove_trusted_key

    r = remove_trusted_key(Store.from_env(), key)
    if as_json:
        emit_json("trust-remove", {"removed": [trusted_key_dict(k) for k in r.removed]})
        return
    for k in r.removed:
        say(f"[green]removed[/] key {escape(k.key_id)} of {escape(k.publisher)}")


def register(app: typer.Typer) -> None:
    app.add_typer(key_app, name="key")
    app.add_typer(trust_app, name="trust")
