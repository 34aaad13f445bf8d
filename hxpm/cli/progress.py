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
                tasks[phase] = bar.add_task(
                    f"{_PHASES.get(phase, phase)} {label}", total=total, bytes=True
                )
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

    def items(self, label: str) -> Callable[[int, int], None] | None:
        """A counter ``update(done, total)`` for work done an item at a time (None off a TTY)."""
        if self._bar is None:
            return None
        bar = self._bar
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return update

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
    from rich.progress import BarColumn, Progress, TextColumn

    from hxpm.cli.output import console

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        _count_column(),
        transient=True,
        console=console(stderr=True),
    ) as bar:
        yield Display(bar)


def _count_column() -> Any:
    """Sizes for byte tasks (``bytes=True``), "done/total" for the others (steps, items)."""
    from rich.progress import DownloadColumn, MofNCompleteColumn, ProgressColumn, Task
    from rich.text import Text

    class CountColumn(ProgressColumn):
        def __init__(self) -> None:
            super().__init__()
            self._bytes, self._count = DownloadColumn(), MofNCompleteColumn()

        def render(self, task: Task) -> Text:
            return (self._bytes if task.fields.get("bytes") else self._count).render(task)

    return CountColumn()
