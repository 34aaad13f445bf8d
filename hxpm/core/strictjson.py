"""One strict JSON reader for everything hxpm parses from others (manifests, index lines).

Stricter than ``json.loads`` where leniency lets two readers disagree: a key repeated in one
object (two parsers may keep different copies), ``NaN``/``Infinity`` and numbers that
overflow to infinity (not JSON, and cannot be written back).

One exception, for manifests only (:func:`loads_keeping_comments`): the older expert-cli's
authors repeat comment keys (``"_comment"`` twice in one object). Such a key is accepted,
reported with its JSON path, and every occurrence is kept, so that :func:`dumps_document`
writes the object back with all its pairs in their original order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

COMMENT_PREFIX = "_"


class DuplicateKeyError(ValueError):
    def __init__(self, key: str, path: str | None = None) -> None:
        super().__init__(f"duplicate key {key!r}" + (f" at {path}" if path else ""))
        self.key = key
        self.path = path  # JSON path of the repeated key (``training.dataset.path``) if known


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    """A key seen more than once in one object: where, and how many times."""

    path: str  # JSON path of the key itself, e.g. ``training.dataset._comment``
    key: str
    count: int


class JsonObject(dict[str, Any]):
    """A JSON object that repeated a key. As a dict it holds each key once (the last value,
    as ``json.loads`` does); ``layout`` remembers every pair, so nothing is lost on write.

    ``layout`` holds ``(key, n)`` in document order: the n-th occurrence of ``key``.
    ``earlier[key]`` holds the values of all but the last occurrence; the last one is the
    dict's own value, so an edit through the dict is what gets written.
    """

    layout: list[tuple[str, int]]
    earlier: dict[str, list[Any]]

    def pairs(self) -> Iterator[tuple[str, Any]]:
        """Every (key, value) to write, in document order; keys added later come last."""
        for key, n in self.layout:
            if key not in self:
                continue  # deleted through the dict: all its occurrences go
            before = self.earlier.get(key, [])
            yield key, before[n] if n < len(before) else self[key]
        placed = {key for key, _ in self.layout}
        yield from ((k, v) for k, v in self.items() if k not in placed)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def _keep_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    plain = dict(pairs)  # the last value wins, as with json.loads
    if len(plain) == len(pairs):
        return plain
    out = JsonObject(plain)
    values: dict[str, list[Any]] = {}
    out.layout = []
    for key, value in pairs:
        out.layout.append((key, len(values.setdefault(key, []))))
        values[key].append(value)
    out.earlier = {key: vals[:-1] for key, vals in values.items() if len(vals) > 1}
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


def loads_keeping_comments(text: str) -> tuple[Any, tuple[DuplicateKey, ...]]:
    """Parse JSON text like :func:`loads_strict`, but keep repeated comment keys.

    A key starting with ``_`` may repeat (the object becomes a :class:`JsonObject`); each is
    returned as a :class:`DuplicateKey` so the caller can warn about it.

    Raises:
        DuplicateKeyError: any other key appears twice; its ``path`` says where.
        ValueError: not JSON, ``NaN``/``Infinity``, or a number out of range.
        RecursionError: nesting too deep for the parser.
    """
    value = json.loads(text, object_pairs_hook=_keep_duplicates, parse_constant=_no_constant,
                       parse_float=_finite_float)
    found: list[DuplicateKey] = []
    _collect_duplicates(value, "", found)
    for dup in found:
        if not dup.key.startswith(COMMENT_PREFIX):
            raise DuplicateKeyError(dup.key, dup.path)
    return value, tuple(found)


def _collect_duplicates(value: Any, path: str, found: list[DuplicateKey]) -> None:
    if isinstance(value, JsonObject):
        counts: dict[str, int] = {}
        for key, _ in value.layout:
            counts[key] = counts.get(key, 0) + 1
        found.extend(DuplicateKey(_key_path(path, k), k, n) for k, n in counts.items() if n > 1)
    if isinstance(value, dict):
        for key, child in value.items():
            _collect_duplicates(child, _key_path(path, key), found)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _collect_duplicates(child, f"{path}[{i}]", found)


def _key_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def dumps_document(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, writing back repeated keys.

    Byte for byte what ``json.dumps`` gives when ``value`` holds no :class:`JsonObject`.
    """
    if not _has_duplicates(value):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(_write(value, 0))


def _has_duplicates(value: Any) -> bool:
    if isinstance(value, JsonObject):
        return True
    if isinstance(value, dict):
        return any(_has_duplicates(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_duplicates(v) for v in value)
    return False


def _write(value: Any, level: int) -> Iterator[str]:
    if isinstance(value, dict):
        items = list(value.pairs()) if isinstance(value, JsonObject) else list(value.items())
        if not items:
            yield "{}"
            return
        inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
        yield "{"
        for i, (key, child) in enumerate(items):
            yield ("," if i else "") + inner + json.dumps(key, ensure_ascii=False) + ": "
            yield from _write(child, level + 1)
        yield outer + "}"
    elif isinstance(value, list):
        if not value:
            yield "[]"
            return
        inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
        yield "["
        for i, child in enumerate(value):
            yield ("," if i else "") + inner
            yield from _write(child, level + 1)
        yield outer + "]"
    else:
        yield json.dumps(value, ensure_ascii=False)
