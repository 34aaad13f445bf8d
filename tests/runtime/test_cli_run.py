"""`hxpm run` and `hxpm chat` end to end: installed experts on the tiny real model, on CPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import manifest_dict


def _expert_from_adapter(root: Path, name: str, adapter: Path, digest: str, **kw) -> Path:
    d = root / name
    d.mkdir(parents=True)
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(adapter / f, d / f)
    m = manifest_dict(name, "1.0.0", bases=(("hxpm/tiny", digest),), **kw)
    (d / "manifest.json").write_text(json.dumps(m))
    return d


@pytest.fixture
def world(cli, tiny, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny.base, base)
    assert cli("base", "add", "hxpm/tiny", "--path", base).code == 0
    src = tmp_path / "src"
    specs = [
        ("expert-sql", "lora-a", ["sql", "select"], [], 5),
        ("expert-json", "lora-b", ["json"], [], 2),
        ("expert-report", "dora-a", ["report"], ["expert-json"], 7),
    ]
    for name, adapter, keywords, requires, order in specs:
        d = _expert_from_adapter(
            src,
            name,
            tiny.adapters[adapter],
            tiny.digest,
            keywords=keywords,
            requires=requires,
            load_order=order,
        )
        r = cli("install", d, "--unsafe-allow-unsigned")
        assert r.code == 0, r.err
    return base


def test_run_json_record_with_routing(cli, world):
    r = cli(
        "run",
        "--prompt",
        "select all rows with sql",
        "--max-new-tokens",
        "6",
        "--seed",
        "1",
        "--device",
        "cpu",
        "--json",
    )
    assert r.code == 0, r.err
    rec = r.json()
    assert rec["schema"] == "hxpm.run/1"
    assert [e["name"] for e in rec["experts"]] == ["expert-sql"]
    assert rec["route"]["chosen"] == "expert-sql" and "sql" in rec["why"]
    assert rec["tokens"]["generated"] <= 6 and isinstance(rec["output"], str)
    assert set(rec["timings"]) == {"load_s", "switch_s", "generate_s"}
    assert rec["tokens_per_s"] > 0 and rec["stopped_by"] in ("eos", "stop", "length")
    again = cli(
        "run",
        "--prompt",
        "select all rows with sql",
        "--max-new-tokens",
        "6",
        "--seed",
        "1",
        "--device",
        "cpu",
        "--json",
    ).json()
    assert again["output"] == rec["output"]  # greedy + seed: deterministic


def test_named_experts_stack_with_their_requires(cli, world):
    rec = cli(
        "run", "--prompt", "hello", "--expert", "report", "--max-new-tokens", "4", "--json"
    ).json()
    assert [e["name"] for e in rec["experts"]] == ["expert-json", "expert-report"]
    bare = cli("run", "--prompt", "hello", "--expert", "", "--max-new-tokens", "4", "--json").json()
    assert bare["experts"] == [] and bare["route"] is None


def test_bad_runs_are_clear_errors(cli, world):
    r = cli("run", "--prompt", "x", "--expert", "expert-nope")
    assert r.code == 4 and "expert-nope" in r.err
    r = cli("run", "--prompt", "x", "--device", "cuda")
    if not __import__("torch").cuda.is_available():
        assert r.code == 2 and "cuda" in r.err.lower()
    r = cli("run", "--prompt", "word " * 2000, "--expert", "")
    assert r.code == 2 and "context" in r.err.lower()
    (world / "config.json").write_text((world / "config.json").read_text() + " ")
    r = cli("run", "--prompt", "x", "--expert", "")
    assert r.code == 5 and "digest" in r.err


BLOCK_RUNTIME = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'transformers', 'peft'):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Block())
from hxpm.cli.app import main
main(sys.argv[1:])
"""


def test_missing_runtime_extra_says_how_to_install(world, hxpm_home):
    # The runtime IS installed here: a meta-path hook hides it, as on a machine without it.
    env = {**os.environ, "HXPM_HOME": str(hxpm_home)}
    r = subprocess.run(
        [sys.executable, "-c", BLOCK_RUNTIME, "run", "--prompt", "hi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 1, r.stderr
    assert "hxpm[runtime]" in r.stderr and "Traceback" not in r.stderr


def test_chat_keeps_the_base_and_switches_sets(world, hxpm_process):
    script = "/experts expert-json\nhello there\n/auto\nselect sql rows\n/experts\nhi\n/exit\n"
    r = hxpm_process("chat", "--max-new-tokens", "3", "--device", "cpu", stdin=script)
    assert r.code == 0, r.err
    assert "loaded on cpu" in r.err
    assert "(expert-json: named on the command line" in r.err
    assert "(expert-sql:" in r.err
    assert "(bare base:" in r.err


def test_run_prints_no_library_warnings(world, hxpm_home):
    # What the user sees is hxpm's own output: no torch/transformers/peft warnings.
    env = {**os.environ, "HXPM_HOME": str(hxpm_home)}
    env.pop("PYTHONWARNINGS", None)  # as a user runs it: Python's default filters
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hxpm",
            "run",
            "--prompt",
            "select sql rows",
            "--max-new-tokens",
            "4",
            "--device",
            "cpu",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    lowered = r.stderr.lower()
    assert "warning" not in lowered and "deprecat" not in lowered, r.stderr
