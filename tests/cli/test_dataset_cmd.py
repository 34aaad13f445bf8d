"""`hxpm dataset …` end to end: JSON shapes, exit codes, inert output, no runtime import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.datasets.realformats import write_formats

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "models" / "tiny-qwen3"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_formats(tmp_path / "formats")


def test_validate_ok_and_bad(cli, files, tmp_path):
    r = cli("dataset", "validate", files["text"], "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["schema"] == "hxpm.dataset-validate/1"
    assert (doc["ok"], doc["format"], doc["records"]) == (True, "text", 4)

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(files["messages"].read_bytes() + b'{"messages": "hi"}\n\xff\n')
    r = cli("dataset", "validate", bad, "--json")
    assert r.code == 1
    problems = r.json()["problems"]
    assert [(p["line"], p["field"]) for p in problems] == [(5, "messages"), (6, None)]
    r = cli("dataset", "validate", bad)
    assert r.code == 1 and "line 5" in r.out and "not UTF-8" in r.out
    assert "Traceback" not in r.err + r.out


def test_validate_named_format_and_mapping(cli, files):
    r = cli("dataset", "validate", files["text"], "--format", "prompt_completion", "--json")
    assert r.code == 1 and r.json()["problem_count"] == 4
    r = cli("dataset", "validate", files["text"], "--map", "text=text", "--format", "jsonl")
    assert r.code == 0, r.out + r.err
    r = cli("dataset", "validate", files["text"], "--map", "nonsense")
    assert r.code == 2 and "OURS=THEIRS" in r.err


def test_missing_and_empty_files(cli, tmp_path):
    r = cli("dataset", "stats", tmp_path / "nope.jsonl", "--json")
    assert r.code == 4 and r.json()["error"] == "not-found"
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    r = cli("dataset", "dedupe", empty, "--json")
    assert r.code == 1 and r.json()["error"] == "invalid-dataset"
    assert r.json()["details"]["file"] == str(empty)
    assert not (tmp_path / "empty.dedup.jsonl").exists()


def test_stats_with_a_tokenizer_dir_and_a_registered_base(cli, files):
    r = cli("dataset", "stats", files["messages"], "--tokenizer", TINY, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["schema"] == "hxpm.dataset-stats/1" and doc["records"] == 4
    assert set(doc["tokens"]) == {"min", "p50", "p95", "max", "mean"}
    assert doc["tokens"]["max"] >= doc["tokens"]["p95"] >= doc["tokens"]["p50"] > 0
    assert cli("base", "add", "tiny", "--path", TINY).code == 0
    by_base = cli("dataset", "stats", files["messages"], "--base", "tiny", "--json").json()
    assert by_base["tokens"] == doc["tokens"]
    r = cli("dataset", "stats", files["messages"], "--base", "nope", "--json")
    assert r.code == 4
    r = cli("dataset", "stats", files["messages"])
    assert r.code == 0 and "duplicates: 0" in r.out and "--tokenizer" in r.out


def test_split_dedupe_convert_json(cli, files, tmp_path):
    r = cli(
        "dataset",
        "split",
        files["instruction"],
        "--out-dir",
        tmp_path / "s",
        "--ratios",
        "0.5,0.25,0.25",
        "--json",
    )
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["schema"] == "hxpm.dataset-split/1" and doc["read"] == 3
    assert sum(o["records"] for o in doc["outputs"]) == 3
    r = cli("dataset", "split", files["instruction"], "--out-dir", tmp_path / "s")
    assert r.code == 2 and "--force" in r.err

    doubled = tmp_path / "doubled.jsonl"
    doubled.write_bytes(files["text"].read_bytes() * 2)
    r = cli("dataset", "dedupe", doubled, "--json")
    assert r.code == 0, r.err
    assert (r.json()["read"], r.json()["removed"]) == (8, 4)
    assert (tmp_path / "doubled.dedup.jsonl").read_bytes() == files["text"].read_bytes()

    out = tmp_path / "pc.jsonl"
    r = cli(
        "dataset", "convert", files["instruction"], "--to", "prompt_completion", "-o", out, "--json"
    )
    assert r.code == 0, r.err
    assert r.json()["outputs"] == [{"path": str(out), "records": 3}]
    assert set(json.loads(out.read_text().splitlines()[0])) == {"prompt", "completion"}
    r = cli("dataset", "convert", files["preference"], "--to", "messages", "-o", tmp_path / "x")
    assert r.code == 2 and not (tmp_path / "x").exists()


def test_values_from_the_file_reach_the_terminal_inert(cli, tmp_path):
    evil = tmp_path / "evil.jsonl"
    evil.write_text(json.dumps({"messages": [{"role": "\x1b]0;owned\x07", "content": "x"}]}) + "\n")
    r = cli("dataset", "validate", evil)
    assert r.code == 1 and "\x1b" not in r.out + r.err and "\x07" not in r.out + r.err


PROBE = """
import sys
from hxpm.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = [m for m in ("torch", "transformers", "peft", "zstandard") if m in sys.modules]
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
"""


@pytest.mark.parametrize("command", ["stats", "validate"])
def test_dataset_commands_do_not_import_the_runtime(files, tmp_path, command):
    args = ["dataset", command, str(files["text"]), "--json"]
    if command == "stats":
        args += ["--tokenizer", str(TINY)]
    env = {**os.environ, "HXPM_HOME": str(tmp_path / "home")}
    r = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(r.stdout)["records"] == 4
    # A plain .jsonl needs no zstandard either.
    assert [x for x in r.stderr.splitlines() if x.startswith("HEAVY=")] == ["HEAVY="]
