"""The FastAPI application of `hxpm serve`: OpenAI-compatible routes over hxpm.api.

The base loads in a background thread after the server starts listening: /health answers
503 until it is ready, and so do the completion routes. Store work (listing models, choosing
experts) runs on the event loop thread; everything that touches the model runs on the
scheduler's worker thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hxpm.api import Session, last_user_text, to_messages
from hxpm.errors import GrammarError, HxpmError, UsageError
from hxpm.serve.errors import NotReadyError, body_of, openai_error, validation_error
from hxpm.serve.guard import Guard
from hxpm.serve.metrics import ServeMetrics
from hxpm.serve.scheduler import Job, Limits, Scheduler
from hxpm.serve.schemas import (
    COMMON_ERRORS,
    COMPLETION_RESPONSES,
    HEALTH_RESPONSES,
    METRICS_RESPONSES,
    RESPONSE_FORMAT_TYPES,
    ChatCompletionRequest,
    CompletionRequest,
    chat_body,
    chat_chunk,
    hxpm_block,
    new_id,
    text_body,
    text_chunk,
    usage,
)
from hxpm.services.catalog import Catalog
from hxpm.services.run import open_session, serving_threads


@dataclass(frozen=True)
class ServeConfig:
    device: str = "auto"
    api_key: str | None = None
    max_body: int = 1_000_000  # bytes
    max_tokens: int = 1024  # the largest max_tokens a request may ask for
    deadline_s: float = 300.0  # per request, queueing included
    max_loaded: int = 8
    limits: Limits = field(default_factory=Limits)
    quantize: str | None = None  # --quantize (docs/runtime.md)
    threads: int | None = None  # torch's CPU threads; None: the usable CPUs but one


class _State:
    """What the routes share: the catalog now, the session and scheduler once loaded."""

    def __init__(self, catalog: Catalog, config: ServeConfig) -> None:
        self.catalog, self.config = catalog, config
        self.metrics = ServeMetrics()
        self.scheduler: Scheduler | None = None
        self.problem: str | None = None  # why loading failed
        self.threads = 0  # torch's CPU threads, once loaded

    def load(self) -> None:
        try:
            runtime = open_session(
                self.catalog.base,
                device=self.config.device,
                max_loaded=self.config.max_loaded,
                quantize=self.config.quantize,
            )
            self.threads = serving_threads(self.config.threads)
            scheduler = Scheduler(Session(self.catalog, runtime), self.metrics, self.config.limits)
            scheduler.start()
            self.scheduler = scheduler
            self.metrics.ready.set(1)
        except HxpmError as e:
            self.problem = e.message
        except Exception as e:  # noqa: BLE001 -- any load failure: report it, keep /health honest
            self.problem = f"{type(e).__name__}: {str(e)[:300]}"

    def ready(self) -> Scheduler:
        if self.scheduler is None:
            raise NotReadyError(
                f"the base model failed to load: {self.problem}"
                if self.problem
                else f"the base model {self.catalog.base.name} is loading",
                hint="Poll GET /health until it answers 200.",
            )
        return self.scheduler


def create_app(catalog: Catalog, config: ServeConfig = ServeConfig()) -> Any:
    """The ASGI application (FastAPI behind the Guard) serving ``catalog``'s base."""
    state = _State(catalog, config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=state.load, name="hxpm-serve-load", daemon=True).start()
        yield
        if state.scheduler is not None:  # in-flight requests have finished by now
            await asyncio.to_thread(state.scheduler.stop)

    app = FastAPI(title="hxpm serve", version="1", lifespan=lifespan)
    _publish_limits(app, config)
    _install_error_handlers(app)
    _routes(app, state)
    return Guard(app, api_key=config.api_key, max_body=config.max_body, metrics=state.metrics)


