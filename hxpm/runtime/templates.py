"""Turn a user prompt into model input text: the tokenizer's chat template, else a built-in
for the experts' ``prompt_template``, else the raw text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hxpm.errors import InferenceError

_VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's "
    "questions."
)


@dataclass(frozen=True, slots=True)
class PromptText:
    text: str
    add_special_tokens: bool  # False when the template already wrote BOS and friends
    template: str  # "tokenizer", a built-in name, or "raw"


def _chatml(prompt: str, system: str | None) -> str:
    head = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
    return f"{head}<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


def _llama2(prompt: str, system: str | None) -> str:
    sys_block = f"<<SYS>>\n{system}\n<</SYS>>\n\n" if system else ""
    return f"[INST] {sys_block}{prompt} [/INST]"


def _alpaca(prompt: str, system: str | None) -> str:
    head = f"{system}\n\n" if system else ""
    return f"{head}### Instruction:\n{prompt}\n\n### Response:\n"


def _vicuna(prompt: str, system: str | None) -> str:
    return f"{system or _VICUNA_SYSTEM} USER: {prompt} ASSISTANT:"


BUILTIN = {
    "chatml": _chatml,
    "qwen": _chatml,
    "qwen2": _chatml,
    "qwen3": _chatml,
    "llama2": _llama2,
    "llama": _llama2,
    "alpaca": _alpaca,
    "vicuna": _vicuna,
}


def template_name(templates: Sequence[str | None]) -> str | None:
    """The template of the active experts: the last one that names one (in load order).

    The last expert in load order is the dependent one, trained on top of the others, so
    its format is the one the stack answers in.
    """
    named = [t.strip().lower() for t in templates if t and t.strip()]
    return named[-1] if named else None


def build_prompt(
    tokenizer: Any, prompt: str, *, system: str | None, templates: Sequence[str | None]
) -> PromptText:
    """The text to tokenize for ``prompt`` (see the module docstring for the precedence)."""
    if getattr(tokenizer, "chat_template", None):
        from jinja2 import TemplateError  # transformers renders chat templates with jinja2

        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        try:
            # enable_thinking=False: experts answer directly; templates without thinking
            # (anything but Qwen3's) simply ignore the extra variable.
            text = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
            )
        # TemplateError: a template that does not compile, or that refuses the conversation
        # (raise_exception, e.g. on a system turn); TypeError and ValueError: bad operations.
        except (TemplateError, TypeError, ValueError) as e:
            raise InferenceError(f"the base model's chat template failed: {e}") from None
        return PromptText(str(text), False, "tokenizer")
    name = template_name(templates)
    if name is None:
        return PromptText(prompt if system is None else f"{system}\n\n{prompt}", True, "raw")
    render = BUILTIN.get(name)
    if render is None:
        raise InferenceError(
            f"unknown prompt_template {name!r}",
            hint=f"Known templates: {', '.join(sorted(BUILTIN))}.",
        )
    return PromptText(render(prompt, system), True, name)
