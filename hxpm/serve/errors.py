"""Errors only the server raises, and how every HxpmError maps to an OpenAI-shaped response.

The server reuses hxpm's one error root (hxpm/errors.py): a ``ServeError`` carries the same
message, hint, code and details as any HxpmError, and every family there answers with its
own HTTP status (``_FAMILY_STATUS``). What the server adds is only what the CLI has no use
for: an HTTP status and OpenAI's error ``type``, declared on the class. Those errors never
end a process, so they keep the root's nominal exit code; they stay out of hxpm/errors.py
(and docs/errors.md, the CLI's table) because no command can raise them. A missing API key
is answered by the Guard (guard.py) before any route runs, with the same body shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from hxpm.errors import HxpmError, NotFoundError, ResolutionError, UsageError, VerificationError


class ServeError(HxpmError):
    """An error of the server's own: answered with ``status`` and OpenAI's ``kind``."""

    status: ClassVar[int] = 500
    kind: ClassVar[str] = "server_error"


class QueueFullError(ServeError):
    """Too many requests are waiting: answered 429 with Retry-After."""

    code = "queue-full"
    status, kind = 429, "rate_limit_error"


class DeadlineError(ServeError):
    """A request ran past its deadline (queued or generating): answered 504."""

    code = "deadline"
    status, kind = 504, "timeout_error"


class NotReadyError(ServeError):
    """The base model is still loading (or failed to load): answered 503."""

    code = "not-ready"
    status = 503


# (family, HTTP status, OpenAI error type) for hxpm's own families; the first match wins.
_FAMILY_STATUS: tuple[tuple[type[HxpmError], int, str], ...] = (
    (NotFoundError, 404, "invalid_request_error"),
    (UsageError, 400, "invalid_request_error"),
    (ResolutionError, 400, "invalid_request_error"),
    (VerificationError, 500, "server_error"),
)


def status_of(error: HxpmError) -> tuple[int, str]:
    if isinstance(error, ServeError):
        return error.status, error.kind
    for cls, status, kind in _FAMILY_STATUS:
        if isinstance(error, cls):
            return status, kind
    return 500, "server_error"


def openai_error(
    message: str,
    kind: str,
    *,
    param: str | None = None,
    code: str | None = None,
    hint: str | None = None,
) -> dict[str, Any]:
    """The body OpenAI clients parse: ``{"error": {message, type, param, code}}``."""
    text = f"{message} ({hint})" if hint else message
    return {"error": {"message": text, "type": kind, "param": param, "code": code}}


def body_of(error: HxpmError) -> tuple[int, dict[str, Any]]:
    status, kind = status_of(error)
    param = error.details.get("param")
    code = error.code
    if status == 404 and param == "model":
        code = "model_not_found"
    elif "context_length" in error.details:
        code = "context_length_exceeded"  # the code OpenAI clients look for
    body = openai_error(error.message, kind, param=param, code=code, hint=error.hint)
    if "available" in error.details:
        body["error"]["available"] = list(error.details["available"])
    return status, body


def validation_error(
    errors: Sequence[Any], body: Any, tagged: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """The 400 body for pydantic's ``errors`` about ``body`` (the JSON the client sent).

    ``param`` names the field as the client wrote it: pydantic's locations also hold the
    names of union members (``stop.constrained-str``, ``content.list[TextPart]``) and the
    tags of discriminated unions (``tagged``: field -> its tags), which are no fields of the
    request. Of several errors (one per union member) the one reaching deepest into the body
    is reported, and a wrong type only when no member says more (``prompt: ["a", "b"]`` is
    too long, rather than "not a string").
    """
    best: tuple[int, bool, int] | None = None
    param, message = None, "invalid"
    for rank, error in enumerate(errors):
        steps = [s for s in error.get("loc", ()) if s != "body"]
        if len(steps) > 2 and steps[1] in tagged.get(str(steps[0]), ()):
            del steps[1]  # the union member's tag, e.g. response_format.json_schema.…
        path = _sent_path(steps, body, error.get("type") == "missing")
        score = (len(path), not str(error.get("type", "")).endswith("_type"), -rank)
        if best is None or score > best:
            best = score
            param = _param_name(path)
            message = str(error.get("msg", "invalid"))
    return openai_error(
        f"{param or 'body'}: {message}", "invalid_request_error", param=param, code="invalid_value"
    )


def _param_name(path: Sequence[str | int]) -> str | None:
    """OpenAI's spelling of a field's path: ``messages[0].content``, ``stop[1]``."""
    name = ""
    for step in path:
        name += f"[{step}]" if isinstance(step, int) else f".{step}" if name else step
    return name or None


def _sent_path(steps: Sequence[Any], body: Any, missing: bool) -> list[str | int]:
    """The steps that are keys and indexes of ``body`` (plus a required field left out)."""
    path: list[str | int] = []
    node = body
    for i, step in enumerate(steps):
        if _has(node, step):
            path.append(step)
            node = node[step]
        elif missing and isinstance(node, dict) and i == len(steps) - 1:
            path.append(step)  # a required field the client left out: name it
        # else: the name of a union member (``constrained-str``): no field of the request
    return path


def _has(node: Any, step: Any) -> bool:
    if isinstance(node, dict):
        return isinstance(step, str) and step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
