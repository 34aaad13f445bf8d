"""The official openai client against a real `hxpm serve` process on the demo experts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from tests.serve.conftest import BASE, ROOT, Server, hxpm_cmd

openai = pytest.importorskip("openai")

CLASSIFY = "Classify this document: Invoice #123, total due $400"


def client(server: Server, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.v1, api_key=key, max_retries=0, timeout=60)


def hxpm_run(server: Server, prompt: str, *args: str) -> dict:
    env = {**os.environ, "HXPM_HOME": str(server.home)}
    r = subprocess.run(
        hxpm_cmd("run", "-p", prompt, "--device", "cpu", "--json", *args),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_health_says_torchs_threads_one_cpu_left_to_the_server(server):
    status, body = server.get("/health")
    assert status == 200
    assert json.loads(body)["threads"] == max(1, len(os.sched_getaffinity(0)) - 1)


def test_models_list_the_base_and_every_expert_with_its_stack(server):
    models = {m.id: m for m in client(server).models.list().data}
    assert BASE in models and models[BASE].parent is None
    assert len(models) == 8  # the base + the seven demo experts
    doc = models["expert-document-classifier"].model_dump()
    assert doc["parent"] == BASE and doc["root"].startswith(str(server.home))
    assert doc["hxpm"]["stack"] == [
        "expert-json@0.1.0",
        "expert-english-basic@0.1.0",
        "expert-cypher@0.1.0",
        "expert-document-classifier@0.1.0",
    ]


def test_chat_with_an_expert_and_its_requires(server):
    r = client(server).chat.completions.create(
        model="expert-document-classifier",
        messages=[{"role": "user", "content": CLASSIFY}],
        max_tokens=40,
    )
    answer = r.choices[0].message.content
    assert json.loads(answer)["label"]  # the trained expert answers in its JSON format
    assert r.choices[0].finish_reason == "stop"
    assert r.model_extra["hxpm"]["experts"][-1] == "expert-document-classifier@0.1.0"
    assert len(r.model_extra["hxpm"]["experts"]) == 4  # its three requires came with it
    assert r.usage.prompt_tokens > 10 and 0 < r.usage.completion_tokens <= 40
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_auto_routes_per_request_and_says_why(server):
    c = client(server)
    r = c.chat.completions.create(
        model="auto",
        max_tokens=40,
        messages=[{"role": "user", "content": "write a SQL query to count users"}],
    )
    assert r.model_extra["hxpm"]["experts"] == ["expert-sql@0.1.0"]
    assert "sql" in r.model_extra["hxpm"]["why"]
    assert "SELECT" in r.choices[0].message.content.upper()
    raw = c.chat.completions.with_raw_response.create(
        model="auto", max_tokens=4, messages=[{"role": "user", "content": "write a rust function"}]
    )
    assert raw.headers["x-hxpm-experts"] == "expert-rust@0.1.0"


def test_text_equals_hxpm_run_for_same_prompt_experts_and_seed(server):
    for extra, settings in (
        ((), {}),
        (("--temperature", "0.8", "--seed", "7"), {"temperature": 0.8, "seed": 7}),
    ):
        record = hxpm_run(
            server,
            CLASSIFY,
            "--expert",
            "expert-document-classifier",
            "--max-new-tokens",
            "30",
            *extra,
        )
        r = client(server).chat.completions.create(
            model="expert-document-classifier",
            max_tokens=30,
            messages=[{"role": "user", "content": CLASSIFY}],
            **settings,
        )
        assert r.choices[0].message.content == record["output"]
        assert r.usage.completion_tokens == record["tokens"]["generated"]


def test_different_sets_in_one_batch_equal_hxpm_run(server):
    """Three sets (one a stack of four experts) and the bare base decode side by side."""
    import re
    import threading

    cases = [
        ("expert-document-classifier", CLASSIFY),
        ("expert-sql", "write a SQL query to count users"),
        ("expert-json", "make a json object describing a coat"),
        (BASE, "hello there"),
    ]
    answers: dict[str, str] = {}

    def ask(model: str, prompt: str) -> None:
        r = client(server).chat.completions.create(
            model=model, max_tokens=30, messages=[{"role": "user", "content": prompt}]
        )
        answers[model] = r.choices[0].message.content

    def batch_counts() -> tuple[float, float]:
        text = server.get("/metrics")[1]
        ones = re.search(r'^hxpm_batch_size_bucket\{le="1.0"\} (\S+)$', text, re.MULTILINE)
        total = re.search(r"^hxpm_batch_size_count (\S+)$", text, re.MULTILINE)
        assert ones and total
        return float(ones.group(1)), float(total.group(1))

    ones_before, total_before = batch_counts()
    threads = [threading.Thread(target=ask, args=case) for case in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ones, total = batch_counts()
    assert total - total_before > ones - ones_before  # some steps ran several requests
    for model, prompt in cases[:2]:
        record = hxpm_run(server, prompt, "--expert", model, "--max-new-tokens", "30")
        assert answers[model] == record["output"]
    assert len(set(answers.values())) == 4


def test_stream_matches_the_whole_answer(server):
    c = client(server)
    whole = (
        c.chat.completions.create(
            model="sql", max_tokens=30, messages=[{"role": "user", "content": "count the users"}]
        )
        .choices[0]
        .message.content
    )
    chunks = list(
        c.chat.completions.create(
            model="sql",
            max_tokens=30,
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "count the users"}],
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == whole and len(chunks) > 3
    finals = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert finals and finals[-1].model_extra["hxpm"]["experts"] == ["expert-sql@0.1.0"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_multi_turn_uses_the_whole_conversation(server):
    c = client(server)
    one = c.chat.completions.create(
        model=BASE, max_tokens=8, messages=[{"role": "user", "content": "hello"}]
    )
    two = c.chat.completions.create(
        model=BASE,
        max_tokens=8,
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello!"},
            {"role": "user", "content": "hello"},
        ],
    )
    assert two.usage.prompt_tokens > one.usage.prompt_tokens + 20
    assert two.model_extra["hxpm"]["experts"] == []


def test_a_vanishing_temperature_answers_as_greedy(server):
    """1e-46 is 0 in float32: once it made the sampler divide by zero (a 500, found by the
    schema fuzz test); in effect it asks for the top token at each step."""
    c = client(server)
    ask = {"model": "sql", "max_tokens": 12, "messages": [{"role": "user", "content": "count"}]}
    greedy = c.chat.completions.create(temperature=0, **ask).choices[0].message.content
    tiny = c.chat.completions.create(temperature=1e-46, top_p=0.4, seed=1, **ask)
    assert tiny.choices[0].message.content == greedy


def test_legacy_completions_continue_raw_text(server):
    r = client(server).completions.create(model="json", prompt='{"a": ', max_tokens=5)
    assert r.object == "text_completion" and r.usage.prompt_tokens == len('{"a": ')
    assert r.model_extra["hxpm"]["experts"] == ["expert-json@0.1.0"]


def test_unknown_model_is_404_listing_installed_names(server):
    with pytest.raises(openai.NotFoundError) as e:
        client(server).chat.completions.create(
            model="expert-nope", messages=[{"role": "user", "content": "x"}]
        )
    body = e.value.body
    assert body["code"] == "model_not_found" and body["param"] == "model"
    assert "expert-sql" in body["message"] and "expert-sql" in body["available"]


@pytest.mark.parametrize("model", ["Not A Name", "expert-sql@!!", "sql+expert-json@>="])
def test_a_malformed_model_is_400_in_http_words(server, model):
    with pytest.raises(openai.BadRequestError) as e:
        client(server).chat.completions.create(
            model=model, max_tokens=2, messages=[{"role": "user", "content": "x"}]
        )
    body = e.value.body
    assert body["param"] == "model" and body["message"].startswith("model: "), body
    assert "--expert" not in body["message"]


def hxpm_cli(server: Server, *args: str) -> None:
    env = {**os.environ, "HXPM_HOME": str(server.home), "HXPM_OFFLINE": "1"}
    r = subprocess.run(hxpm_cmd(*args), env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_installs_by_another_process_show_without_a_restart(server):
    """`hxpm uninstall` / `hxpm install` while the server runs: /v1/models, named requests
    and the router follow at once."""
    c = client(server)
    package = next((ROOT / "experts" / "expert-rust" / "dist").glob("*.expert"))
    rust = [{"role": "user", "content": "write a rust function"}]
    assert "expert-rust" in {m.id for m in c.models.list().data}
    try:
        hxpm_cli(server, "uninstall", "expert-rust")
        assert "expert-rust" not in {m.id for m in c.models.list().data}
        with pytest.raises(openai.NotFoundError) as e:
            c.chat.completions.create(model="expert-rust", max_tokens=2, messages=rust)
        assert "expert-rust" not in e.value.body["available"]
        routed = c.chat.completions.create(model="auto", max_tokens=2, messages=rust)
        assert routed.model_extra["hxpm"]["experts"] == []
    finally:
        hxpm_cli(server, "install", str(package))
    models = {m.id: m.model_dump() for m in c.models.list().data}
    assert models["expert-rust"]["hxpm"]["stack"] == ["expert-rust@0.1.0"]
    named = c.chat.completions.create(model="expert-rust", max_tokens=4, messages=rust)
    assert named.model_extra["hxpm"]["experts"] == ["expert-rust@0.1.0"]
    assert named.choices[0].message.content.startswith("fn")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -1),
        ("top_p", 0),
        ("n", 2),
        ("max_tokens", 0),
        ("max_tokens", 10**6),
        ("stop", [""]),
        ("messages", []),
    ],
)
def test_bad_field_is_400_naming_it(server, field, value):
    kwargs = {"model": "auto", "messages": [{"role": "user", "content": "x"}], field: value}
    with pytest.raises(openai.BadRequestError) as e:
        client(server).chat.completions.create(**kwargs)
    assert e.value.status_code == 400
    assert re.split(r"[.\[]", e.value.body["param"])[0] == field, e.value.body


def test_malformed_json_and_wrong_role_are_400(server):
    import urllib.request

    for data in (
        b"{not json",
        json.dumps({"model": "auto", "messages": [{"role": "tool", "content": "x"}]}).encode(),
    ):
        req = urllib.request.Request(
            server.v1 + "/chat/completions", data=data, headers={"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 400
        assert json.loads(e.value.read())["error"]["type"] == "invalid_request_error"


def test_auth_is_off_on_loopback_by_default(server):
    assert server.get("/v1/models")[0] == 200
    assert server.get("/metrics")[0] == 200


def test_client_disconnect_stops_the_generation(server):
    before = server.metric("hxpm_cancelled_requests_total")
    stream = client(server).chat.completions.create(
        model=BASE,
        max_tokens=400,
        stream=True,
        stop=None,
        messages=[{"role": "user", "content": "tell me a very long story " * 3}],
    )
    next(iter(stream))
    stream.close()  # the client goes away mid-stream
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.metric("hxpm_cancelled_requests_total") > before:
            break
        time.sleep(0.1)
    assert server.metric("hxpm_cancelled_requests_total") == before + 1


def test_metrics_in_prometheus_text_format(server):
    client(server).chat.completions.create(
        model="sql", max_tokens=3, messages=[{"role": "user", "content": "count"}]
    )
    status, text = server.get("/metrics")
    assert status == 200
    for name in (
        "hxpm_requests_total",
        "hxpm_prompt_tokens_total",
        "hxpm_generated_tokens_total",
        "hxpm_time_to_first_token_seconds_bucket",
        "hxpm_time_per_output_token_seconds_bucket",
        "hxpm_queue_depth",
        "hxpm_active_experts",
        "hxpm_set_switches_total",
        "hxpm_set_switch_seconds_bucket",
    ):
        assert name in text, name
    assert 'hxpm_requests_total{path="/v1/chat/completions",status="200"}' in text
    # This module used several sets, all plain LoRA: they share one batch, nothing switches.
    assert server.metric("hxpm_set_switches_total") == 0
    assert server.metric("hxpm_ready") == 1
