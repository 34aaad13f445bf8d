"""The GPU path of `hxpm train`: bf16 autocast, fused AdamW (needs CUDA; skipped without it).

On a CPU-only machine only the fallback is checked: a bf16/fp16 recipe trains in float32
with a warning naming the key.
"""

from __future__ import annotations

import pytest
import torch

from hxpm.runtime.recipe import TrainConfig
from hxpm.runtime.train_loop import precision, training_arguments


def test_mixed_precision_on_the_cpu_falls_back_naming_the_key(tmp_path):
    bf16, fp16, notes = precision(TrainConfig(bf16=True), torch.device("cpu"))
    assert (bf16, fp16) == (False, False)
    assert notes == ("training.config.bf16: ignored on the CPU (it trains in float32)",)
    args, notes = training_arguments(
        TrainConfig(fp16=True),
        output_dir=tmp_path,
        device=torch.device("cpu"),
        seed=0,
        epochs=1,
        max_steps=2,
        has_eval=False,
    )
    assert not args.bf16 and not args.fp16 and args.optim == "adamw_torch"
    assert notes == ("training.config.fp16: ignored on the CPU (it trains in float32)",)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_trains_in_bf16_with_the_fused_optimizer(tmp_path, base_ref):
    from hxpm.runtime.recipe import Example
    from hxpm.runtime.train import TrainJob, train

    args, _ = training_arguments(
        TrainConfig(),
        output_dir=tmp_path,
        device=torch.device("cuda"),
        seed=0,
        epochs=1,
        max_steps=2,
        has_eval=False,
    )
    assert args.optim == "adamw_torch_fused"
    assert args.bf16 == torch.cuda.is_bf16_supported()
    examples = tuple(Example(f"color of {w}", f'{{"color": "{w}"}}') for w in ("red", "blue"))
    config = TrainConfig(learning_rate=0.01, max_length=64, batch_size=2)
    out = train(TrainJob(base_ref, config, examples, tmp_path / "out", max_steps=20, device="cuda"))
    assert out.device.startswith("cuda") and out.last_loss < out.first_loss
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()
