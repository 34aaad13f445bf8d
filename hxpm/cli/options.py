"""Shared option declarations."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document (stable shape).")]
BaseOpt = Annotated[
    str | None,
    typer.Option("--base", metavar="NAME", help="Base model variant (default: your default base)."),
]
