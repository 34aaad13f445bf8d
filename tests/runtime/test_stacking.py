"""Stacking semantics: load order, summed LoRA deltas, merged == unmerged, hot-swap, LRU."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from hxpm.runtime.session import Session

TOKENS = list(range(32, 96, 3))  # 22 byte tokens
ATOL = 1e-4


@pytest.fixture(scope="module")
def unmerged(base_ref):
    s = Session(base_ref, device="cpu", merge="never")
    yield s
    s.close()


@pytest.fixture(scope="module")
def merged(base_ref):
    s = Session(base_ref, device="cpu", merge="always")
    yield s
    s.close()


@pytest.fixture(scope="module")
def fresh_base_logits(tiny):
    model = AutoModelForCausalLM.from_pretrained(tiny.base).eval()
    with torch.no_grad():
        return model(torch.tensor([TOKENS])).logits[0]


def logits_with(session, refs):
    session.use(refs)
    return session.logits(TOKENS)


def manual_lora_logits(tiny, names):
    """The base with W + sum((alpha/r)·B@A) written into its weights by hand."""
    model = AutoModelForCausalLM.from_pretrained(tiny.base).eval()
    with torch.no_grad():
        for name in names:
            folder = tiny.adapters[name]
            config = json.loads((folder / "adapter_config.json").read_text())
            scale = config["lora_alpha"] / config["r"]
            state = load_file(folder / "adapter_model.safetensors")
            for key, a in state.items():
                if not key.endswith("lora_A.weight"):
                    continue
                module = key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
                b = state[key.replace("lora_A", "lora_B")]
                model.get_submodule(module).weight += scale * (b @ a)
        return model(torch.tensor([TOKENS])).logits[0]


@pytest.mark.parametrize("mode", ["unmerged", "merged"])
def test_lora_stack_equals_the_base_plus_summed_deltas(mode, request, tiny, ref):
    session = request.getfixturevalue(mode)
    names = ["lora-a", "lora-b", "lora-c"]
    got = logits_with(session, [ref(n) for n in names])
    want = manual_lora_logits(tiny, names)
    assert session.merged is (mode == "merged")
    torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
    single = logits_with(session, [ref("lora-a")])
    assert not torch.allclose(single, want, atol=1e-2)  # each expert really changes the output
    session.use([])


@pytest.mark.parametrize(
    "names",
    [
        ["lora-a", "lora-b", "lora-c"],
        ["dora-a"],
        ["dora-a", "dora-b"],
        ["lora-a", "dora-a", "lora-b", "dora-b"],
        ["ia3-a"],
        ["ia3-a", "ia3-b"],
    ],
    ids="+".join,
)
def test_merged_equals_unmerged(names, merged, unmerged, ref, fresh_base_logits):
    refs = [ref(n, load_order=i) for i, n in enumerate(names)]
    want = logits_with(unmerged, refs)
    got = logits_with(merged, refs)
    assert merged.merged and not unmerged.merged
    torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
    assert not torch.allclose(got, fresh_base_logits, atol=1e-2)
    merged.use([])
    unmerged.use([])


def test_auto_merges_lora_and_dora_sets(session, ref):
    session.use([ref("lora-a"), ref("dora-a")])
    assert session.merged
    session.use([])
    assert not session.merged


def test_sets_that_cannot_be_merged_run_unmerged_in_auto(session, unmerged, ref, base_ref):
    from hxpm.errors import InferenceError

    refs = [ref("lora-emb"), ref("lora-a", load_order=1)]
    got = logits_with(session, refs)
    assert not session.merged
    torch.testing.assert_close(got, logits_with(unmerged, refs), atol=ATOL, rtol=0)
    session.use([ref("lora-a")])
    assert session.merged
    session.use([])
    unmerged.use([])
    with Session(base_ref, device="cpu", merge="always") as always:
        with pytest.raises(InferenceError, match="embed_tokens is not a Linear layer"):
            always.use(refs)
        assert always.active == ()


def test_adapters_stack_in_load_order_not_argument_order(merged, unmerged, ref):
    # Two DoRA experts that share v_proj: their composition depends on the order.
    first, second = ref("dora-a", load_order=1), ref("dora-b", load_order=2)
    for session in (merged, unmerged):
        forward = logits_with(session, [first, second])
        assert session.active == ("dora-a", "dora-b")
        backward = logits_with(session, [second, first])
        assert session.active == ("dora-a", "dora-b")
        torch.testing.assert_close(backward, forward, atol=ATOL, rtol=0)
        swapped = logits_with(session, [ref("dora-a", load_order=2), ref("dora-b", load_order=1)])
        assert session.active == ("dora-b", "dora-a")
        assert not torch.allclose(swapped, forward, atol=1e-3)
        session.use([])


@pytest.mark.parametrize("mode", ["unmerged", "merged"])
def test_hot_swap_keeps_the_base_and_leaves_no_drift(mode, request, ref, fresh_base_logits):
    session = request.getfixturevalue(mode)
    model = session.model
    q_proj = model.get_submodule("model.layers.0.self_attn.q_proj")
    weight = getattr(q_proj, "base_layer", q_proj).weight
    storage = weight.data_ptr()
    sets = [
        [ref("lora-a"), ref("lora-b")],
        [ref("dora-a"), ref("lora-c")],
        [ref("dora-b")],
        [ref("ia3-a")],
        [ref("lora-c"), ref("dora-a")],
    ]
    for i in range(40):
        session.use(sets[i % len(sets)])
    session.use([])
    assert session.model is model
    assert weight.data_ptr() == storage  # the same tensors, updated in place: no reload
    assert torch.equal(session.logits(TOKENS), fresh_base_logits)


def test_switching_between_loaded_sets_attaches_nothing(session, ref):
    a, b = [ref("lora-a"), ref("lora-b")], [ref("dora-a")]
    session.use(a)
    session.use(b)
    loaded = session.loaded
    peft_names = dict(session._loaded)
    for _ in range(5):
        session.use(a)
        session.use(b)
    assert set(session.loaded) == set(loaded)
    assert dict(session._loaded) == peft_names
    session.use([])


def test_lru_evicts_the_least_recently_used(base_ref, ref):
    with Session(base_ref, device="cpu", max_loaded=2) as s:
        s.use([ref("lora-a")])
        before = s.logits(TOKENS)
        s.use([ref("lora-b")])
        s.use([ref("lora-a")])  # lora-a is now the most recent
        assert s.loaded == ("lora-b", "lora-a")
        s.use([ref("lora-c")])
        assert s.loaded == ("lora-a", "lora-c")
        assert s.active == ("lora-c",)
        s.use([ref("lora-b"), ref("lora-c", load_order=1)])
        assert s.loaded == ("lora-b", "lora-c")
        s.use([ref("lora-a")])  # re-attached after eviction: the same output as before
        torch.testing.assert_close(s.logits(TOKENS), before, atol=ATOL, rtol=0)


def test_a_set_larger_than_max_loaded_is_refused(base_ref, ref):
    from hxpm.errors import UsageError

    with Session(base_ref, device="cpu", max_loaded=2) as s:
        with pytest.raises(UsageError, match="max_loaded is 2"):
            s.use([ref("lora-a"), ref("lora-b"), ref("lora-c")])
        assert s.loaded == ()


def test_two_versions_of_one_expert_are_distinct_adapters(session, ref, tiny):
    from hxpm.runtime.session import AdapterRef

    old = AdapterRef("lora-a", "1.0.0", tiny.adapters["lora-a"])
    new = AdapterRef("lora-a", "2.0.0", tiny.adapters["lora-b"])
    first = logits_with(session, [old])
    second = logits_with(session, [new])
    assert not torch.allclose(first, second, atol=1e-3)
    session.use([])
