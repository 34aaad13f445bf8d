"""The OpenAI request bodies hxpm accepts (pydantic: FastAPI validates them and publishes them
in /openapi.json), and the response bodies it writes."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hxpm.api import Completion, Settings

if TYPE_CHECKING:
    from hxpm.runtime.grammar import GrammarSpec

MAX_MESSAGES = 256
MAX_STOPS = 4
SEED_MAX = 2**63 - 1


StopString = Annotated[str, Field(min_length=1, max_length=200)]


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


class TextFormat(BaseModel):
    """Free text: the default (an expert's own grammar, if it has one, still applies)."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]


class JsonObjectFormat(BaseModel):
    """JSON mode: the answer is one JSON object."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["json_object"]


class JsonSchemaSpec(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = Field(None, max_length=10_000)
    # "schema" would shadow a BaseModel attribute: the field is schema_, its JSON name schema.
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None  # hxpm always enforces the schema (docs/serve.md)


class JsonSchemaFormat(BaseModel):
    """Structured output: the answer is JSON valid against ``json_schema.schema``."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")
ResponseFormat = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")
]


class _Sampling(BaseModel):
    """Fields both endpoints share. Unknown fields are ignored, as OpenAI's clients send some."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=1000)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, le=SEED_MAX)
    stop: StopString | Annotated[list[StopString], Field(max_length=MAX_STOPS)] | None = None
    n: int = Field(1, ge=1, le=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    ignore_eos: bool = False  # vLLM's extension: decode max_tokens tokens (for benchmarks)
    response_format: ResponseFormat | None = None

    def grammar(self) -> GrammarSpec | None:
        """What ``response_format`` constrains the answer to; None: free text."""
        from hxpm.runtime.grammar import GrammarSpec  # light: no torch, no llguidance

        fmt = self.response_format
        if isinstance(fmt, JsonObjectFormat):
            return GrammarSpec.json_object("response_format")
        if isinstance(fmt, JsonSchemaFormat):
            schema = fmt.json_schema.schema_
            source = "response_format.json_schema.schema"
            if schema is None:  # OpenAI makes the schema optional: any JSON object then
                return GrammarSpec.json_object(source)
            # Serialized here, keys in the client's order: the answer's keys follow it.
            return GrammarSpec.json_schema(json.dumps(schema), source)
        return None

    def stops(self) -> tuple[str, ...]:
        items = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return tuple(items)

    def settings(self, max_tokens: int | None, grammar: GrammarSpec | None = None) -> Settings:
        return Settings(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            stop=self.stops(),
            ignore_eos=self.ignore_eos,
            grammar=grammar,
        )


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_completion_tokens: int | None = Field(None, ge=1)

    def requested_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def tokens_field(self) -> str:
        """The field ``requested_tokens`` comes from, as the client named it."""
        return "max_completion_tokens" if self.max_completion_tokens else "max_tokens"


class CompletionRequest(_Sampling):
    # One prompt (a list of one is what some clients send): batches of prompts are not served.
    prompt: (
        Annotated[str, Field(min_length=1)]
        | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=1)]
    )
    echo: bool = False

    def requested_tokens(self) -> int | None:
        return self.max_tokens

    def tokens_field(self) -> str:
        return "max_tokens"


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error shape, as every error answer carries it."""

    error: ErrorDetail


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "model": ErrorBody}


# What /openapi.json says each route may answer (checked by tests/serve/test_schema_fuzz.py).
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("Missing or wrong API key"),
    413: _error("Request body too large"),
}
COMPLETION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The completion (JSON), or server-sent events with `stream: true`",
        "content": {"application/json": {}, "text/event-stream": {}},
    },
    400: _error("Bad input; `param` names the field"),
    404: _error("Unknown model; `available` lists the installed names"),
    429: _error("The queue is full; see Retry-After"),
    503: _error("The base model is still loading, or failed to load"),
    504: _error("The request ran past its deadline"),
    **COMMON_ERRORS,
}
METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus text format", "content": {"text/plain": {}}},
    **COMMON_ERRORS,
}
HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "Loading, or loading failed (with the reason)"},
}


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
