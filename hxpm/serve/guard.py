"""An ASGI layer in front of every route: API key, request-body cap, and request counting.

Pure ASGI rather than a BaseHTTPMiddleware so that streamed responses and client
disconnects pass through untouched.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hxpm.serve.errors import openai_error
from hxpm.serve.metrics import ServeMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = ("/health",)  # answered without a key: load balancers probe it
KNOWN_PATHS = (
    "/health",
    "/metrics",
    "/v1/models",
    "/v1/chat/completions",
    "/v1/completions",
    "/openapi.json",
    "/docs",
)


class Guard:
    def __init__(
        self, app: ASGIApp, *, api_key: str | None, max_body: int, metrics: ServeMetrics
    ) -> None:
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body = max_body
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        # Unknown paths share one label: a client cannot grow the metrics without bound.
        label = path if path in KNOWN_PATHS else "other"
        status: list[int] = []

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self._guarded(scope, receive, counted_send, path)
        finally:
            self.metrics.requests.labels(label, str(status[0] if status else 499)).inc()

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        if self.api_key is not None and path not in OPEN_PATHS and not self._authorized(scope):
            await _reply(
                send,
                401,
                openai_error(
                    "a valid API key is required",
                    "authentication_error",
                    code="invalid_api_key",
                    hint="Send 'Authorization: Bearer KEY' with the key given to `hxpm serve`.",
                ),
                [(b"www-authenticate", b"Bearer")],
            )
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _reply(send, 413, self._too_large())
            return
        body, more = b"", True
        while more:  # buffered up to the cap, so chunked bodies are capped too
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
            if len(body) > self.max_body:
                await _reply(send, 413, self._too_large())
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _authorized(self, scope: Scope) -> bool:
        assert self.api_key is not None
        value = _header(scope, b"authorization") or ""
        scheme, _, token = value.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.api_key
        )

    def _too_large(self) -> dict[str, Any]:
        return openai_error(
            f"the request body is larger than {self.max_body} bytes",
            "invalid_request_error",
            code="body_too_large",
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _reply(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
