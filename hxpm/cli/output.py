"""Rendering: versioned JSON on stdout, or human text through rich (imported lazily)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

_consoles: dict[str, Console] = {}


def console(stderr: bool = False) -> Console:
    key = "err" if stderr else "out"
    if key not in _consoles:
        from rich.console import Console

        _consoles[key] = Console(stderr=stderr, highlight=False, soft_wrap=True)
    return _consoles[key]


def emit_json(kind: str, payload: dict[str, Any]) -> None:
    """Print one JSON document: ``{"schema": "hxpm.<kind>/1", ...payload}``."""
    doc = {"schema": f"hxpm.{kind}/1", **payload}
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def say(text: str) -> None:
    """Print rich markup. Values from packages, indexes and servers still go through
    :func:`escape` (markup); ``inert`` here is the net under every line, so a forgotten
    escape can garble the look but never act on the terminal."""
    console().print(inert(text))


def warn(text: str) -> None:
    console(stderr=True).print(f"[bold yellow]warning:[/] {_escape(text)}")


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    if not rows:
        say(f"[dim]{empty}[/]")
        return
    from rich.table import Table

    t = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*(_escape("" if v is None else str(v)) for v in r))
    console().print(t)


# Characters that act on a terminal instead of showing: C0/C1 controls (ESC starts cursor,
# title and clear-screen sequences; rich strips only a few of them) and the bidi overrides
# that make text read differently from its bytes. Newline and tab stay: they only lay out.
_INERT_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def inert(text: str) -> str:
    """``text`` with every terminal-acting character shown as a visible escape (``\\x1b``)."""
    return _INERT_RE.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape(text: str) -> str:
    """Strings from packages, indexes and servers: inert for the terminal, then for rich's
    markup (so `[bold]` in a description stays text)."""
    from rich.markup import escape

    return escape(inert(text))


def escape(text: str) -> str:
    return _escape(text)
