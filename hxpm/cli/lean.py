"""``hxpm install --dry-run``, dispatched before the typer app is built (docs/performance.md,
registry section).

Resolving is the command users run most against a large index, and building all of
typer's commands costs more than reading the cache. :func:`dry_run_request` recognises the
plain form of the command, ``[--offline] install SOURCE... --dry-run`` with any of
``--json``, ``--pre``, ``--base NAME`` (options anywhere after ``install``, as click takes
them), and nothing else: any other token (``--help``, ``--locked``, ``--``, an unknown
option, an argument naming a local file) returns None, and the typer app handles the
command, so help, usage errors and every other option behave exactly as they always do.
:func:`run_dry_run` calls the same service and renders the same output as
``hxpm.cli.cmd_store.install``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

_FLAGS = frozenset(("--dry-run", "--json", "--pre"))


@dataclass(frozen=True, slots=True)
class DryRun:
    sources: tuple[str, ...]
    base: str | None
    allow_prerelease: bool
    as_json: bool
    offline: bool


def dry_run_request(args: Sequence[str]) -> DryRun | None:
    """The dry run ``args`` ask for, or None when the typer app should handle them."""
    at, offline = 0, False
    while at < len(args) and args[at] == "--offline":
        at, offline = at + 1, True
    if at >= len(args) or args[at] != "install":
        return None
    sources: list[str] = []
    flags: set[str] = set()
    base: str | None = None
    rest = list(args[at + 1 :])
    while rest:
        token = rest.pop(0)
        if token in _FLAGS:
            flags.add(token)
        elif token == "--base" and rest and rest[0] and not rest[0].startswith("-"):
            base = rest.pop(0)
        elif token.startswith("--base=") and len(token) > len("--base="):
            base = token[len("--base=") :]
        elif token.startswith("-"):
            return None  # anything else (help, other options, `--`): typer's own handling
        else:
            sources.append(token)
    if "--dry-run" not in flags or not sources or _names_local_path(sources):
        return None
    return DryRun(tuple(sources), base, "--pre" in flags, "--json" in flags, offline)


def _names_local_path(sources: Sequence[str]) -> bool:
    from hxpm.store.fsutil import names_existing_path

    # A local package is installed as it is (even by a dry run): the full command does that.
    return any(names_existing_path(s) for s in sources)


def run_dry_run(request: DryRun) -> None:
    """Resolve and print the plan, as ``hxpm install --dry-run`` does.

    Raises:
        HxpmError: as the service raises it (the caller renders it and exits).
    """
    from hxpm.cli.progress import progress_display
    from hxpm.cli.render_plan import render_install
    from hxpm.services.install_request import InstallRequest, install
    from hxpm.store.store import Store

    if request.offline:
        os.environ["HXPM_OFFLINE"] = "1"  # as the root callback does for --offline
    # The root callback also tunes the allocator for streaming archives; a dry run streams
    # none, so that is skipped.
    store = Store.from_env()
    with progress_display(enabled=not request.as_json) as display:
        outcome = install(
            store,
            InstallRequest(
                request.sources,
                request.base,
                dry_run=True,
                allow_prerelease=request.allow_prerelease,
            ),
            on_step=display.step,
            progress=display.bytes_for,
        )
    render_install(outcome, request.as_json)


def main(argv: Sequence[str] | None = None) -> None:
    """The process entry point (``python -m hxpm``): a plain dry run never imports typer,
    click or the command modules; everything else goes to :func:`hxpm.cli.app.main`."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    request = dry_run_request(args)
    if request is None:
        from hxpm.cli.app import main as full_main

        full_main(args)
        return
    from hxpm.cli.failures import run_mapping_errors

    run_mapping_errors(lambda: run_dry_run(request), args)
