"""The root command: assembles the command families and maps errors to exit codes."""

from __future__ import annotations

import errno
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from hxpm import __version__
from hxpm.cli import (
    cmd_base,
    cmd_import,
    cmd_index,
    cmd_keys,
    cmd_new,
    cmd_package,
    cmd_resolve,
    cmd_run,
    cmd_serve,
    cmd_store,
    cmd_train,
)
from hxpm.cli.allocator import keep_heap_pages_for_streaming
from hxpm.errors import HxpmError, StoreError, UsageError

if TYPE_CHECKING:
    import sqlite3

app = typer.Typer(
    name="hxpm",
    help="hxpm: install, verify and run LLM adapter experts from Git.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"hxpm {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="No network: work from caches (HXPM_OFFLINE=1).")
    ] = False,
) -> None:
    """hxpm: a pip-like, Git-based package manager for LLM adapter experts.

    Set HXPM_HOME to use another store; HXPM_DEBUG=1 shows tracebacks.
    """
    if offline:
        # Services read HXPM_OFFLINE when they are about to use the network.
        os.environ["HXPM_OFFLINE"] = "1"
    keep_heap_pages_for_streaming()


cmd_store.register(app)
cmd_resolve.register(app)
cmd_run.register(app)
cmd_new.register(app)
cmd_import.register(app)
cmd_train.register(app)
cmd_index.register(app)
cmd_package.register(app)
cmd_keys.register(app)
cmd_base.register(app)
cmd_serve.register(app)


def _render_error(err: HxpmError, as_json: bool) -> None:
    if as_json:
        import json

        sys.stdout.write(json.dumps({"schema": "hxpm.error/1", **err.to_dict()}, indent=2) + "\n")
        return
    from hxpm.cli.output import console, escape

    out = console(stderr=True)
    out.print(f"[bold red]error:[/] {escape(err.message)}")
    problems = err.details.get("problems") or []
    for p in problems[:20]:
        out.print(
            f"  - {escape(p['path'])}: expected {escape(p['expected'])}, "
            f"got {escape(repr(p['value']))}"
        )
    if err.hint:
        out.print(f"[bold cyan]hint:[/] {escape(err.hint)}")


def _os_error(err: OSError) -> HxpmError:
    if err.errno == errno.ENAMETOOLONG:
        # A word no file system takes as a path: a malformed argument, not a store failure.
        name = str(err.filename or "")
        return UsageError(
            f"an argument is too long to be a path ({len(name)} characters): {name[:60]!r}...",
            hint="Check the command line.",
        )
    return StoreError(
        f"I/O error: {err}",
        hint="Check free space and permissions; HXPM_DEBUG=1 shows where it happened.",
    )


def sqlite3_error() -> type[sqlite3.Error]:
    import sqlite3  # stdlib; imported only when an error is on its way out

    return sqlite3.Error


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    offline_before = os.environ.get("HXPM_OFFLINE")
    try:
        app(args=args, prog_name="hxpm")
    except HxpmError as err:
        if os.environ.get("HXPM_DEBUG"):
            raise
        _render_error(err, "--json" in args)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as err:
        # An I/O failure no service turned into an HxpmError (disk full, permissions).
        if os.environ.get("HXPM_DEBUG"):
            raise
        mapped = _os_error(err)
        _render_error(mapped, "--json" in args)
        sys.exit(mapped.exit_code)
    except sqlite3_error() as err:
        # A database failure below a service that did not expect one (the store's own
        # calls already raise StoreError with a hint).
        if os.environ.get("HXPM_DEBUG"):
            raise
        from hxpm.store.state import database_error

        _render_error(database_error("the store database failed", err), "--json" in args)
        sys.exit(StoreError.exit_code)
    finally:
        # `--offline` is per invocation, also when main() runs in-process (tests, embedding).
        if offline_before is None:
            os.environ.pop("HXPM_OFFLINE", None)
        else:
            os.environ["HXPM_OFFLINE"] = offline_before
