"""``hxpm install --dry-run`` and ``hxpm route PROMPT``, dispatched before the typer app is
built (docs/performance.md, registry section; docs/routing.md).

Resolving and routing are the commands users and their programs run most, and building all
of typer's commands costs more than reading the cache or routing a prompt.
:func:`dry_run_request` recognises the plain form of the dry run, ``[--offline] install
SOURCE... --dry-run`` with any of ``--json``, ``--pre``, ``--base NAME`` (options anywhere
after ``install``, as click takes them); :func:`route_request` recognises ``[--offline]
route PROMPT`` with ``--json`` or ``--base NAME``. Nothing else: any other token
(``--help``, ``--explain``, ``--eval``, ``--locked``, ``--``, an unknown option, an argument
naming a local file, a prompt starting with ``-``) returns None, and the typer app handles
the command, so help, usage errors and every other option behave exactly as they always
do. :func:`run_dry_run` and :func:`run_route` call the same services and renderers as
``hxpm.cli.cmd_store.install`` and ``hxpm.cli.cmd_run.route``.
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


@dataclass(frozen=True, slots=True)
class RouteRequest:
    prompt: str
    base: str | None
    as_json: bool


@dataclass(frozen=True, slots=True)
class _Parsed:
    arguments: tuple[str, ...]
    flags: frozenset[str]
    base: str | None
    offline: bool


def _parse(args: Sequence[str], command: str, flags: frozenset[str]) -> _Parsed | None:
    """``[--offline] COMMAND`` followed by arguments, ``flags`` and ``--base NAME`` in any
    order; None for anything else (typer's own handling)."""
    at, offline = 0, False
    while at < len(args) and args[at] == "--offline":
        at, offline = at + 1, True
    if at >= len(args) or args[at] != command:
        return None
    arguments: list[str] = []
    seen: set[str] = set()
    base: str | None = None
    rest = list(args[at + 1 :])
    while rest:
        token = rest.pop(0)
        if token in flags:
            seen.add(token)
        elif token == "--base" and rest and rest[0] and not rest[0].startswith("-"):
            base = rest.pop(0)
        elif token.startswith("--base=") and len(token) > len("--base="):
            base = token[len("--base=") :]
        elif token.startswith("-"):
            return None  # anything else (help, other options, `--`): typer's own handling
        else:
            arguments.append(token)
    return _Parsed(tuple(arguments), frozenset(seen), base, offline)


def dry_run_request(args: Sequence[str]) -> DryRun | None:
    """The dry run ``args`` ask for, or None when the typer app should handle them."""
    parsed = _parse(args, "install", _FLAGS)
    if parsed is None or "--dry-run" not in parsed.flags or not parsed.arguments:
        return None
    if _names_local_path(parsed.arguments):
        return None
    return DryRun(
        parsed.arguments,
        parsed.base,
        "--pre" in parsed.flags,
        "--json" in parsed.flags,
        parsed.offline,
    )


def route_request(args: Sequence[str]) -> RouteRequest | None:
    """The routing ``args`` ask for (one prompt), or None when typer should handle them."""
    parsed = _parse(args, "route", frozenset(("--json",)))
    if parsed is None or len(parsed.arguments) != 1 or not parsed.arguments[0]:
        return None
    return RouteRequest(parsed.arguments[0], parsed.base, "--json" in parsed.flags)


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


def run_route(request: RouteRequest) -> None:
    """Route the prompt and print the decision, as ``hxpm route PROMPT`` does."""
    from hxpm.cli.render_route import render_routed
    from hxpm.services.routing import route_prompt
    from hxpm.store.store import Store

    routed = route_prompt(Store.from_env(), request.prompt, base=request.base)
    render_routed(routed, as_json=request.as_json, explain=False)


def main(argv: Sequence[str] | None = None) -> None:
    """The process entry point (``python -m hxpm``): a plain dry run never imports typer,
    click or the command modules; everything else goes to :func:`hxpm.cli.app.main`."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    request = dry_run_request(args)
    routing = route_request(args) if request is None else None
    if request is None and routing is None:
        from hxpm.cli.app import main as full_main

        full_main(args)
        return
    from hxpm.cli.failures import run_mapping_errors

    if request is not None:
        dry_run = request  # bound for the lambda (mypy keeps the narrowing)
        run_mapping_errors(lambda: run_dry_run(dry_run), args)
    elif routing is not None:
        route = routing
        run_mapping_errors(lambda: run_route(route), args)
