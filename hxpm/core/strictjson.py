"""One strict JSON reader for everything hxpm parses from others (manifests, index lines).

Stricter than ``json.loads`` where leniency lets two readers disagree: a key repeated in one
object (two parsers may keep different copies), ``NaN``/``Infinity`` and numbers that
overflow to infinity (not JSON, and cannot be written back).
"""

from __future__ import annotations

import json
import math
from typing import Any


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def loads_strict(text: str) -> Any:
    """Parse JSON text.

    Raises:
        DuplicateKeyError: a key appears twice in one object.
        ValueError: not JSON, ``NaN``/``Infinity``, or a number out of range.
        RecursionError: nesting too deep for the parser.
    """
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                      parse_float=_finite_float)
