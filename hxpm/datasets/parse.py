"""One dataset line (bytes) to one record, for a named or detected format.

Every refusal is a :class:`DatasetError` naming the file, the line, the field (as the file
spells it) and what was expected. Fields a format does not use are ignored: real datasets
carry metadata (``task``, ``source``) beside the fields that train.

``field_mapping`` is the manifest's ``training.dataset.field_mapping``: our field name →
the file's field name (``{"output": "answer"}`` reads the file's ``answer`` as ``output``),
as in the older tool's schema (its ``response`` is read as ``output``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from hxpm.core.strictjson import JsonError, read_json
from hxpm.datasets.records import (
    ROLES,
    ChatRecord,
    Message,
    PreferenceRecord,
    PromptCompletion,
    Record,
    TextRecord,
)
from hxpm.errors import DatasetError

FIELDS = (
    "text",
    "prompt",
    "completion",
    "messages",
    "instruction",
    "input",
    "output",
    "response",
    "chosen",
    "rejected",
)
MAX_DEPTH = 32
MAX_MESSAGES = 4096
# What each format needs, for the error that says no format fits.
SHAPES = {
    "text": '{"text"}',
    "prompt_completion": '{"prompt", "completion"}',
    "messages": '{"messages": [{"role", "content"}, ...]}',
    "instruction": '{"instruction", "input", "output"}',
    "preference": '{"prompt", "chosen", "rejected"}',
}


class Line:
    """Where a line came from, to name it in errors, and its fields as the file spells them."""

    __slots__ = ("context", "names", "number", "path")

    def __init__(self, path: str, number: int, names: Mapping[str, str], context: str = "") -> None:
        self.path, self.number, self.names, self.context = path, number, names, context

    def error(self, what: str, *, field: str | None = None, expected: str) -> DatasetError:
        shown = self.names.get(field, field) if field else None
        where = f"{self.path} line {self.number}" + (f": field {shown!r}" if shown else "")
        return DatasetError(
            f"{where}: {what}, expected {expected}{self.context}",
            file=self.path,
            line=self.number,
            field=shown,
            expected=expected,
        )


def check_mapping(field_mapping: Mapping[str, str] | None, path: str) -> dict[str, str]:
    """The mapping as ``ours -> theirs``, checked.

    Raises:
        DatasetError: a key is not a field hxpm reads, or a value is not a field name.
    """
    mapping = dict(field_mapping or {})
    for ours, theirs in mapping.items():
        if ours not in FIELDS:
            raise DatasetError(
                f"{path}: field_mapping names {str(ours)[:60]!r}, which no dataset format uses",
                file=path,
                field=f"field_mapping.{str(ours)[:60]}",
                expected=f"keys among {', '.join(FIELDS)}",
            )
        if not isinstance(theirs, str) or not theirs:
            raise DatasetError(
                f"{path}: field_mapping.{ours} must name a field of the file",
                file=path,
                field=f"field_mapping.{ours}",
                expected="a field name (a non-empty string)",
            )
    return mapping


def load_object(line: Line, data: bytes, max_bytes: int) -> dict[str, Any]:
    """The JSON object on a line, with the mapping applied (our names as keys)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise line.error(
            f"not UTF-8 (byte 0x{data[exc.start]:02x} at column {exc.start + 1})",
            expected="UTF-8 text",
        ) from None
    try:
        obj = read_json(text, max_bytes=max_bytes, max_depth=MAX_DEPTH)
    except JsonError as exc:
        field = None if exc.path == "$" else exc.path
        raise line.error(exc.reason, field=field, expected="one JSON object per line") from None
    if not isinstance(obj, dict):
        raise line.error(f"got {_kind(obj)}", expected="a JSON object")
    for ours, theirs in line.names.items():
        if theirs in obj:
            obj[ours] = obj[theirs]
        elif ours != theirs:
            obj.pop(ours, None)  # only the mapped name may supply this field
    return obj


def detect(obj: Mapping[str, Any]) -> str | None:
    """The format an object's keys say, or None."""
    if "messages" in obj:
        return "messages"
    if "chosen" in obj and "rejected" in obj:
        return "preference"
    if "prompt" in obj and "completion" in obj:
        return "prompt_completion"
    if ("output" in obj or "response" in obj) and ("instruction" in obj or "input" in obj):
        return "instruction"
    if "text" in obj:
        return "text"
    return None


