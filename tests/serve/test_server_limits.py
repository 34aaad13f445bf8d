"""Limits and safety of a real `hxpm serve`: API key, queue cap (429), exposure, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from tests.serve.conftest import BASE, hxpm_cmd, start_server, stop_server

openai = pytest.importorskip("openai")

KEY = "test-key-7f3a"
LONG = [{"role": "user", "content": "tell me a very long story " * 3}]


@pytest.fixture(scope="module")
def locked(demo_home):
    """An API key (from the environment), one request at a time, one waiting at most."""
    s = start_server(
        demo_home,
        *("--max-batch", "1", "--max-queue", "1", "--threads", "3"),
        env_extra={"HXPM_API_KEY": KEY},
    )
    yield s
    stop_server(s)


def client(server, key=KEY):
    return openai.OpenAI(base_url=server.v1, api_key=key, max_retries=0, timeout=60)


def test_every_endpoint_but_health_needs_the_key(locked):
    status, body = locked.get("/health")
    assert status == 200 and json.loads(body)["threads"] == 3  # --threads, as asked
    for path in ("/v1/models", "/metrics", "/openapi.json"):
        assert locked.get(path)[0] == 401, path
        assert locked.get(path, "wrong")[0] == 401, path
        assert locked.get(path, KEY)[0] == 200, path
    with pytest.raises(openai.AuthenticationError):
        client(locked, "wrong").chat.completions.create(model=BASE, messages=LONG)
    r = client(locked).chat.completions.create(model=BASE, messages=LONG, max_tokens=2)
    assert r.usage.completion_tokens <= 2


def test_a_full_queue_answers_429_with_retry_after(locked):
    c = client(locked)
    running = c.chat.completions.create(model=BASE, messages=LONG, max_tokens=400, stream=True)
    next(iter(running))  # it holds the only batch slot
    waiting: list[object] = []
    t = threading.Thread(
        target=lambda: waiting.append(
            c.chat.completions.create(model=BASE, messages=LONG, max_tokens=1)
        ),
        daemon=True,
    )
    t.start()
    deadline = time.monotonic() + 10
    while locked.metric("hxpm_queue_depth", KEY) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.with_raw_response.create(model=BASE, messages=LONG, max_tokens=1)
    assert e.value.response.headers["retry-after"] == "1"
    assert e.value.body["type"] == "rate_limit_error"
    running.close()  # frees the slot: the waiting request is served
    t.join(30)
    assert waiting and waiting[0].usage.completion_tokens == 1


def test_oversized_body_is_413_before_it_is_read(locked):
    import http.client
    import json
    from urllib.parse import urlsplit

    conn = http.client.HTTPConnection(urlsplit(locked.url).netloc, timeout=10)
    conn.putrequest("POST", "/v1/chat/completions")
    for name, value in (
        ("Authorization", f"Bearer {KEY}"),
        ("Content-Type", "application/json"),
        ("Content-Length", "2000000"),
    ):
        conn.putheader(name, value)
    conn.endheaders()  # the 2 MB never follow: the server must answer from the header alone
    r = conn.getresponse()
    assert r.status == 413
    assert json.loads(r.read())["error"]["code"] == "body_too_large"
    conn.close()


def test_binding_beyond_loopback_needs_a_key(demo_home, tmp_path):
    env = {**os.environ, "HXPM_HOME": str(demo_home)}
    env.pop("HXPM_API_KEY", None)
    r = subprocess.run(
        hxpm_cmd("serve", "--host", "0.0.0.0", "--port", "0"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "--api-key" in r.stderr
    assert "Traceback" not in r.stderr


def test_sigterm_finishes_the_stream_in_flight(locked):
    stream = client(locked).chat.completions.create(
        model="sql",
        max_tokens=40,
        stream=True,
        messages=[{"role": "user", "content": "count users"}],
    )
    chunks = iter(stream)
    next(chunks)
    locked.proc.send_signal(signal.SIGTERM)
    rest = list(chunks)
    assert rest[-1].choices[0].finish_reason in ("stop", "length")
    text = "".join(ch.choices[0].delta.content or "" for ch in rest if ch.choices)
    assert text.upper().startswith("SELECT")
    assert locked.proc.wait(30) == 0
    assert stop_server(locked) == 0
