"""Property-based tests of the HTTP API from its own OpenAPI schema (schemathesis) against a
real `hxpm serve` process: no 5xx, and every answer conforms to the schema it publishes.

Bounded: a fixed number of examples per operation, derandomized (the same cases every run),
and a server whose ``--max-tokens 4`` keeps each generation a few milliseconds long.
schemathesis' own pytest plugin is not used (it does not run on pytest 9): each operation's
hypothesis strategy is driven here directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.conftest import BASE, Server, start_server, stop_server

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXAMPLES = 25
# A real model name half the time (None: keep the generated one).
MODELS = [None, None, None, BASE, "auto", "sql", "expert-document-classifier+expert-python"]
# Conformance always. Acceptance (a schema-valid body is not refused with 400) for the bodies
# that also meet the rules a JSON Schema cannot state (see ``meets_unstated_rules``); every
# other limit is in the published schema (max_tokens up to --max-tokens, stop, prompt).
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


PLAIN_VALID = {
    "/v1/chat/completions": {
        "model": "sql",
        "messages": [{"role": "user", "content": "count the users"}],
        "max_tokens": 4,
    },
    "/v1/completions": {"model": BASE, "prompt": "count the users", "max_tokens": 4},
}


def _text_bytes(value: object) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, list):
        return sum(_text_bytes(v) for v in value)
    if isinstance(value, dict):
        return _text_bytes(value.get("content")) + _text_bytes(value.get("text"))
    return 0


def meets_unstated_rules(body: object) -> bool:
    """Whether a body meets the server's rules that no JSON Schema states: a model name that
    names installed experts (set from MODELS), a conversation ending with a user message,
    prompt + answer within the tiny base's 512-token context (its tokens are bytes), and a
    response_format schema that compiles (a random object rarely is a JSON Schema)."""
    if not isinstance(body, dict):
        return False
    messages = body.get("messages")
    if isinstance(messages, list) and (not messages or messages[-1].get("role") != "user"):
        return False
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return False
    return _text_bytes(messages) + _text_bytes(body.get("prompt")) <= 300


@pytest.fixture(scope="module")
def fuzz_server(demo_home: Path) -> Iterator[Server]:
    s = start_server(demo_home, "--max-tokens", "4")
    yield s
    stop_server(s)


def test_every_operation_answers_within_its_schema(fuzz_server: Server) -> None:
    schema = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/chat/completions", "/v1/models", "/health"}
    accepted: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(), model=st.sampled_from(MODELS))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case, model) -> None:  # type: ignore[no-untyped-def]
            checks = CHECKS
            if model is not None and isinstance(case.body, dict) and "model" in case.body:
                case.body["model"] = model  # reach generation, not only "no such model"
                if meets_unstated_rules(case.body):
                    checks = [*CHECKS, schemathesis.checks.positive_data_acceptance]
                    accepted.append(case.operation.path)
            case.call_and_validate(checks=checks, timeout=30)

        check()
    # Acceptance is checked on generated bodies that meet the unstated rules (how many depends
    # on what the strategies draw), and always on one plain valid body per completion route.
    assert accepted, "no generated body reached the acceptance check"
    by_path = {op.path: op for op in operations}
    for path, body in PLAIN_VALID.items():
        case = by_path[path].Case(body=body, media_type="application/json")
        case.call_and_validate(
            checks=[*CHECKS, schemathesis.checks.positive_data_acceptance], timeout=30
        )
    # The cases really reached the model: completions were generated, none failed with 5xx.
    assert fuzz_server.metric("hxpm_generated_tokens_total") > 0
