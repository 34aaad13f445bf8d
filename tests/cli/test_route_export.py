"""`hxpm route` and `hxpm export vllm` over real installed experts (no model is loaded).

The PEFT-written adapters, refusals and `--merge-stack` are in tests/runtime/test_export_vllm.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import make_expert_dir


@pytest.fixture
def installed(cli, tmp_path, base_dir):
    from hxpm.core.digest import base_model_digest

    digest = base_model_digest(base_dir)
    assert cli("base", "add", "hxpm/tiny-qwen3", "--path", base_dir).code == 0
    bases = (("hxpm/tiny-qwen3", digest),)
    specs = [
        ("expert-json", [], ["json", "json schema"], {"capabilities": ["format:json"]}),
        (
            "expert-sql",
            ["expert-json@>=0.1"],
            ["sql", "select", "group by"],
            {"capabilities": ["tech:sql"]},
        ),
        ("expert-cypher", [], ["cypher", "neo4j"], {"capabilities": ["query:cypher"]}),
    ]
    for i, (name, requires, keywords, extra) in enumerate(specs):
        src = make_expert_dir(
            tmp_path / "src",
            name,
            "0.1.0",
            seed=i,
            bases=bases,
            requires=requires,
            keywords=keywords,
            extra=extra,
            load_order=2 + i,
        )
        r = cli("install", src, "--unsafe-allow-unsigned")
        assert r.code == 0, r.err


def test_route_picks_expert_plus_requires(cli, installed):
    r = cli("route", "SELECT name FROM users GROUP BY city", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["decision"]["chosen"] == "expert-sql"
    assert doc["experts"] == ["expert-json", "expert-sql"]  # requires first (load order)
    assert {s["name"] for s in doc["decision"]["scores"]} == {
        "expert-json",
        "expert-sql",
        "expert-cypher",
    }


def test_route_generic_question_goes_to_the_base(cli, installed):
    doc = cli("route", "what is the capital of France?", "--json").json()
    assert doc["decision"]["chosen"] is None and doc["experts"] == []
    r = cli("route", "what is the capital of France?", "--explain")
    assert r.code == 0 and "bare base" in r.out


def test_route_without_base_is_a_clear_error(cli):
    r = cli("route", "sql please")
    assert r.code == 4 and "hxpm base add" in r.err


def vllm_lora_modules(argv: list[str]) -> list[dict[str, str]]:
    """Parse ``--lora-modules`` the way vLLM's argparse action does (nargs='+'): a value with
    '=' and no ',' is ``name=path``; any other value must be one JSON object whose keys are
    LoRAModulePath's fields (name, path, base_model_name); anything else is an error."""
    start = argv.index("--lora-modules") + 1
    values = []
    for word in argv[start:]:
        if word.startswith("--"):
            break
        values.append(word)
    assert values, "--lora-modules needs at least one value"
    modules = []
    for value in values:
        if "=" in value and "," not in value:
            name, path = value.split("=")  # vLLM splits on every '=': one only
            modules.append({"name": name, "path": path})
            continue
        obj = json.loads(value)
        assert isinstance(obj, dict), f"{value!r}: a JSON object is expected"
        assert {"name", "path"} <= set(obj) <= {"name", "path", "base_model_name"}, obj
        modules.append(obj)
    return modules


def pasted(command: str) -> list[str]:
    """The argv a shell gives `vllm` when ``command`` is pasted (bash parses it for real)."""
    script = "vllm() { printf '%s\\0' vllm \"$@\"; }\n" + command
    r = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=10, check=False
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.split("\0")[:-1]


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_export_vllm_prints_a_command_vllm_parses(cli, installed, base_dir):
    r = cli("export", "vllm")
    assert r.code == 0, r.err
    argv = pasted(r.out)
    assert argv[:3] == ["vllm", "serve", str(base_dir)] and "--enable-lora" in argv
    modules = vllm_lora_modules(argv)
    # expert-sql requires expert-json: served alone it would not be what `hxpm run` computes.
    assert [m["name"] for m in modules] == ["expert-json", "expert-cypher"]
    assert all(
        m["base_model_name"] == option(argv, "--served-model-name") == "hxpm/tiny-qwen3"
        for m in modules
    )
    assert all((Path(m["path"]) / "adapter_config.json").is_file() for m in modules)
    assert option(argv, "--max-lora-rank") == "8"  # rank 4: the smallest value vLLM accepts
    assert option(argv, "--max-loras") == "2"
    assert "skipped expert-sql" in r.err and "--merge-stack" in r.err

    doc = cli("export", "vllm", "--json").json()
    assert doc["schema"] == "hxpm.export.vllm/2"
    assert doc["argv"] == argv and doc["command"] + "\n" == r.out
    assert [json.loads(v) for v in doc["lora_modules"]] == modules
    assert (doc["max_rank"], doc["max_lora_rank"], doc["max_loras"]) == (4, 8, 2)
    assert doc["skipped"][0]["name"] == "expert-sql"
    assert "needs --merge-stack" in doc["skipped"][0]["reason"]


