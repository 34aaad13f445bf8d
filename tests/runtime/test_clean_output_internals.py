"""transformers/peft/torchao internals the runtime relies on, named so that a new release
that moves one fails here, loudly, instead of as a warning in a user's answer or a wrong
result deep in a generation test (see tests/unit/test_private_internals.py for peft's layer
internals read by merge and export)."""

from __future__ import annotations

import inspect
import warnings

import pytest

torch = pytest.importorskip("torch")


def _expect(condition: bool, what: str, used_by: str) -> None:
    if not condition:
        pytest.fail(
            f"library internal changed: {what}\n  used by {used_by}; adapt that code "
            "(and this test) before raising the dependency's upper bound"
        )


def test_forward_takes_a_cache_object_and_fills_it_in_place(tiny):
    from transformers import AutoModelForCausalLM

    from hxpm.runtime.generate import cache_keyword, new_cache
    from hxpm.runtime.loader import quiet_transformers

    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(tiny.base).eval()
    params = inspect.signature(model.forward).parameters
    keyword = cache_keyword(model)
    _expect(
        keyword in params,
        "forward() takes neither 'cache' nor 'past_key_values'",
        "hxpm/runtime/generate.py decode()",
    )
    _expect(
        "logits_to_keep" in params and "inputs_embeds" in params,
        "forward() lost logits_to_keep or inputs_embeds",
        "hxpm/runtime/generate.py",
    )
    cache = new_cache(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deprecation here would reach users' terminals
        with torch.no_grad():
            model(input_ids=torch.tensor([[1, 2, 3]]), use_cache=True, **{keyword: cache})
            _expect(
                cache.get_seq_length() == 3,
                "DynamicCache is not filled in place",
                "hxpm/runtime/generate.py decode()",
            )
            model(input_ids=torch.tensor([[4]]), use_cache=True, **{keyword: cache})
    _expect(
        cache.get_seq_length() == 4,
        "a decoding step does not extend the cache",
        "hxpm/runtime/generate.py decode()",
    )


def test_rope_settings_live_where_rope_py_writes_them(tiny):
    from transformers import AutoConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = AutoConfig.from_pretrained(tiny.base)
    _expect(
        isinstance(getattr(config, "rope_parameters", None), dict)
        or hasattr(config, "rope_scaling"),
        "configs carry neither rope_parameters (5.x) nor rope_scaling (4.x)",
        "hxpm/runtime/rope.py apply_rope_scaling()",
    )
    _expect(
        {"linear", "dynamic", "yarn"} <= set(ROPE_INIT_FUNCTIONS),
        f"ROPE_INIT_FUNCTIONS lost a type: {sorted(ROPE_INIT_FUNCTIONS)}",
        "hxpm/runtime/rope.py supported_types()",
    )


def test_peft_puts_lora_on_torchao_layers(tiny):
    pytest.importorskip("torchao")
    from peft import LoraConfig
    from peft.functional import inject_adapter_in_model
    from peft.tuners.lora.torchao import TorchaoLoraLinear
    from transformers import AutoModelForCausalLM

    from hxpm.runtime.loader import quiet_transformers
    from hxpm.runtime.quantize import is_quantized_weight, quantize_model

    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(tiny.base).eval()
        quantize_model(model, "int4")
        weight = model.model.layers[0].self_attn.q_proj.weight
        _expect(
            is_quantized_weight(weight),
            "torchao weights are not TorchAOBaseTensor",
            "hxpm/runtime/quantize.py is_quantized_weight()",
        )
        inject_adapter_in_model(LoraConfig(r=2, target_modules=["q_proj"]), model, adapter_name="a")
    _expect(
        isinstance(model.model.layers[0].self_attn.q_proj, TorchaoLoraLinear),
        "peft no longer dispatches LoRA onto torchao layers (TorchaoLoraLinear)",
        "hxpm/runtime/session.py, adapters on a quantized base",
    )


def test_peft_prompt_tuning_saves_one_prompt_embeddings_tensor(tiny, tmp_path):
    from peft import PromptTuningConfig, get_peft_model
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from hxpm.runtime.loader import quiet_transformers

    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(tiny.base)
        peft_model = get_peft_model(
            model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=3)
        )
        peft_model.save_pretrained(tmp_path)
    state = load_file(str(tmp_path / "adapter_model.safetensors"))
    _expect(
        list(state) == ["prompt_embeddings"] and state["prompt_embeddings"].shape[0] == 3,
        f"prompt tuning saves {list(state)}, not one prompt_embeddings [tokens, hidden]",
        "the soft prompt format documented in docs/runtime.md (what `hxpm train` writes)",
    )
