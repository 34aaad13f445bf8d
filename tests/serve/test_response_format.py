"""`response_format` (OpenAI's JSON mode and structured outputs) through the official openai
client against a real `hxpm serve` process: answers parse as JSON and validate against the
schema (jsonschema), streamed or not, alone or side by side in one batch.

The tiny base's weights are random: its free text never parses as JSON, so an answer that
validates shows the grammar at work, not the model.
"""

from __future__ import annotations

import json
import threading

import pytest

from tests.serve.conftest import BASE, Server

openai = pytest.importorskip("openai")
jsonschema = pytest.importorskip("jsonschema")

DOCUMENT = {
    "type": "object",
    "properties": {
        "total": {"type": "integer", "minimum": 0, "maximum": 100000},
        "label": {"type": "string", "enum": ["invoice", "receipt", "letter"]},
        "paid": {"type": "boolean"},
    },
    "required": ["total", "label", "paid"],
    "additionalProperties": False,
}
PROMPT = [{"role": "user", "content": "Classify this document: Invoice #123, total due $400"}]


def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.v1, api_key="unused", max_retries=0, timeout=60)


def schema_format(schema: dict = DOCUMENT) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "document", "schema": schema}}


@pytest.mark.parametrize("model", [BASE, "expert-document-classifier", "sql"])
def test_json_schema_answers_validate(server, model):
    r = client(server).chat.completions.create(
        model=model,
        max_tokens=60,
        messages=PROMPT,
        response_format={
            **schema_format(),
            "json_schema": {"name": "document", "strict": True, "schema": DOCUMENT},
        },
    )
    assert r.choices[0].finish_reason == "stop"
    answer = json.loads(r.choices[0].message.content)
    jsonschema.validate(answer, DOCUMENT)
    assert list(answer) == ["total", "label", "paid"]  # the schema's order, not sorted


def test_the_bare_base_writes_no_json_without_it(server):
    r = client(server).chat.completions.create(
        model=BASE, max_tokens=30, messages=PROMPT, response_format={"type": "text"}
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.choices[0].message.content)


def test_json_object_mode_answers_an_object(server):
    for model in (BASE, "expert-document-classifier"):
        r = client(server).chat.completions.create(
            model=model, max_tokens=40, messages=PROMPT, response_format={"type": "json_object"}
        )
        assert r.choices[0].finish_reason == "stop"
        assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_streamed_answer_validates_and_equals_the_whole_one(server):
    c = client(server)
    fmt = schema_format()
    whole = c.chat.completions.create(
        model=BASE, max_tokens=60, messages=PROMPT, response_format=fmt
    )
    chunks = list(
        c.chat.completions.create(
            model=BASE, max_tokens=60, messages=PROMPT, response_format=fmt, stream=True
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    jsonschema.validate(json.loads(text), DOCUMENT)
    assert text == whole.choices[0].message.content and len(chunks) > 3
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_rows_with_different_formats_share_a_batch(server):
    """Each row of one batched decode follows its own grammar (or none)."""
    flag = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,  # else extra keys may run on past max_tokens
    }
    cases = [
        ("doc", BASE, schema_format()),
        ("flag", "expert-sql", schema_format(flag)),
        ("object", "expert-document-classifier", {"type": "json_object"}),
        ("free", "expert-sql", None),
    ]
    answers: dict[str, str] = {}

    def ask(key: str, model: str, fmt: dict | None) -> None:
        extra = {"response_format": fmt} if fmt else {}
        r = client(server).chat.completions.create(
            model=model, max_tokens=60, messages=PROMPT, seed=3, temperature=0.7, **extra
        )
        answers[key] = r.choices[0].message.content

    before = server.metric("hxpm_batch_size_sum")
    steps_before = server.metric("hxpm_batch_size_count")
    threads = [threading.Thread(target=ask, args=case) for case in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(answers) == {"doc", "flag", "object", "free"}
    rows = server.metric("hxpm_batch_size_sum") - before
    assert rows > server.metric("hxpm_batch_size_count") - steps_before  # steps held >1 row
    jsonschema.validate(json.loads(answers["doc"]), DOCUMENT)
    jsonschema.validate(json.loads(answers["flag"]), flag)
    assert isinstance(json.loads(answers["object"]), dict)
    assert "SELECT" in answers["free"].upper()


def test_legacy_completions_take_response_format_too(server):
    r = client(server).completions.create(
        model=BASE,
        prompt="The document:",
        max_tokens=60,
        extra_body={"response_format": schema_format()},
    )
    jsonschema.validate(json.loads(r.choices[0].text), DOCUMENT)


@pytest.mark.parametrize(
    ("fmt", "param", "words"),
    [
        (schema_format({"type": "nonsense"}), "response_format", "nonsense"),
        (schema_format({"$ref": "#/definitions/missing"}), "response_format", "missing"),
        (schema_format({"type": "string", "pattern": "(unclosed"}), "response_format", ""),
        ({"type": "xml"}, "response_format", "json_schema"),
        ({"type": "json_schema"}, "response_format.json_schema", "json_schema"),
        (
            {"type": "json_schema", "json_schema": {"name": "no spaces", "schema": {}}},
            "response_format.json_schema.name",
            "pattern",
        ),
    ],
)
def test_a_bad_response_format_is_400_naming_it(server, fmt, param, words):
    with pytest.raises(openai.BadRequestError) as e:
        client(server).chat.completions.create(
            model="auto", max_tokens=5, messages=PROMPT, response_format=fmt
        )
    body = e.value.body
    assert body["param"] == param and words in body["message"], body
    assert body["message"].startswith("response_format")
