"""hxpm.core.adapter_config / adapter_tensors: real PEFT configs, refused kinds, tensor checks."""

from __future__ import annotations

import json

import pytest

from hxpm.core import adapter_config as ac
from hxpm.core.adapter_tensors import TensorEntry, tensor_problems
from tests.adapter_files import FIXTURES, layer_modules, lora_tensors, real_config

REAL = sorted(p.stem for p in FIXTURES.glob("*.json"))


@pytest.mark.parametrize("name", REAL)
def test_real_configs_from_several_peft_versions_are_runnable_lora(name):
    config = real_config(name)
    assert ac.unsupported_reasons(config) == []
    assert ac.field_problems(config) == []
    assert ac.adapter_kind(config) == "lora"
    assert ac.max_rank(config) == config["r"]


def test_kinds_and_ranks():
    base = real_config("qwen7b-mcq-solver")
    assert ac.adapter_kind({**base, "use_dora": True}) == "dora"
    assert ac.adapter_kind({"peft_type": "IA3"}) == "ia3"
    assert ac.adapter_kind({"peft_type": "ADALORA"}) == "adalora"
    assert ac.adapter_kind({}) == "unknown"
    assert ac.max_rank({**base, "rank_pattern": {"q_proj": 64, "v_proj": 4}}) == 64
    assert ac.max_rank({"peft_type": "IA3"}) == 0
    pattern = {**base, "rank_pattern": {"self_attn.q_proj": 4}}
    assert ac.module_rank(pattern, "model.layers.0.self_attn.q_proj") == 4
    assert ac.module_rank(pattern, "model.layers.0.mlp.up_proj") == 16
    # A key matches at a "." boundary only, as in peft: "q_proj" does not match "xq_proj".
    assert ac.module_rank({**base, "rank_pattern": {"q_proj": 2}}, "model.xq_proj") == 16


REFUSED = [
    ({"init_lora_weights": "pissa"}, "PiSSA"),
    ({"init_lora_weights": "pissa_niter_4"}, "PiSSA"),
    ({"init_lora_weights": "olora"}, "OLoRA"),
    ({"init_lora_weights": "corda"}, "CorDA"),
    ({"init_lora_weights": "loftq"}, "LoftQ"),
    ({"init_lora_weights": "lora_ga"}, "LoRA-GA"),
    ({"init_lora_weights": "mica"}, "MiCA"),
    ({"init_lora_weights": "something-new"}, "something-new"),
    ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
    ({"bias": "all"}, "bias='all'"),
    ({"bias": "lora_only"}, "bias='lora_only'"),
    ({"lora_bias": True}, "lora_bias"),
    ({"fan_in_fan_out": True}, "fan_in_fan_out"),
    ({"use_qalora": True}, "QALoRA"),
    ({"alora_invocation_tokens": [1, 2]}, "aLoRA"),
    ({"trainable_token_indices": [5]}, "trainable_token_indices"),
    ({"layer_replication": [[0, 2]]}, "layer_replication"),
    ({"peft_type": "ADALORA"}, "ADALORA"),
    ({"peft_type": "PREFIX_TUNING"}, "PREFIX_TUNING"),
    ({"some_future_switch": True}, "some_future_switch"),
]


@pytest.mark.parametrize(("change", "named"), REFUSED, ids=[n for _, n in REFUSED])
def test_unrunnable_kinds_are_named(change, named):
    reasons = ac.unsupported_reasons({**real_config("qwen7b-mcq-solver"), **change})
    assert reasons and named in " ".join(reasons)


def test_pissa_reason_says_how_to_convert():
    reasons = ac.unsupported_reasons(
        {**real_config("llama2-finetuning"), "init_lora_weights": "pissa"}
    )
    assert "path_initial_model_for_weight_conversion" in reasons[0]


@pytest.mark.parametrize(
    "change",
    [
        {"rank_pattern": {"q_proj": 8}, "alpha_pattern": {"q_proj": 32.0}},
        {"use_rslora": True},
        {"layers_to_transform": [0], "layers_pattern": "layers"},
        {"init_lora_weights": "gaussian"},
        {"init_lora_weights": "eva"},
        {"init_lora_weights": False},
        {"target_modules": ".*\\.(q|v)_proj"},
        {"newer_peft_setting": 3, "newer_peft_name": "x", "newer_peft_cfg": None},
    ],
)
def test_features_peft_applies_on_injection_are_accepted(change):
    assert ac.unsupported_reasons({**real_config("qwen7b-mcq-solver"), **change}) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"r": 0}, "r"),
        ({"r": "8"}, "r"),
        ({"r": True}, "r"),
        ({"lora_alpha": "x"}, "lora_alpha"),
        ({"rank_pattern": {"q": -1}}, "rank_pattern"),
        ({"rank_pattern": []}, "rank_pattern"),
        ({"target_modules": []}, "target_modules"),
        ({"target_modules": [1]}, "target_modules"),
        ({"use_dora": "yes"}, "use_dora"),
        ({"base_model_name_or_path": 5}, "base_model"),
    ],
)
def test_malformed_fields_are_named(change, field):
    problems = ac.field_problems({**real_config("unsloth-dpo-llama32"), **change})
    assert problems and problems[0].startswith(field)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b'{"r": 1, "r": 2}', "duplicate key"),
        (b'{"lora_alpha": NaN}', "NaN"),
        (b"[1]", "expected an object"),
        (b"\xff\xfe", "UTF-8"),
        (b"{" * 100_000, "JSON"),
        (b" " * (ac.MAX_CONFIG_BYTES + 1), "cap"),
    ],
)
def test_strict_reader_refuses_hostile_configs(data, what, tmp_path):
    path = tmp_path / "adapter_config.json"
    path.write_bytes(data)
    with pytest.raises(ac.AdapterConfigError, match=what):
        ac.load_adapter_config(path)


