"""`hxpm import` end to end: adapters written by plain PEFT on models/tiny-qwen3 are imported,
packaged, signed, trusted, installed and run by hxpm's runtime with PEFT's own logits.

Adapter kinds hxpm cannot run (PiSSA, modules_to_save, bias training), also written by plain
PEFT, are refused by name at import and at attach, and a refused attach leaves the session
as it was. Everything runs on the CPU in float32.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from peft import IA3Config, LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

from hxpm.errors import InferenceError
from hxpm.runtime.loader import quiet_transformers
from hxpm.runtime.session import AdapterRef, BaseRef, Session

pytestmark = pytest.mark.runtime

TINY = Path(__file__).resolve().parents[2] / "models" / "tiny-qwen3"
BASE = "hxpm/tiny-qwen3"
TOKENS = [257, *range(40, 100, 3), 258]
ATOL = 1e-5  # float32, same math in a different order


def _peft_save(out: Path, config, *, seed: int) -> Path:
    """``get_peft_model`` + ``save_pretrained``, as a user of plain PEFT would."""
    torch.manual_seed(seed)
    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(TINY)
        peft_model = get_peft_model(model, config)
    if isinstance(config, IA3Config):  # IA3 starts at exactly 1: make the vectors matter
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in peft_model.named_parameters():
                if "ia3_l" in name:
                    p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=gen))
    with quiet_transformers():
        peft_model.save_pretrained(out)
    return out


ATTN = ["q_proj", "k_proj", "v_proj", "o_proj"]
CONFIGS = {
    # B non-zero from the start (init_lora_weights=False), with per-module ranks and alphas,
    # rank-stabilised scaling and only some layers: everything peft applies on injection.
    "lora": lambda: LoraConfig(
        r=8,
        lora_alpha=16,
        target_modules=[*ATTN, "down_proj"],
        init_lora_weights=False,
        rank_pattern={"v_proj": 2},
        alpha_pattern={"o_proj": 4},
        use_rslora=True,
        layers_to_transform=[0, 2],
        layers_pattern="layers",
    ),
    "dora": lambda: LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "up_proj"],
        use_dora=True,
        init_lora_weights=False,
    ),
    "ia3": lambda: IA3Config(
        target_modules=["k_proj", "v_proj", "down_proj"], feedforward_modules=["down_proj"]
    ),
    "pissa": lambda: LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights="pissa"
    ),
    "modules-to-save": lambda: LoraConfig(
        r=4, target_modules=["q_proj"], modules_to_save=["lm_head"]
    ),
    "bias": lambda: LoraConfig(r=4, target_modules=["q_proj"], bias="all"),
}
REFUSED = {"pissa": "PiSSA", "modules-to-save": "modules_to_save", "bias": "bias='all'"}


@pytest.fixture(scope="module")
def peft_adapters(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("peft")
    return {
        kind: _peft_save(root / f"{kind}-adapter", make(), seed=i)
        for i, (kind, make) in enumerate(CONFIGS.items())
    }


@pytest.fixture(scope="module")
def peft_logits(peft_adapters) -> dict[str, torch.Tensor]:
    """Plain PEFT's logits: PeftModel.from_pretrained on the tiny base."""
    out = {}
    for kind in ("lora", "dora", "ia3"):
        with quiet_transformers():
            model = PeftModel.from_pretrained(
                AutoModelForCausalLM.from_pretrained(TINY), str(peft_adapters[kind])
            ).eval()
        with torch.no_grad():
            out[kind] = model(torch.tensor([TOKENS])).logits[0].float()
    return out


@pytest.fixture
def publisher(cli):
    assert cli("base", "add", BASE, "--path", TINY).code == 0
    r = cli("key", "generate", "--name", "me", "--json")
    assert r.code == 0, r.err
    assert cli("trust", "add", r.json()["public_key"], "--name", "me").code == 0
    return next(b["sha256"] for b in cli("base", "list", "--json").json()["bases"])


