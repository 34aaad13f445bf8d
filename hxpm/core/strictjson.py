"""THE strict JSON reader: everything hxpm parses from others goes through :func:`read_json`.

Manifests, index lines and configs, lock files, signature statements, safetensors headers,
PEFT adapter configs, dataset lines: all are bytes someone else wrote. ``json.loads`` alone is
lenient where leniency lets two readers disagree or lets input crash the reader, so this one
also refuses, each with the JSON path where it happened (:class:`JsonError`):

- more bytes than the caller's cap (checked before parsing) and text that is not UTF-8;
- nesting deeper than ``max_depth`` (also what would hit Python's recursion limit);
- a key repeated in one object (two parsers may keep different copies);
- ``NaN``/``Infinity``, floats that overflow to infinity, and integers beyond 64 bits (they
  overflow a float, SQLite's INTEGER and every size or offset a format can mean, and Python
  refuses to parse past 4300 digits with a bare ValueError).

One exception, for manifests only (``comment_keys=True``): the older expert-cli's authors
repeat comment keys (``"_comment"`` twice in one object). Such a key is accepted, reported
with its JSON path, and every occurrence is kept, so that :func:`dumps_document` writes the
object back with all its pairs in their original order.

Callers turn :class:`JsonError` into their own error family (ManifestError, IndexDataError,
SignatureError, PackageFormatError, ...): this module stays free of hxpm's error classes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

COMMENT_PREFIX = "_"
DEFAULT_MAX_DEPTH = 64
MAX_INT_BITS = 64  # an unsigned 64-bit value at most: sizes, offsets, counts
_MAX_INT = 1 << MAX_INT_BITS
# Longer digit runs are refused without converting them (int() is quadratic in the length).
_MAX_INT_DIGITS = len(str(_MAX_INT)) + 1


class JsonError(ValueError):
    """Bytes that are not a JSON document hxpm accepts: ``reason`` at JSON ``path``.

    ``line`` is the 1-based text line of a syntax error (None for other refusals)."""

    def __init__(self, reason: str, path: str = "$", *, line: int | None = None) -> None:
        super().__init__(f"{reason} at {path}" if path != "$" else reason)
        self.reason = reason
        self.path = path
        self.line = line


class DuplicateKeyError(JsonError):
    def __init__(self, key: str, path: str | None = None) -> None:
        super().__init__(f"duplicate key {key!r}", path or "$")
        self.key = key
        self.path = path or key  # JSON path of the repeated key (``training.dataset.path``)


class JsonTooLargeError(JsonError):
    """More bytes than the caller allows (nothing was parsed)."""


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


class _Refused:
    """Stands in for a number the parser saw but hxpm refuses; the walk after parsing
    reports it with its JSON path (the parser's hooks do not know where they are)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


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


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a JSON number")


def _float(text: str) -> float | _Refused:
    value = float(text)
    if not math.isfinite(value):
        return _Refused(f"the number {text[:20]} is out of range")
    return value


def _int(text: str) -> int | _Refused:
    digits = len(text.lstrip("-"))
    if digits <= _MAX_INT_DIGITS:
        value = int(text)
        if -_MAX_INT < value < _MAX_INT:
            return value
    shown = text if len(text) <= 24 else f"{text[:20]}... ({digits} digits)"
    return _Refused(f"the integer {shown} is out of range (at most {MAX_INT_BITS} bits)")


def read_json(
    data: bytes | str, *, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH, bom: bool = False
) -> Any:
    """Parse untrusted JSON: one document, no repeated key, bounded in size and depth.

    ``data`` is bytes (UTF-8; with ``bom`` a leading byte-order mark is allowed) or text.

    Raises:
        JsonError: the reason and the JSON path (:class:`DuplicateKeyError`,
            :class:`JsonTooLargeError` for the size cap). Never RecursionError.
    """
    value, _dups = _read(data, max_bytes, max_depth, bom, comment_keys=False)
    return value


def read_json_keeping_comments(
    data: bytes | str, *, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH, bom: bool = False
) -> tuple[Any, tuple[DuplicateKey, ...]]:
    """:func:`read_json`, but a key starting with ``_`` may repeat (manifests only).

    The object holding it becomes a :class:`JsonObject`; each such key is returned as a
    :class:`DuplicateKey` so the caller can warn about it.
    """
    return _read(data, max_bytes, max_depth, bom, comment_keys=True)


def _read(
    data: bytes | str, max_bytes: int, max_depth: int, bom: bool, *, comment_keys: bool
) -> tuple[Any, tuple[DuplicateKey, ...]]:
    size = len(data)
    if isinstance(data, str) and max_bytes < 4 * size:  # a character is 1 to 4 UTF-8 bytes
        size = len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise JsonTooLargeError(f"{size} bytes, more than the {max_bytes}-byte limit")
    text = _decode(data, bom) if isinstance(data, (bytes, bytearray)) else data
    try:
        value = json.loads(
            text,
            object_pairs_hook=_keep_duplicates,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_int,
        )
    except RecursionError:
        raise JsonError(
            f"nesting deeper than the limit (at most {max_depth} levels of nesting)"
        ) from None
    except json.JSONDecodeError as exc:
        raise JsonError(
            f"not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})", line=exc.lineno
        ) from None
    found: list[DuplicateKey] = []
    _walk(value, "", 0, max_depth, found)
    for dup in found:
        if not (comment_keys and dup.key.startswith(COMMENT_PREFIX)):
            raise DuplicateKeyError(dup.key, dup.path)
    return value, tuple(found)


def _decode(data: bytes | bytearray, bom: bool) -> str:
    try:
        return bytes(data).decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        raise JsonError(f"not UTF-8 text (invalid byte at offset {exc.start})") from None


def _walk(value: Any, path: str, depth: int, max_depth: int, found: list[DuplicateKey]) -> None:
    """Report refused numbers and too-deep nesting with their path; collect repeated keys."""
    if isinstance(value, _Refused):
        raise JsonError(value.reason, path or "$")
    if not isinstance(value, (dict, list)):
        return
    if depth >= max_depth:
        raise JsonError(f"at most {max_depth} levels of nesting", path or "$")
    if isinstance(value, list):
        for i, child in enumerate(value):
            _walk(child, f"{path}[{i}]", depth + 1, max_depth, found)
        return
    if isinstance(value, JsonObject):
        counts: dict[str, int] = {}
        for key, _ in value.layout:
            counts[key] = counts.get(key, 0) + 1
        found.extend(DuplicateKey(_key_path(path, k), k, n) for k, n in counts.items() if n > 1)
        for key, copies in value.earlier.items():
            for child in copies:
                _walk(child, _key_path(path, key), depth + 1, max_depth, found)
    for key, child in value.items():
        _walk(child, _key_path(path, key), depth + 1, max_depth, found)


def _key_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


# --- the older entry points, kept for callers that hold text already ------------------------

_TEXT_CAP = 1 << 30  # these callers cap their input themselves


def loads_strict(text: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """:func:`read_json` on text the caller has already size-checked."""
    return read_json(text, max_bytes=_TEXT_CAP, max_depth=max_depth)


def loads_keeping_comments(text: str) -> tuple[Any, tuple[DuplicateKey, ...]]:
    """:func:`read_json_keeping_comments` on text the caller has already size-checked."""
    return read_json_keeping_comments(text, max_bytes=_TEXT_CAP)


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
