"""`hxpm run` and `hxpm chat` with an expert whose real manifest names its base by a local
path (``F:/Node/hivellm/expert/models/Qwen3-0.6B``, no digest): it runs on the registered
base it was matched to. The adapter is a real PEFT DoRA adapter (``save_pretrained``) with
the real manifest's rank and target modules, on models/tiny-qwen3 registered as
``Qwen/Qwen3-0.6B``; generation is on CPU with a couple of tokens.
"""

from __future__ import annotations

import pytest

from tests.legacy_world import (
    LEGACY_BASE,
    REGISTERED_AS,
    TINY_BASE,
    adapter_spec,
    legacy_archive,
    legacy_expert_dir,
    real_manifest,
)
from tests.runtime.conftest import make_adapter


@pytest.fixture(scope="module")
def legacy_package(tmp_path_factory):
    # expert-json's real manifest: DoRA, r 14, alpha 28, 6 modules
    root = tmp_path_factory.mktemp("legacy-run")
    return _real_package(root, "expert-json", "expert-json-qwen3-0-6b.v0.4.1.expert", seed=11)


def _real_package(root, name: str, file_name: str, *, seed: int):
    """A gzip package as the older tool builds it: the real manifest, a PEFT adapter of its
    declared kind, rank and modules."""
    spec = adapter_spec(real_manifest(name))
    adapter = make_adapter(
        TINY_BASE,
        root / "adapter",
        spec["type"],
        seed=seed,
        targets=tuple(spec["target_modules"]),
        r=int(spec["r"]),
        alpha=int(spec["alpha"]),
    )
    return legacy_archive(legacy_expert_dir(root / "src", name, adapter=adapter), root / file_name)


@pytest.fixture
def installed(cli, legacy_package):
    # The real manifest's variant asks for "quantization": "int4"; without torchao hxpm
    # refuses it with a reason (tests/runtime/test_quantize.py checks that refusal).
    pytest.importorskip("torchao", reason="expert-json's real manifest asks for int4: [quantize]")
    assert cli("base", "add", REGISTERED_AS, "--path", TINY_BASE).code == 0
    r = cli("install", legacy_package, "--unsafe-allow-unsigned")
    assert r.code == 0, r.err


def test_run_named_and_routed(cli, installed):
    r = cli(
        "run",
        "--prompt",
        "fix this json: {a: 1",
        "--expert",
        "expert-json",
        "--max-new-tokens",
        "2",
        "--temperature",
        "0",
        "--device",
        "cpu",
        "--json",
    )
    assert r.code == 0, r.err
    rec = r.json()
    assert rec["base_model"] == REGISTERED_AS
    assert [e["name"] for e in rec["experts"]] == ["expert-json"]
    assert 0 < rec["tokens"]["generated"] <= 2

    routed = cli(
        "run",
        "--prompt",
        "create a json schema for this openapi config",
        "--max-new-tokens",
        "1",
        "--device",
        "cpu",
        "--json",
    ).json()
    assert routed["route"]["chosen"] == "expert-json"
    assert [e["name"] for e in routed["experts"]] == ["expert-json"]
    # The manifest's own base name stays what the package says.
    info = cli("info", "expert-json", "--json").json()
    assert info["base"]["manifest_base_model"] == LEGACY_BASE


def test_chat_uses_the_legacy_expert(installed, hxpm_process):
    script = "/experts expert-json\nhello\n/exit\n"
    r = hxpm_process("chat", "--max-new-tokens", "2", "--device", "cpu", stdin=script)
    assert r.code == 0, r.err
    assert "(expert-json: named on the command line" in r.err


def test_a_pickled_soft_prompt_installs_with_a_warning_and_is_refused_at_run(cli, tmp_path):
    # expert-typescript's real manifest declares soft_prompts/ts_style_48.bin, a torch.save
    # pickle that hxpm never reads: the expert installs (saying so), and running it is refused
    # with how to convert the file, instead of silently running without its soft prompt.
    pkg = _real_package(
        tmp_path, "expert-typescript", "expert-typescript-qwen3-0-6b.v0.2.1.expert", seed=3
    )
    assert cli("base", "add", REGISTERED_AS, "--path", TINY_BASE).code == 0
    r = cli("install", pkg, "--unsafe-allow-unsigned")
    assert r.code == 0, r.err
    assert "ts_style_48.bin" in r.err and "safetensors" in r.err
    r = cli("run", "--prompt", "x", "--expert", "expert-typescript", "--device", "cpu")
    assert r.code == 1 and "ts_style_48.bin" in r.err and "PyTorch pickle" in r.err