def no_format(line: Line, obj: Mapping[str, Any]) -> DatasetError:
    keys = ", ".join(repr(str(k)[:40]) for k in list(obj)[:8]) or "none"
    return line.error(
        f"no dataset format fits its fields ({keys})",
        expected="one of " + "; ".join(f"{k} {v}" for k, v in SHAPES.items()),
    )


def build(line: Line, obj: Mapping[str, Any], fmt: str) -> Record:
    return _BUILDERS[fmt](line, obj)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    return "an array" if isinstance(value, list) else "an object"


def _string(line: Line, obj: Mapping[str, Any], field: str, *, empty_ok: bool = False) -> str:
    if field not in obj:
        raise line.error("missing", field=field, expected="a string")
    value = obj[field]
    if not isinstance(value, str) or not (value or empty_ok):
        expected = "a string" if empty_ok else "a non-empty string"
        raise line.error(f"got {_kind(value)}", field=field, expected=expected)
    return value


def _texty(line: Line, obj: Mapping[str, Any], field: str) -> str:
    """A string, or an object/array written as compact JSON (real instruction datasets nest
    structured input: expert-json's ``input`` is an object)."""
    value = obj.get(field, "")
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    raise line.error(f"got {_kind(value)}", field=field, expected="a string or a JSON object")


def _text(line: Line, obj: Mapping[str, Any]) -> Record:
    return TextRecord(_string(line, obj, "text"))


def _prompt_completion(line: Line, obj: Mapping[str, Any]) -> Record:
    return PromptCompletion(
        _string(line, obj, "prompt", empty_ok=True), _string(line, obj, "completion")
    )


def _instruction(line: Line, obj: Mapping[str, Any]) -> Record:
    field = "output" if "output" in obj or "response" not in obj else "response"
    if field not in obj:
        raise line.error("missing", field="output", expected="a string")
    output = _texty(line, obj, field)
    if not output:
        raise line.error("got an empty string", field=field, expected="a non-empty output")
    parts = [p for p in (_texty(line, obj, "instruction"), _texty(line, obj, "input")) if p]
    if not parts:
        raise line.error(
            "no instruction and no input", field="instruction", expected="a non-empty string"
        )
    return PromptCompletion("\n\n".join(parts), output)


def _preference(line: Line, obj: Mapping[str, Any]) -> Record:
    return PreferenceRecord(
        _string(line, obj, "prompt", empty_ok=True),
        _string(line, obj, "chosen"),
        _string(line, obj, "rejected"),
    )


def _messages(line: Line, obj: Mapping[str, Any]) -> Record:
    value = obj.get("messages")
    if not isinstance(value, list) or not value or len(value) > MAX_MESSAGES:
        got = f"{len(value)} messages" if isinstance(value, list) else _kind(value)
        expected = f"an array of 1 to {MAX_MESSAGES} messages"
        raise line.error(f"got {got}", field="messages", expected=expected)
    messages = tuple(_message(line, i, m) for i, m in enumerate(value))
    if not any(m.role == "assistant" for m in messages):
        raise line.error(
            "no assistant message", field="messages", expected="at least one assistant turn"
        )
    return ChatRecord(messages)


def _message(line: Line, index: int, value: Any) -> Message:
    where = f"messages[{index}]"
    if not isinstance(value, dict):
        raise line.error(f"got {_kind(value)}", field=where, expected='{"role", "content"}')
    role = value.get("role")
    if role not in ROLES:
        shown = repr(role[:40]) if isinstance(role, str) else _kind(role)
        raise line.error(f"role {shown}", field=f"{where}.role", expected=f"one of {ROLES}")
    return Message(role, _content(line, f"{where}.content", value.get("content")))


def _content(line: Line, where: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    # OpenAI's content parts: only text parts can train a text model.
    if isinstance(value, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in value
    ):
        return "".join(p["text"] for p in value)
    raise line.error(
        f"got {_kind(value)}",
        field=where,
        expected='a string or an array of {"type": "text", "text": string} parts',
    )


_BUILDERS: dict[str, Callable[[Line, Mapping[str, Any]], Record]] = {
    "text": _text,
    "prompt_completion": _prompt_completion,
    "messages": _messages,
    "instruction": _instruction,
    "preference": _preference,
}
