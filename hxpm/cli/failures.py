"""How a failing command ends: the error rendered (text, or JSON with ``--json``) and its
exit code. Shared by the typer app and the lean ``install --dry-run`` path
(:mod:`hxpm.cli.lean`); imports nothing heavy, so the lean path stays lean."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from hxpm.errors import HxpmError, StoreError, UsageError

if TYPE_CHECKING:
    import sqlite3


def run_mapping_errors(command: Callable[[], None], args: Sequence[str]) -> None:
    """Run ``command``; turn what escapes it into a rendered error and an exit code.
    ``--offline`` (HXPM_OFFLINE) is per invocation, also when run in-process (tests)."""
    offline_before = os.environ.get("HXPM_OFFLINE")
    try:
        command()
    except HxpmError as err:
        _fail(err, args)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as err:
        # An I/O failure no service turned into an HxpmError (disk full, permissions).
        _fail(os_error(err), args, err)
    except sqlite3_error() as err:
        # A database failure below a service that did not expect one (the store's own
        # calls already raise StoreError with a hint).
        from hxpm.store.state import database_error

        _fail(database_error("the store database failed", err), args, err)
    finally:
        if offline_before is None:
            os.environ.pop("HXPM_OFFLINE", None)
        else:
            os.environ["HXPM_OFFLINE"] = offline_before


def _fail(err: HxpmError, args: Sequence[str], cause: BaseException | None = None) -> NoReturn:
    if os.environ.get("HXPM_DEBUG"):
        raise cause or err
    render_error(err, "--json" in args)
    sys.exit(err.exit_code)


def render_error(err: HxpmError, as_json: bool) -> None:
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


def os_error(err: OSError) -> HxpmError:
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
