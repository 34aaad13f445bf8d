"""Bad inputs end in clear hxpm errors and leave the session as it was."""

from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import load_file, save_file

from hxpm.errors import (
    BaseMismatchError,
    InferenceError,
    IntegrityError,
    NotFoundError,
    UsageError,
)
from hxpm.runtime.session import AdapterRef, BaseRef, Session

TOKENS = list(range(40, 60))


def copy_adapter(tiny, name, dest):
    return shutil.copytree(tiny.adapters[name], dest)


def edit_config(folder, **changes):
    path = folder / "adapter_config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def assert_unchanged(session, active, logits):
    assert session.active == active
    assert session.logits(TOKENS).equal(logits)


@pytest.fixture
def lora_a_active(session, ref):
    session.use([ref("lora-a")])
    yield ("lora-a",), session.logits(TOKENS)
    session.use([])


def test_base_mismatch_is_refused(session, ref, lora_a_active):
    with pytest.raises(BaseMismatchError, match="was built for base 000000000000"):
        session.use([ref("lora-b", base_sha256="0" * 64)])
    assert_unchanged(session, *lora_a_active)
    session.use([ref("lora-b", base_sha256="")])  # unknown (legacy) base: not checked


def test_missing_target_modules_are_named(session, tiny, tmp_path, lora_a_active):
    folder = copy_adapter(tiny, "lora-a", tmp_path / "bad")
    edit_config(folder, target_modules=["q_proj", "c_attn", "v_proj", "down_proj"])
    with pytest.raises(InferenceError, match="does not have: c_attn") as info:
        session.use([AdapterRef("gpt2-style", "1.0.0", folder)])
    assert info.value.details["missing_modules"] == ["c_attn"]
    assert_unchanged(session, *lora_a_active)


def test_weights_for_modules_the_base_lacks_are_named(session, tiny, tmp_path):
    folder = copy_adapter(tiny, "lora-a", tmp_path / "deep")
    state = load_file(folder / "adapter_model.safetensors")
    state = {k.replace("layers.1.", "layers.7."): v for k, v in state.items()}
    save_file(state, folder / "adapter_model.safetensors")
    with pytest.raises(InferenceError, match=r"model\.layers\.7\.mlp\.down_proj"):
        session.use([AdapterRef("deep", "1.0.0", folder)])


def test_adapter_for_another_shape_is_refused(session, tiny, tmp_path, lora_a_active):
    folder = copy_adapter(tiny, "lora-a", tmp_path / "wide")
    state = load_file(folder / "adapter_model.safetensors")
    state = {k: (v.repeat(1, 2) if "lora_A" in k else v) for k, v in state.items()}
    save_file(state, folder / "adapter_model.safetensors")
    with pytest.raises(InferenceError, match="does not fit this base"):
        session.use([AdapterRef("wide", "1.0.0", folder)])
    assert_unchanged(session, *lora_a_active)


@pytest.mark.parametrize(
    "damage",
    ["no-weights", "garbage-weights", "bad-json", "prefix-tuning", "no-folder", "modules-to-save"],
)
def test_unreadable_or_unsupported_adapters(damage, session, tiny, tmp_path, lora_a_active):
    folder = copy_adapter(tiny, "lora-b", tmp_path / "x")
    weights, config = folder / "adapter_model.safetensors", folder / "adapter_config.json"
    if damage == "no-weights":
        weights.unlink()
    elif damage == "garbage-weights":
        weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{not json")
    elif damage == "bad-json":
        config.write_text("{")
    elif damage == "prefix-tuning":
        edit_config(folder, peft_type="PREFIX_TUNING")
    elif damage == "no-folder":
        shutil.rmtree(folder)
    elif damage == "modules-to-save":
        edit_config(folder, modules_to_save=["lm_head"])
    with pytest.raises(InferenceError) as info:
        session.use([AdapterRef("broken", "1.0.0", folder)])
    assert "broken@1.0.0" in info.value.message
    assert_unchanged(session, *lora_a_active)


def test_an_expert_tree_with_the_adapter_in_a_sub_folder(session, tiny, tmp_path):
    tree = tmp_path / "expert-x"
    copy_adapter(tiny, "lora-c", tree / "weights" / "adapter")
    (tree / "manifest.json").write_text("{}")
    session.use([AdapterRef("expert-x", "1.0.0", tree)])
    assert session.active == ("expert-x",)
    session.use([])


def test_ia3_and_lora_are_not_stacked_together(session, ref):
    with pytest.raises(InferenceError, match="cannot stack IA3 experts"):
        session.use([ref("lora-a"), ref("ia3-a")])


def test_base_digest_mismatch(tiny):
    with pytest.raises(IntegrityError, match="base files differ from the registered digest"):
        Session(BaseRef("tiny", tiny.base, "f" * 64), device="cpu")


def test_missing_base_files(tmp_path, tiny):
    with pytest.raises(NotFoundError, match="does not exist"):
        Session(BaseRef("gone", tmp_path / "nowhere", "f" * 64), device="cpu")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    with pytest.raises(NotFoundError, match="safetensors"):
        Session(BaseRef("empty", empty, ""), device="cpu")


def test_unloadable_base_is_an_inference_error(tmp_path):
    from hxpm.core.digest import base_model_digest

    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "qwen3"}')
    (folder / "model.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(InferenceError, match="junk"):
        Session(BaseRef("junk", folder, base_model_digest(folder)), device="cpu")


def test_bad_session_options(base_ref):
    with pytest.raises(UsageError, match="merge must be one of"):
        Session(base_ref, device="cpu", merge="sometimes")
    with pytest.raises(UsageError, match="expected auto, cpu, cuda or cuda:N"):
        Session(base_ref, device="tpu")


def test_closed_session_refuses_work(base_ref):
    s = Session(base_ref, device="cpu")
    s.close()
    s.close()  # twice is fine
    with pytest.raises(InferenceError, match="closed"):
        s.generate("hi")
