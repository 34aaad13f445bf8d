"""Progress bars for long work, drawn on stderr and only when it is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ProgressFn = Callable[[str, int, int], None]
_PHASES = {"verify": "verifying", "unpack": "unpacking", "download": "downloading"}


@contextmanager
def byte_progress(label: str, *, enabled: bool = True) -> Iterator[ProgressFn | None]:
    """Yield a ``progress(phase, done, total)`` callback, or None off a TTY or in --json."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), transient=True,
                  console=_stderr_console()) as bar:
        tasks: dict[str, int] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"{_PHASES.get(phase, phase)} {label}", total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update


def _stderr_console():  # type: ignore[no-untyped-def]
    from hxpm.cli.output import console

    return console(stderr=True)
