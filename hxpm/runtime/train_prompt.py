"""Soft-prompt tuning (``adapter_type: "prompt"``): PEFT prompt tuning on the frozen closure.

The trainable part is PEFT's ``PromptEmbedding`` (a ``PromptTuningConfig``, initialised from
embeddings of tokens sampled from the vocabulary, as Lester et al., 2021 recommend over random
vectors). It is not wrapped in a ``PeftModel``: hxpm composes the requires closure beneath the
expert itself (``hxpm.runtime.train``), and :class:`SoftPromptModel` prepends the vectors to
the input embeddings exactly as the runtime does (``hxpm.runtime.generate``: the prefix first,
positions counted from it, every prefix position attended to), so what trains is what runs.

The finished vectors go to ``soft_prompts/<name>.safetensors`` beside the adapter, one tensor
``prompt_embeddings`` of shape ``[num_virtual_tokens, hidden]`` (``hxpm.runtime.softprompt``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import torch

SOFT_PROMPT_DIR = "soft_prompts"
TENSOR_NAME = "prompt_embeddings"  # PEFT's name for a prompt-tuning checkpoint's tensor


class SoftPromptModel(torch.nn.Module):
    """``model`` with trainable soft-prompt vectors put before every input.

    ``forward`` returns the logits of the real tokens only (the prefix positions dropped), so
    labels, losses and probes line up with the input ids as for an adapter.
    """

    def __init__(self, model: torch.nn.Module, prompt: torch.nn.Module, tokens: int) -> None:
        super().__init__()
        self.model = model
        self.prompt = prompt
        self.tokens = tokens
        self.config = getattr(model, "config", None)  # what Trainer reads of a model

    @property
    def vectors(self) -> torch.nn.Parameter:
        """The trainable ``[tokens, hidden]`` parameter (PEFT's ``PromptEmbedding.embedding``)."""
        embedding = cast(torch.nn.Embedding, self.prompt.embedding)
        return cast(torch.nn.Parameter, embedding.weight)

    def prefix(self) -> torch.Tensor:
        """The ``[tokens, hidden]`` vectors (float32, the trained values)."""
        index = torch.arange(self.tokens, device=self.vectors.device)
        out: torch.Tensor = self.prompt(index)
        return out

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> Any:
        embed = self.model.get_input_embeddings()  # type: ignore[operator]
        embedded = embed(input_ids)
        rows = input_ids.shape[0]
        prefix = self.prefix().to(embedded.dtype).unsqueeze(0).expand(rows, -1, -1)
        if attention_mask is not None:
            ones = attention_mask.new_ones((rows, self.tokens))
            attention_mask = torch.cat([ones, attention_mask], dim=1)
        kwargs.pop("labels", None)
        out = self.model(
            inputs_embeds=torch.cat([prefix, embedded], dim=1),
            attention_mask=attention_mask,
            **kwargs,
        )
        out.logits = out.logits[:, self.tokens :]
        return out


def attach(model: torch.nn.Module, tokens: int) -> SoftPromptModel:
    """Wrap ``model`` (closure composed, every weight frozen) with ``tokens`` new vectors.

    Draws from torch's random generator (the caller seeds it) to pick the initial tokens.
    """
    from peft import PromptTuningConfig, PromptTuningInit
    from peft.tuners.prompt_tuning import PromptEmbedding

    embed = model.get_input_embeddings()  # type: ignore[operator]
    config = PromptTuningConfig(
        task_type="CAUSAL_LM",
        num_virtual_tokens=tokens,
        token_dim=int(embed.weight.shape[1]),
        num_transformer_submodules=1,
        prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB,
    )
    prompt = PromptEmbedding(config, embed).to(embed.weight.device)
    wrapper = SoftPromptModel(model, prompt, tokens)
    wrapper.vectors.requires_grad_(True)
    return wrapper


def save_soft_prompt(wrapper: SoftPromptModel, output_dir: Path, name: str) -> Path:
    """Write ``output_dir/soft_prompts/<name>.safetensors`` atomically; returns its path."""
    from safetensors.torch import save_file

    folder = Path(output_dir) / SOFT_PROMPT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.safetensors"
    tmp = folder / f".{name}.safetensors.tmp"
    with torch.no_grad():
        tensor = wrapper.prefix().detach().to("cpu", torch.float32).contiguous()
    try:
        save_file({TENSOR_NAME: tensor}, str(tmp), metadata={"format": "pt"})
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def prepare(
    model: torch.nn.Module, config: Any, trainable: list[tuple[str, torch.nn.Parameter]]
) -> tuple[torch.nn.Module, list[tuple[str, torch.nn.Parameter]]]:
    """``adapter_type: prompt`` (``config``: a TrainConfig): freeze the placeholder LoRA
    (B = 0: it changes nothing, and packages require an adapter) and train soft-prompt
    vectors instead. Other recipes: ``model`` and ``trainable`` unchanged."""
    if config.adapter_type != "prompt":
        return model, trainable
    for _, param in trainable:
        param.requires_grad_(False)
    wrapper = attach(model, config.num_virtual_tokens)
    return wrapper, [("prompt.embedding.weight", wrapper.vectors)]


def save_if_trained(
    trained: torch.nn.Module, config: Any, output_dir: Path, expert: str
) -> Path | None:
    """The soft prompt file written for a prompt recipe (None for other recipes)."""
    if not isinstance(trained, SoftPromptModel):
        return None
    return save_soft_prompt(trained, output_dir, config.soft_prompt_name or expert)
