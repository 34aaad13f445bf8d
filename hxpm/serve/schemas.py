"""The OpenAI request bodies hxpm accepts (pydantic: FastAPI validates them and publishes them
in /openapi.json), and the response bodies it writes."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hxpm.api import Completion, Settings

MAX_MESSAGES = 256
MAX_STOPS = 4
SEED_MAX = 2**63 - 1


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str = Field(max_length=1_000_000)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class _Sampling(BaseModel):
    """Fields both endpoints share. Unknown fields are ignored, as OpenAI's clients send some."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=1000)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, le=SEED_MAX)
    stop: str | list[str] | None = None
    n: int = Field(1, ge=1, le=1)
    stream: bool = False
    stream_options: StreamOptions | None = None

    def stops(self) -> tuple[str, ...]:
        items = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return tuple(items)

    def settings(self, max_tokens: int | None) -> Settings:
        return Settings(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            stop=self.stops(),
        )


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_completion_tokens: int | None = Field(None, ge=1)

    def requested_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_Sampling):
    prompt: str | list[str]
    echo: bool = False

    def requested_tokens(self) -> int | None:
        return self.max_tokens


def stop_problem(stops: tuple[str, ...]) -> str | None:
    """Why the stop list is unusable, or None."""
    if len(stops) > MAX_STOPS:
        return f"at most {MAX_STOPS} stop sequences are allowed, got {len(stops)}"
    if any(not s or len(s) > 200 for s in stops):
        return "each stop sequence must be 1 to 200 characters"
    return None


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def hxpm_block(c: Completion) -> dict[str, Any]:
    return {"experts": list(c.experts), "why": c.why}


def usage(c: Completion) -> dict[str, int]:
    return {
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "total_tokens": c.prompt_tokens + c.completion_tokens,
    }


def chat_body(rid: str, model: str, c: Completion) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": c.text},
                "finish_reason": c.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage(c),
        "hxpm": hxpm_block(c),
    }


def text_body(rid: str, model: str, c: Completion, prefix: str = "") -> dict[str, Any]:
    return {
        "id": rid,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "text": prefix + c.text,
                "finish_reason": c.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage(c),
        "hxpm": hxpm_block(c),
    }


def chat_chunk(
    rid: str,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return {**body, **(extra or {})}


def text_chunk(
    rid: str, model: str, text: str, finish: str | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = {
        "id": rid,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}],
    }
    return {**body, **(extra or {})}
