"""The root command: assembles the command families and maps errors to exit codes."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from hxpm import __version__
from hxpm.cli import (
    cmd_base,
    cmd_dataset,
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
from hxpm.cli.failures import run_mapping_errors
from hxpm.cli.lean import dry_run_request, run_dry_run

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
cmd_dataset.register(app)
cmd_serve.register(app)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    lean = dry_run_request(args)
    if lean is not None:  # the same command, without building every typer command first
        run_mapping_errors(lambda: run_dry_run(lean), args)
        return
    run_mapping_errors(lambda: app(args=args, prog_name="hxpm"), args)