def test_export_vllm_refuses_a_named_stacked_expert(cli, installed):
    r = cli("export", "vllm", "expert-sql")
    assert r.code == 2 and r.out == ""
    assert "expert-sql: needs --merge-stack" in r.err and "expert-json" in r.err
    assert "one LoRA per request" in r.err and "Traceback" not in r.err
    r = cli("export", "vllm", "cypher", "--json")  # short names work; independent: fine
    assert r.code == 0 and [m["name"] for m in r.json()["modules"]] == ["expert-cypher"]


def test_export_vllm_checks_the_rank_limits(cli, installed):
    r = cli("export", "vllm", "--max-lora-rank", "12")
    assert r.code == 2 and "vLLM accepts only 1, 8, 16, 32, 64, 128, 256, 320, 512" in r.err
    r = cli("export", "vllm", "cypher", "--max-lora-rank", "1")
    assert r.code == 2 and "expert-cypher has rank 4, over --max-lora-rank 1" in r.err
    doc = cli("export", "vllm", "--max-lora-rank", "64", "--max-loras", "1", "--json").json()
    assert (doc["max_lora_rank"], doc["max_loras"]) == (64, 1)
    assert option(doc["argv"], "--max-lora-rank") == "64"
    assert any("--max-loras 1 < 2 modules" in n for n in doc["notes"])


def test_export_vllm_rank_preflight_counts_rank_pattern(cli, tmp_path, base_dir):
    from hxpm.core.digest import base_model_digest

    assert cli("base", "add", "hxpm/tiny-qwen3", "--path", base_dir).code == 0
    for name, pattern in (("expert-wide", {"v_proj": 40}), ("expert-huge", {"q_proj": 600})):
        src = make_expert_dir(
            tmp_path / "src",
            name,
            "0.1.0",
            bases=(("hxpm/tiny-qwen3", base_model_digest(base_dir)),),
        )
        config = json.loads((src / "adapter_config.json").read_text())
        config["rank_pattern"] = pattern  # r is 4, but one module has a larger rank
        (src / "adapter_config.json").write_text(json.dumps(config))
        assert cli("install", src, "--unsafe-allow-unsigned").code == 0
    doc = cli("export", "vllm", "wide", "--json").json()
    assert (doc["max_rank"], doc["max_lora_rank"]) == (40, 64)
    assert any("rank_pattern" in n for n in doc["notes"])
    r = cli("export", "vllm", "wide", "--max-lora-rank", "32")
    assert r.code == 2 and "expert-wide has rank 40, over --max-lora-rank 32" in r.err
    r = cli("export", "vllm", "huge")
    assert r.code == 2
    assert "expert-huge has rank 600, over the largest rank vLLM accepts (512)" in r.err


def test_export_vllm_without_merge_does_not_import_the_runtime(cli, installed):
    probe = (
        "import sys\nfrom hxpm.cli.app import main\ntry:\n    main(sys.argv[1:])\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "print([m for m in ('torch', 'transformers', 'peft') if m in sys.modules])"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe, "export", "vllm", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "[]"


def test_run_without_runtime_or_base_is_clear(cli):
    r = cli("run", "--prompt", "hello")
    assert r.code == 4 and "hxpm base add" in r.err


def test_base_from_hub_offline_is_exit_6(cli, monkeypatch):
    r = cli("--offline", "base", "add", "Qwen/Qwen3-0.6B", "--from-hub", "Qwen/Qwen3-0.6B")
    assert r.code == 6 and "offline" in r.err
    # The hub client's own offline switch (no network here either): still exit 6, no traceback.
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = cli("base", "add", "Qwen/Qwen3-0.6B", "--from-hub", "Qwen/Qwen3-0.6B")
    assert r.code == 6, (r.code, r.err)
    assert cli("base", "list", "--json").json()["bases"] == []
    assert cli("base", "add", "x", "--path", ".", "--from-hub", "y").code == 2
