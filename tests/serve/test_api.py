"""hxpm.api: the documented example runs; `hxpm chat` keeps the conversation on top of it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.serve.conftest import ROOT, hxpm_cmd


def _env(home) -> dict[str, str]:
    env = {**os.environ, "HXPM_HOME": str(home), "HXPM_OFFLINE": "1"}
    env.pop("PYTHONWARNINGS", None)  # as a user runs it: Python's default filters
    return env


def test_the_documented_example_runs(demo_home):
    block = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.DOTALL)
    assert block
    r = subprocess.run(
        [sys.executable, "-c", block.group(1)],
        env=_env(demo_home),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1] == (
        "stack: ['expert-json', 'expert-english-basic', 'expert-cypher', "
        "'expert-document-classifier']"
    )
    assert json.loads(lines[2])["label"]  # the streamed answer of the trained classifier
    assert "SELECT" in lines[3] and "('expert-sql@0.1.0',)" in lines[3]


def _chat(home, script: str, *args: str) -> tuple[list[str], str]:
    r = subprocess.run(
        hxpm_cmd("chat", "--device", "cpu", *args),
        input=script,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines(), r.stderr


def test_chat_keeps_history_and_reset_clears_it(demo_home):
    out, err = _chat(
        demo_home,
        "make a json object\nmake a json object\n/reset\nmake a json object\n/exit\n",
        "--expert",
        "json",
        "--max-new-tokens",
        "40",
    )
    assert len(out) == 3 and "conversation cleared" in err
    first, with_history, after_reset = out
    assert first == after_reset  # greedy: the same question on an empty history
    assert with_history != first  # the earlier turn is part of the prompt


def test_chat_drops_the_oldest_turns_when_the_context_is_full(demo_home):
    long_turn = "please describe this document in detail " * 8  # ~330 of 512 tokens
    out, err = _chat(
        demo_home,
        f"{long_turn}\n{long_turn}\nhello\n/exit\n",
        "--expert",
        "json",
        "--max-new-tokens",
        "60",
    )
    assert len(out) == 3
    assert "dropped the oldest 2 messages" in err
    assert "error:" not in err  # every turn was answered
    # Measuring the too-long history is hxpm's business: no library warning about it (the
    # tokenizer's "sequence length is longer than ..." once reached the terminal here).
    lowered = err.lower()
    assert "warning" not in lowered and "token indices" not in lowered, err
    assert "[transformers]" not in err, err
