"""RoPE scaling: the forms real manifests use, applied as transformers applies them, the
effective context checked, conflicts and unknown types refused by name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hxpm.errors import InferenceError, ManifestError, UsageError
from hxpm.runtime.rope import RopeScaling, parse_rope_scaling, same_scaling
from tests.factories import manifest_dict

torch = pytest.importorskip("torch")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "original-ecosystem" / "manifests"


def real_scalings() -> dict[str, object]:
    out = {}
    for path in sorted(FIXTURES.glob("*/manifest.json")):
        data = json.loads(path.read_text())
        for variant in data.get("base_models") or [data.get("base_model") or {}]:
            if "rope_scaling" in variant:
                out[path.parent.name] = variant["rope_scaling"]
    return out


def test_real_manifests_parse_to_ntk_by_parts_as_yarn():
    scalings = real_scalings()
    assert len(scalings) >= 5
    parsed = {name: parse_rope_scaling(v, name) for name, v in scalings.items()}
    first = next(iter(parsed.values()))
    assert first == RopeScaling(
        "yarn",
        factor=8.0,
        context=32768,
        original=8192,
        params=(("attention_factor", 1.0),),  # YaRN without its temperature: NTK-by-parts
        fine_grained=True,
    )
    # Their _comment strings differ; the scalings are the same, so they stack.
    assert same_scaling(parsed) == first


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yarn-128k", RopeScaling("yarn", context=131072)),
        ("linear-4x", RopeScaling("linear", factor=4.0)),
        ("dynamic", RopeScaling("dynamic")),
        (
            "ntk-by-parts-64k",
            RopeScaling("yarn", context=65536, params=(("attention_factor", 1.0),)),
        ),
        ("none", None),
        (None, None),
    ],
)
def test_string_forms(text, expected):
    assert parse_rope_scaling(text, "x") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"type": "yarn", "factor": "8"}, "factor must be a number"),
        ({"type": "yarn", "factor": 0.5}, "factor must be at least 1"),
        ({"type": "linear", "factor": 2, "speed": 3}, "keys hxpm does not know: speed"),
        ({"factor": 2.0}, "needs a 'type'"),
        ({"type": "yarn", "max_position_embeddings": -4}, "whole number of positions"),
        ("yarn-lots", "is not TYPE, TYPE-<context>"),
        (8, "must be a string such as 'yarn-128k'"),
    ],
)
def test_malformed_values_are_refused_with_what_was_expected(value, message):
    with pytest.raises(ManifestError, match=message):
        parse_rope_scaling(value, "expert-x")


def test_conflicting_scalings_cannot_be_stacked():
    with pytest.raises(InferenceError, match="different RoPE scalings and cannot be stacked") as e:
        same_scaling({"a": RopeScaling("linear", factor=2.0), "b": RopeScaling("yarn", factor=4.0)})
    assert "a: linear, factor 2" in e.value.message and "b: yarn, factor 4" in e.value.message


@pytest.fixture(scope="module")
def linear4(base_ref):
    from hxpm.runtime.session import LoadOptions, Session

    s = Session(base_ref, device="cpu", options=LoadOptions(RopeScaling("linear", factor=4.0)))
    yield s
    s.close()


def test_scaling_is_applied_as_transformers_applies_it(tiny, session, linear4):
    from transformers import AutoConfig, AutoModelForCausalLM

    from hxpm.runtime.loader import quiet_transformers

    ids = list(range(40, 90))
    with quiet_transformers():
        config = AutoConfig.from_pretrained(tiny.base)
        config.rope_parameters = {**config.rope_parameters, "rope_type": "linear", "factor": 4.0}
        reference = AutoModelForCausalLM.from_pretrained(tiny.base, config=config).eval()
    with torch.no_grad():
        expected = reference(input_ids=torch.tensor([ids])).logits[0]
    scaled = linear4.logits(ids)
    assert torch.allclose(scaled, expected, atol=1e-5)
    assert not torch.allclose(scaled, session.logits(ids), atol=1e-3)  # it changes the model


def test_effective_context_is_what_prompts_are_checked_against(session, linear4):
    assert session.context_length == 512 and linear4.context_length == 2048
    linear4.check_context(1500, 100)
    with pytest.raises(UsageError, match="context is 512 tokens"):
        session.check_context(1500, 100)


def test_unsupported_type_is_refused_by_name(base_ref):
    from hxpm.runtime.session import LoadOptions, Session

    with pytest.raises(InferenceError, match=r"type 'su' is not supported .*yarn"):
        Session(base_ref, device="cpu", options=LoadOptions(RopeScaling("su", factor=2.0)))


def test_session_refuses_a_set_with_another_scaling(linear4, ref):
    with pytest.raises(InferenceError, match="need yarn, factor 2 but base tiny was loaded"):
        linear4.use([ref("lora-a", rope_scaling=RopeScaling("yarn", factor=2.0))])
    with pytest.raises(InferenceError, match="need no RoPE scaling"):
        linear4.use([ref("lora-a")])
    linear4.use([ref("lora-a", rope_scaling=RopeScaling("linear", factor=4.0))])
    linear4.use([])


def _install(cli, root: Path, tiny, name: str, adapter: Path, rope: object) -> None:
    d = root / name
    d.mkdir(parents=True)
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(adapter / f, d / f)
    m = manifest_dict(name, "1.0.0", bases=(("hxpm/tiny", tiny.digest),), keywords=[name])
    m["base_models"][0]["rope_scaling"] = rope
    (d / "manifest.json").write_text(json.dumps(m))
    r = cli("install", d, "--unsafe-allow-unsigned")
    assert r.code == 0, r.err


def test_run_applies_a_real_manifest_scaling_and_refuses_conflicts(cli, tiny, tmp_path):
    shutil.copytree(tiny.base, tmp_path / "base")
    assert cli("base", "add", "hxpm/tiny", "--path", tmp_path / "base").code == 0
    real = real_scalings()["expert-sql"]  # the older tool's object, _comment and all
    _install(cli, tmp_path, tiny, "expert-long", tiny.adapters["lora-a"], real)
    _install(cli, tmp_path, tiny, "expert-lin", tiny.adapters["lora-b"], "linear-2x")
    long_prompt = "select rows " * 60  # ~700 tokens: more than the tiny base's 512
    args = ("run", "--prompt", long_prompt, "--max-new-tokens", "2", "--device", "cpu", "--json")
    assert cli(*args, "--expert", "expert-long").code == 0  # 32768 positions with the scaling
    bare = cli(*args, "--expert", "")
    assert bare.code == 2 and "context is 512 tokens" in bare.json()["message"]
    both = cli(*args, "--expert", "expert-long,expert-lin")
    assert both.code == 1 and "cannot be stacked" in both.json()["message"]
    assert "expert-lin: linear, factor 2" in both.json()["message"]


def test_an_adapting_session_reloads_the_base_for_a_set_with_another_scaling(base_ref, ref):
    from hxpm.runtime.session import Session

    with Session(base_ref, device="cpu", adapt=True) as s:  # as chat opens it
        assert s.context_length == 512
        s.use([ref("lora-a", rope_scaling=RopeScaling("linear", factor=4.0))])
        assert s.context_length == 2048 and s.active == ("lora-a",)
        s.use([ref("lora-b")])
        assert s.context_length == 512 and s.options.rope_scaling is None
