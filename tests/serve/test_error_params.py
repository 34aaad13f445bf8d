"""Every 400 of a real `hxpm serve` names, in OpenAI's ``param``, the field the client sent:
as written in the body and spelled as OpenAI spells paths (``stop[0]``,
``messages[0].content``), never pydantic's names for union members (``constrained-str``,
``list[TextPart]``) or union tags."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.serve.conftest import Server

USER = [{"role": "user", "content": "count the users"}]
CHAT: dict[str, Any] = {"model": "sql", "messages": USER, "max_tokens": 4}
TEXT: dict[str, Any] = {"model": "sql", "prompt": "SELECT", "max_tokens": 4}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"not": {}}}}
LONG = "please describe this document in detail " * 80  # far beyond the tiny base's 512


def _post(server: Server, path: str, body: Any, raw: bytes | None = None) -> tuple[int, Any]:
    """(status, JSON answer) of POST /v1/PATH."""
    req = urllib.request.Request(
        f"{server.v1}/{path}",
        data=json.dumps(body).encode() if raw is None else raw,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


_DROP = object()  # _with(..., field=_DROP): the body without that field


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {**base, **changes}
    return {k: v for k, v in body.items() if v is not _DROP}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        # Checked by the server once the body parsed: the conversation, the token cap, the
        # model name, the context and the JSON Schema.
        (_with(CHAT, messages=[*USER, {"role": "assistant", "content": "ok"}]), "messages"),
        (_with(CHAT, max_completion_tokens=10**6), "max_completion_tokens"),
        (_with(CHAT, max_tokens=10**6), "max_tokens"),
        (_with(CHAT, max_tokens=10**6, max_completion_tokens=10**6), "max_completion_tokens"),
        (_with(CHAT, model="Not A Name"), "model"),
        (_with(CHAT, messages=[{"role": "user", "content": LONG}]), "messages"),
        (_with(CHAT, response_format=SCHEMA), "response_format"),
        # Checked by the schema: each union member's error is traced to the field sent.
        (_with(CHAT, model=_DROP), "model"),
        (_with(CHAT, messages=[]), "messages"),
        (_with(CHAT, messages="hi"), "messages"),
        (_with(CHAT, messages=[{"role": "tool", "content": "x"}]), "messages[0].role"),
        (_with(CHAT, messages=[{"role": "user"}]), "messages[0].content"),
        (_with(CHAT, messages=[{"role": "user", "content": {"a": 1}}]), "messages[0].content"),
        (
            _with(CHAT, messages=[{"role": "user", "content": [{"type": "image"}]}]),
            "messages[0].content[0].type",
        ),
        (_with(CHAT, stop=""), "stop"),
        (_with(CHAT, stop=["ok", ""]), "stop[1]"),
        (_with(CHAT, stop=["a", "b", "c", "d", "e"]), "stop"),
        (_with(CHAT, temperature=-1), "temperature"),
        (_with(CHAT, top_p=0), "top_p"),
        (_with(CHAT, n=2), "n"),
        (_with(CHAT, seed=-1), "seed"),
        (_with(CHAT, max_completion_tokens=0), "max_completion_tokens"),
        (_with(CHAT, stream_options={"include_usage": "maybe"}), "stream_options.include_usage"),
        (_with(CHAT, response_format={"type": "bogus"}), "response_format"),
        (
            _with(CHAT, response_format={"type": "json_schema", "json_schema": {"name": 1}}),
            "response_format.json_schema.name",
        ),
        (
            _with(CHAT, response_format={"type": "json_schema"}),
            "response_format.json_schema",
        ),
    ],
)
def test_a_chat_400_names_the_field_sent(server, body, param):
    status, answer = _post(server, "chat/completions", body)
    assert status == 400, answer
    error = answer["error"]
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error" and error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (_with(TEXT, max_tokens=10**6), "max_tokens"),
        (_with(TEXT, prompt=LONG), "prompt"),
        (_with(TEXT, prompt=_DROP), "prompt"),
        (_with(TEXT, prompt=""), "prompt"),
        (_with(TEXT, prompt=[""]), "prompt[0]"),
        (_with(TEXT, prompt=["a", "b"]), "prompt"),
        (_with(TEXT, prompt=5), "prompt"),
        (_with(TEXT, model="sql+expert-json@>="), "model"),
    ],
)
def test_a_completion_400_names_the_field_sent(server, body, param):
    status, answer = _post(server, "completions", body)
    assert status == 400, answer
    assert answer["error"]["param"] == param, answer


def test_the_message_names_the_field_and_what_was_wrong(server):
    _, cap = _post(server, "chat/completions", _with(CHAT, max_completion_tokens=10**6))
    assert cap["error"]["message"].startswith("max_completion_tokens is 1000000 but"), cap
    _, two = _post(server, "completions", _with(TEXT, prompt=["a", "b"]))
    assert two["error"]["message"].startswith("prompt: List should have at most 1 item"), two
    answered = [*USER, {"role": "assistant", "content": "ok"}]
    _, turn = _post(server, "chat/completions", _with(CHAT, messages=answered))
    assert turn["error"]["message"].startswith("the last message must have role"), turn


def test_a_body_that_is_no_json_object_names_no_field(server):
    for raw in (b"{not json", b"[1, 2]"):
        status, answer = _post(server, "chat/completions", None, raw)
        assert status == 400 and answer["error"]["param"] is None, answer


def test_a_prompt_beyond_the_context_has_openais_context_length_code(server):
    """Clients that trim a conversation on OpenAI's ``context_length_exceeded`` find it."""
    for path, body, param in (
        ("chat/completions", _with(CHAT, messages=[{"role": "user", "content": LONG}]), "messages"),
        ("completions", _with(TEXT, prompt=LONG), "prompt"),
    ):
        status, answer = _post(server, path, body)
        assert status == 400, answer
        assert answer["error"]["code"] == "context_length_exceeded", answer
        assert answer["error"]["param"] == param
        assert "context is 512 tokens" in answer["error"]["message"]
