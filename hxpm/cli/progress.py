"""Progress display for long work, drawn on stderr and only when it is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

ProgressFn = Callable[[str, int, int], None]
_PHASES = {"verify": "verifying", "unpack": "unpacking", "download": "downloading"}


class Display:
    """Byte bars for archives and a line per fetched/installed expert. Inert off a TTY."""

    def __init__(self, bar: Any | None) -> None:
        self._bar = bar

    def bytes_for(self, label: str) -> ProgressFn | None:
        if self._bar is None:
            return None
        bar, tasks = self._bar, {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"{_PHASES.get(phase, phase)} {label}", total=total)
            bar.update(tasks[phase], completed=done, total=total)

        return update

    def loss_step(self, done: int, total: int, loss: float) -> None:
        if self._bar is None:
            return
        if not hasattr(self, "_train_task"):
            self._train_task = self._bar.add_task("training", total=total)
        self._bar.update(
            self._train_task, completed=done, total=total, description=f"training (loss {loss:.3f})"
        )

    def step(self, step: Any, state: str) -> None:
        if self._bar is not None:
            from hxpm.cli.output import escape

            c = step.candidate
            self._bar.console.print(f"[dim]{state}[/] {escape(c.name)} {escape(str(c.version))}")


@contextmanager
def progress_display(*, enabled: bool = True) -> Iterator[Display]:
    if not enabled or not sys.stderr.isatty():
        yield Display(None)
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from hxpm.cli.output import console

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        transient=True,
        console=console(stderr=True),
    ) as bar:
        yield Display(bar)