def test_strict_reader_reads_a_real_config():
    path = FIXTURES / "qwythos-9b-math-sft.json"
    assert ac.load_adapter_config(path) == json.loads(path.read_text())


def _entries(tensors):
    return {k: TensorEntry(d, tuple(s)) for k, (d, s) in tensors.items()}


def test_tensors_matching_a_real_config_pass():
    config = real_config("qwen7b-mcq-solver")
    tensors = lora_tensors(layer_modules(config["target_modules"]), 16)
    assert tensor_problems(config, _entries(tensors)) == []


def test_rank_pattern_is_checked_per_module():
    config = {**real_config("unsloth-dpo-llama32"), "rank_pattern": {"v_proj": 2}}
    modules = layer_modules(["q_proj", "v_proj"])
    ranks = {m: 2 if m.endswith("v_proj") else 8 for m in modules}
    assert tensor_problems(config, _entries(lora_tensors(modules, ranks))) == []
    wrong = tensor_problems(config, _entries(lora_tensors(modules, 8)))
    assert wrong and "v_proj': rank 8 in the weights, but the config gives r=2" in wrong[0]


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (
            lambda t: t.pop("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"),
            "lora_B.weight is missing",
        ),
        (
            lambda t: t.update(
                {
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector": (
                        "F32",
                        [64],
                    )
                }
            ),
            "not a lora parameter",
        ),
        (
            lambda t: t.update({"base_model.model.lm_head.weight": ("F32", [8, 8])}),
            "not a lora parameter",
        ),
        (
            lambda t: t.update({"model.layers.0.q_proj.lora_A.weight": ("F32", [8, 8])}),
            "starting with 'base_model.model.'",
        ),
        (
            lambda t: t.update(
                {
                    "base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight": ("F32", [8, 64]),
                    "base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight": ("F32", [64, 8]),
                }
            ),
            "not in target_modules",
        ),
        (
            lambda t: t.update(
                {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": ("I64", [8, 64])}
            ),
            "expected a float type",
        ),
        (
            lambda t: t.update(
                {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": ("F32", [4, 64])}
            ),
            "do not share a rank",
        ),
    ],
)
def test_tensor_mismatches_are_named(edit, said):
    config = real_config("unsloth-dpo-llama32")  # r 8; q, v, o, up, down
    tensors = lora_tensors(layer_modules(["q_proj", "v_proj"]), 8)
    edit(tensors)
    problems = tensor_problems(config, _entries(tensors))
    assert any(said in p for p in problems), problems


def test_dora_needs_magnitudes_and_ia3_needs_vectors():
    config = {**real_config("unsloth-dpo-llama32"), "use_dora": True}
    modules = layer_modules(["q_proj"])
    assert tensor_problems(config, _entries(lora_tensors(modules, 8, dora=True))) == []
    missing = tensor_problems(config, _entries(lora_tensors(modules, 8)))
    assert "lora_magnitude_vector is missing" in missing[0]
    ia3 = {"peft_type": "IA3", "target_modules": ["k_proj"]}
    good = {"base_model.model.model.layers.0.self_attn.k_proj.ia3_l": TensorEntry("F32", (32, 1))}
    assert tensor_problems(ia3, good) == []
    bad = {"base_model.model.model.layers.0.self_attn.k_proj.ia3_l": TensorEntry("F32", (3, 3))}
    assert "expected a vector" in tensor_problems(ia3, bad)[0]
    assert tensor_problems(ia3, {}) == ["the weights file holds no tensors"]


def test_hostile_names_come_back_inert():
    """Tensor names and config keys are someone else's strings: repr'd, never raw."""
    evil = "base_model.model.x\x1b[2J.lora_A.weight"
    problems = tensor_problems(
        real_config("unsloth-dpo-llama32"), {evil: TensorEntry("F32", (8, 8))}
    )
    assert problems and all("\x1b" not in p for p in problems)
    reasons = ac.unsupported_reasons(
        {**real_config("unsloth-dpo-llama32"), "\x1b]0;pwned\x07": True}
    )
    assert reasons and "\x1b" not in reasons[0] and "\\x1b" in reasons[0]