def _import_to_install(cli, adapter: Path, work: Path, kind: str, digest: str) -> Path:
    r = cli("import", adapter, "--name", kind, "-o", work / kind, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    # PEFT recorded the base's local folder, which is the registered base: digest found.
    assert doc["base"] == {
        "name": BASE,
        "sha256": digest,
        "registered": True,
        "in_adapter_config": str(TINY),
    }
    r = cli("package", work / kind, "-o", work / "dist", "--json")
    assert r.code == 0, r.err
    package = Path(r.json()["packages"][0]["path"])
    assert cli("sign", package, "--key-name", "me").code == 0
    r = cli("install", package)
    assert r.code == 0, r.err
    installed = {e["name"]: e for e in cli("list", "--json").json()["experts"]}
    return Path(installed[f"expert-{kind}"]["path"])


def test_peft_adapters_imported_installed_and_run_match_peft(
    cli, publisher, peft_adapters, peft_logits, tmp_path
):
    digest = publisher
    paths = {
        kind: _import_to_install(cli, peft_adapters[kind], tmp_path, kind, digest)
        for kind in ("lora", "dora", "ia3")
    }
    base = BaseRef(BASE, TINY, digest)
    with quiet_transformers():
        bare = AutoModelForCausalLM.from_pretrained(TINY).eval()
    with torch.no_grad():
        bare_logits = bare(torch.tensor([TOKENS])).logits[0]
    for merge in ("never", "always"):
        session = Session(base, device="cpu", merge=merge)
        try:
            for kind, path in paths.items():
                session.use([AdapterRef(f"expert-{kind}", "0.1.0", path, base_sha256=digest)])
                got = session.logits(TOKENS)
                want = peft_logits[kind]
                assert not torch.allclose(want, bare_logits, atol=1e-2)  # a visible delta
                torch.testing.assert_close(
                    got, want, atol=ATOL, rtol=0, msg=f"{kind} (merge={merge})"
                )
        finally:
            session.close()


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_unrunnable_peft_adapters_are_refused_at_import(cli, peft_adapters, kind, tmp_path):
    r = cli("import", peft_adapters[kind], "-o", tmp_path / "out", "--json")
    assert r.code == 1 and "Traceback" not in r.err
    err = r.json()
    assert err["error"] == "unsupported-adapter" and REFUSED[kind] in err["message"]
    assert not (tmp_path / "out").exists()


def test_unrunnable_peft_adapters_are_refused_at_attach(peft_adapters):
    """PEFT-written folders handed straight to the runtime (as a package built by hand
    would deliver them): refused by name before peft touches the weights, which for PiSSA
    used to end in a torch ``set_data`` error."""
    from hxpm.core.digest import base_model_digest

    digest = base_model_digest(TINY)
    session = Session(BaseRef(BASE, TINY, digest), device="cpu", merge="never")
    try:
        session.use([AdapterRef("expert-dora", "0.1.0", peft_adapters["dora"])])
        before = session.logits(TOKENS)
        for kind, named in REFUSED.items():
            with pytest.raises(InferenceError) as info:
                session.use([AdapterRef(f"expert-{kind}", "1.0.0", peft_adapters[kind])])
            assert named in info.value.message and "set_data" not in info.value.message
            assert session.active == ("expert-dora",)
            torch.testing.assert_close(session.logits(TOKENS), before, atol=0, rtol=0)
    finally:
        session.close()


def test_a_hand_edited_installed_copy_is_refused_at_attach(cli, publisher, peft_adapters, tmp_path):
    installed = _import_to_install(cli, peft_adapters["lora"], tmp_path, "lora", publisher)
    copy = tmp_path / "edited"
    shutil.copytree(installed, copy)
    config_path = next(copy.rglob("adapter_config.json"))
    config = json.loads(config_path.read_text())
    config["init_lora_weights"] = "olora"
    config_path.write_text(json.dumps(config))
    session = Session(BaseRef(BASE, TINY, publisher), device="cpu")
    try:
        with pytest.raises(InferenceError, match="OLoRA"):
            session.use([AdapterRef("expert-lora", "0.1.0", copy, base_sha256=publisher)])
        assert session.active == ()
    finally:
        session.close()


def test_a_pissa_adapter_converted_as_docs_import_md_says_runs_like_peft(cli, tmp_path):
    """The conversion docs/import.md gives: saved with the initial adapter, a PiSSA adapter
    becomes plain LoRA (rank 2r) that hxpm imports and runs on the unmodified base."""
    torch.manual_seed(0)
    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(TINY)
        pissa = get_peft_model(model, CONFIGS["pissa"]())
        pissa.save_pretrained(tmp_path / "initial")
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():  # "training": move the factors away from their initial values
        for name, p in pissa.named_parameters():
            if "lora_" in name:
                p.add_(0.05 * torch.randn(p.shape, generator=gen))
        want = pissa.eval()(torch.tensor([TOKENS])).logits[0].float()
    with quiet_transformers():
        pissa.save_pretrained(
            tmp_path / "plain-lora",
            path_initial_model_for_weight_conversion=str(tmp_path / "initial"),
        )
    r = cli(
        "import", tmp_path / "plain-lora", "--name", "converted", "-o", tmp_path / "x", "--json"
    )
    assert r.code == 0, r.err
    assert r.json()["adapter"]["kind"] == "lora" and r.json()["adapter"]["max_rank"] == 8
    from hxpm.core.digest import base_model_digest

    session = Session(BaseRef(BASE, TINY, base_model_digest(TINY)), device="cpu")
    try:
        bare = session.logits(TOKENS)
        assert not torch.allclose(bare, want, atol=1e-2)  # the trained delta is visible
        session.use([AdapterRef("expert-converted", "0.1.0", tmp_path / "x")])
        torch.testing.assert_close(session.logits(TOKENS), want, atol=1e-4, rtol=0)
    finally:
        session.close()
