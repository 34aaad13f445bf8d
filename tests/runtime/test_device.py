"""Device choice, and one CUDA run (bf16) where a GPU exists."""

from __future__ import annotations

import pytest
import torch

from hxpm.errors import UsageError
from hxpm.runtime.device import choose_device
from hxpm.runtime.session import GenerationConfig, Session

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def test_cpu_runs_in_float32():
    assert choose_device("cpu") == (torch.device("cpu"), torch.float32)


@no_cuda
def test_auto_falls_back_to_the_cpu():
    assert choose_device("auto") == (torch.device("cpu"), torch.float32)


@no_cuda
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "CUDA:1"])
def test_cuda_without_cuda_is_a_usage_error(spec):
    with pytest.raises(UsageError, match=f"--device {spec}: no CUDA device is available") as e:
        choose_device(spec)
    assert e.value.hint and "--device cpu" in e.value.hint


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "gpu0"])
def test_unknown_devices_are_usage_errors(spec):
    with pytest.raises(UsageError, match="expected auto, cpu, cuda or cuda:N"):
        choose_device(spec)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_on_cuda_generates_and_merges_like_unmerged(base_ref, ref):
    with (
        Session(base_ref, device="cuda", merge="always") as merged,
        Session(base_ref, device="cuda", merge="never") as unmerged,
    ):
        assert merged.device.startswith("cuda") and merged.dtype == "bfloat16"
        result = merged.generate("hello", GenerationConfig(max_new_tokens=16))
        assert result.new_tokens == 16
        tokens = list(range(40, 80))
        bare = merged.logits(tokens)
        refs = [ref("lora-a"), ref("dora-a", load_order=1)]
        merged.use(refs)
        unmerged.use(refs)
        # bf16 rounding: merged weights are rounded once, unmerged activations per layer
        torch.testing.assert_close(
            merged.logits(tokens), unmerged.logits(tokens), atol=0.2, rtol=0.05
        )
        merged.use([])  # exact restore: no bf16 drift (peft's unmerge drifts by ~0.05 here)
        torch.testing.assert_close(merged.logits(tokens), bare, atol=1e-3, rtol=0)