def _publish_limits(app: FastAPI, config: ServeConfig) -> None:
    """/openapi.json states this server's --max-tokens as the maximum of the token fields, so
    that a body valid by the published schema is one the server accepts."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for name in ("ChatCompletionRequest", "CompletionRequest"):
                fields = schema["components"]["schemas"][name]["properties"]
                for key in ("max_tokens", "max_completion_tokens"):
                    for option in fields.get(key, {}).get("anyOf", ()):
                        if option.get("type") == "integer":
                            option["maximum"] = config.max_tokens
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HxpmError)
    async def hxpm_error(_: Request, e: HxpmError) -> JSONResponse:
        return _error_response(e)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, e: RequestValidationError) -> JSONResponse:
        tagged = {"response_format": RESPONSE_FORMAT_TYPES}
        return JSONResponse(validation_error(e.errors(), e.body, tagged), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            openai_error(str(e.detail), "invalid_request_error"), status_code=e.status_code
        )


def _error_response(e: HxpmError) -> JSONResponse:
    status, body = body_of(e)
    headers = {"Retry-After": "1"} if status == 429 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _routes(app: FastAPI, state: _State) -> None:
    @app.get("/health", responses=HEALTH_RESPONSES)
    async def health() -> JSONResponse:
        if state.scheduler is not None:
            return JSONResponse(
                {
                    "status": "ok",
                    "base": state.catalog.base.name,
                    "device": state.scheduler.session.device,
                    "threads": state.threads,
                }
            )
        status = "failed" if state.problem else "loading"
        return JSONResponse({"status": status, "error": state.problem}, status_code=503)

    @app.get("/metrics", response_class=PlainTextResponse, responses=METRICS_RESPONSES)
    async def metrics() -> Response:
        return Response(
            state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.get("/v1/models", responses=COMMON_ERRORS)
    async def models() -> dict[str, Any]:
        created = int(time.time())
        return {"object": "list", "data": [m.to_dict(created) for m in state.catalog.models()]}

    @app.post("/v1/chat/completions", responses=COMPLETION_RESPONSES)
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        messages = [{"role": m.role, "content": m.text()} for m in body.messages]
        return await _complete(state, request, body, messages, chat=True)

    @app.post("/v1/completions", responses=COMPLETION_RESPONSES)
    async def completions(body: CompletionRequest, request: Request) -> Response:
        prompt = body.prompt if isinstance(body.prompt, str) else body.prompt[0]
        return await _complete(state, request, body, prompt, chat=False)


async def _complete(
    state: _State,
    request: Request,
    body: ChatCompletionRequest | CompletionRequest,
    conversation: Any,
    *,
    chat: bool,
) -> Response:
    scheduler = state.ready()
    grammar = await _response_grammar(body)
    job = _job(state, body, conversation, grammar, chat=chat)
    scheduler.submit(job)
    rid = new_id("chatcmpl" if chat else "cmpl")
    first = await _next_event(job, request)
    if first is None:
        return Response(status_code=499)
    if first[0] == "error":
        return _error_response(first[1])
    headers = {"X-Hxpm-Experts": ",".join(f"{e.name}@{e.version}" for e in job.selection.experts)}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _sse(job, first, rid, body.model, chat, include_usage),
            media_type="text/event-stream",
            headers=headers,
        )
    event: tuple[str, Any] | None = first
    while event is not None and event[0] == "text":
        event = await _next_event(job, request)
    if event is None:
        return Response(status_code=499)
    if event[0] == "error":
        return _error_response(event[1])
    completion = event[1]
    out = (
        chat_body(rid, body.model, completion)
        if chat
        else text_body(
            rid,
            body.model,
            completion,
            conversation if isinstance(body, CompletionRequest) and body.echo else "",
        )
    )
    return JSONResponse(out, headers=headers)


async def _response_grammar(body: ChatCompletionRequest | CompletionRequest) -> Any:
    """``response_format`` as a GrammarSpec, compiled once here so that a schema that does
    not compile is a 400 before the request reaches the batch (None: free text)."""
    spec = body.grammar()
    if spec is None:
        return None
    from hxpm.runtime.grammar import compile_grammar

    try:
        # Off the event loop: a large schema may take a while to compile.
        await asyncio.to_thread(compile_grammar, spec)
    except GrammarError as e:
        raise UsageError(
            e.message,
            hint="Send a JSON Schema object llguidance can compile (docs/serve.md).",
            details={"param": "response_format"},
        ) from None
    return spec


def _job(
    state: _State,
    body: ChatCompletionRequest | CompletionRequest,
    conversation: Any,
    grammar: Any,
    *,
    chat: bool,
) -> Job:
    cap = state.config.max_tokens
    wanted = body.requested_tokens()
    if wanted is not None and wanted > cap:
        sent = body.tokens_field()
        raise UsageError(
            f"{sent} is {wanted} but this server allows at most {cap}",
            hint=f"Ask for at most {cap} tokens (hxpm serve --max-tokens sets the cap).",
            details={"param": sent},
        )
    route_on = last_user_text(to_messages(conversation)) if chat else str(conversation)
    try:
        selection = state.catalog.choose(body.model, route_on)
    except HxpmError as e:
        e.details.setdefault("param", "model")
        raise
    # Without max_tokens: the main expert's own setting, else hxpm's default (as `hxpm run`).
    return Job(
        conversation,
        selection,
        body.settings(wanted, grammar),
        not chat,
        asyncio.get_running_loop(),
        time.monotonic() + state.config.deadline_s,
    )


async def _next_event(job: Job, request: Request) -> tuple[str, Any] | None:
    """The job's next event; None (and the job cancelled) when the client has gone."""
    while True:
        try:
            return await asyncio.wait_for(job.events.get(), timeout=0.25)
        except TimeoutError:
            if await request.is_disconnected():
                job.cancel()
                return None


async def _sse(
    job: Job, first: tuple[str, Any], rid: str, model: str, chat: bool, include_usage: bool
) -> AsyncIterator[str]:
    """Server-sent events; leaving early (the client went away) cancels the generation."""
    done = False
    try:
        if chat:
            yield _data(chat_chunk(rid, model, {"role": "assistant", "content": ""}))
        event = first
        while True:
            kind, value = event
            if kind == "text":
                yield _data(
                    chat_chunk(rid, model, {"content": value})
                    if chat
                    else text_chunk(rid, model, value)
                )
            elif kind == "error":
                yield _data(body_of(value)[1])
                break
            else:
                extra = {"hxpm": hxpm_block(value)}
                yield _data(
                    chat_chunk(rid, model, {}, value.finish_reason, extra)
                    if chat
                    else text_chunk(rid, model, "", value.finish_reason, extra)
                )
                if include_usage:
                    yield _data(
                        {
                            "id": rid,
                            "object": "chat.completion.chunk" if chat else "text_completion",
                            "created": int(time.time()),
                            "model": model,
                            "choices": [],
                            "usage": usage(value),
                        }
                    )
                break
            event = await job.events.get()
        yield "data: [DONE]\n\n"
        done = True
    finally:
        if not done:
            job.cancel()


def _data(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
