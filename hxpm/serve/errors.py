"""Errors only the server raises, and how every HxpmError maps to an OpenAI-shaped response."""

from __future__ import annotations

from typing import Any

from hxpm.errors import HxpmError, NotFoundError, ResolutionError, UsageError, VerificationError


class QueueFullError(HxpmError):
    """Too many requests are waiting: answered 429 with Retry-After."""

    code = "queue-full"
    exit_code = 6


class DeadlineError(HxpmError):
    """A request ran past its deadline (queued or generating): answered 504."""

    code = "deadline"
    exit_code = 6


class AuthError(HxpmError):
    """A missing or wrong API key: answered 401."""

    code = "unauthorized"
    exit_code = 2


class NotReadyError(HxpmError):
    """The base model is still loading (or failed to load): answered 503."""

    code = "not-ready"
    exit_code = 1


# (HTTP status, OpenAI error type) per error class; the first match in order wins.
_STATUS: tuple[tuple[type[HxpmError], int, str], ...] = (
    (QueueFullError, 429, "rate_limit_error"),
    (DeadlineError, 504, "timeout_error"),
    (AuthError, 401, "authentication_error"),
    (NotReadyError, 503, "server_error"),
    (NotFoundError, 404, "invalid_request_error"),
    (UsageError, 400, "invalid_request_error"),
    (ResolutionError, 400, "invalid_request_error"),
    (VerificationError, 500, "server_error"),
)


def status_of(error: HxpmError) -> tuple[int, str]:
    for cls, status, kind in _STATUS:
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
    code = "model_not_found" if status == 404 and param == "model" else error.code
    body = openai_error(error.message, kind, param=param, code=code, hint=error.hint)
    if "available" in error.details:
        body["error"]["available"] = list(error.details["available"])
    return status, body
