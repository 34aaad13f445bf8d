"""`hxpm route` and `hxpm export vllm` over real installed experts (no model is loaded)."""

from __future__ import annotations

import json

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
        ("expert-sql", ["expert-json@>=0.1"], ["sql", "select", "group by"],
         {"capabilities": ["tech:sql"]}),
        ("expert-cypher", [], ["cypher", "neo4j"], {"capabilities": ["query:cypher"]}),
    ]
    for i, (name, requires, keywords, extra) in enumerate(specs):
        src = make_expert_dir(tmp_path / "src", name, "0.1.0", seed=i, bases=bases,
                              requires=requires, keywords=keywords, extra=extra,
                              load_order=2 + i)
        r = cli("install", src, "--unsafe-allow-unsigned")
        assert r.code == 0, r.err


def test_route_picks_expert_plus_requires(cli, installed):
    r = cli("route", "SELECT name FROM users GROUP BY city", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["decision"]["chosen"] == "expert-sql"
    assert doc["experts"] == ["expert-json", "expert-sql"]  # requires first (load order)
    assert {s["name"] for s in doc["decision"]["scores"]} == {
        "expert-json", "expert-sql", "expert-cypher"}


def test_route_generic_question_goes_to_the_base(cli, installed):
    doc = cli("route", "what is the capital of France?", "--json").json()
    assert doc["decision"]["chosen"] is None and doc["experts"] == []
    r = cli("route", "what is the capital of France?", "--explain")
    assert r.code == 0 and "bare base" in r.out


def test_route_without_base_is_a_clear_error(cli):
    r = cli("route", "sql please")
    assert r.code == 4 and "hxpm base add" in r.err


def test_export_vllm_resolves_the_set(cli, installed):
    r = cli("export", "vllm", "expert-sql")
    assert r.code == 0, r.err
    modules = json.loads(r.out)
    assert [m["name"] for m in modules] == ["expert-json", "expert-sql"]
    assert all(m["base_model_name"] == "hxpm/tiny-qwen3" for m in modules)
    assert all(m["path"].endswith(tuple("0123456789abcdef")) for m in modules)
    everything = json.loads(cli("export", "vllm").out)
    assert len(everything) == 3


def test_export_vllm_refuses_sets_over_the_limits(cli, installed):
    r = cli("export", "vllm", "expert-sql", "--max-loras", "1")
    assert r.code == 2 and "--max-loras 1" in r.err and "expert-json" in r.err
    r = cli("export", "vllm", "expert-sql", "--max-lora-rank", "2")
    assert r.code == 2 and "rank 4 > --max-lora-rank 2" in r.err


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
