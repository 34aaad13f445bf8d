"""A whole conversation as model input: the multi-turn counterpart of ``templates.build_prompt``.

Same precedence: the tokenizer's chat template, else the experts' built-in template, else
raw text. A conversation of one user turn (plus an optional system turn) renders exactly as
``build_prompt`` renders that prompt, so `hxpm run`, `hxpm chat` and `hxpm serve` give the
same answer to the same single question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hxpm.errors import InferenceError, UsageError

from .templates import BUILTIN, PromptText, build_prompt, template_name

ROLES = ("system", "user", "assistant")
_CHATML = {"chatml", "qwen", "qwen2", "qwen3"}


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


def check_messages(messages: Sequence[Message]) -> None:
    """UsageError unless the roles are known and the conversation ends with a user turn."""
    if not messages:
        raise UsageError("messages is empty: at least one user message is needed")
    for i, m in enumerate(messages):
        if m.role not in ROLES:
            raise UsageError(
                f"messages[{i}].role is {m.role!r}; expected one of {', '.join(ROLES)}"
            )
    if messages[-1].role != "user":
        raise UsageError("the last message must have role 'user'")


def render_messages(
    tokenizer: Any, messages: Sequence[Message], *, templates: Sequence[str | None]
) -> PromptText:
    """The text to tokenize for ``messages`` (see the module docstring)."""
    check_messages(messages)
    system = messages[0].content if messages[0].role == "system" else None
    turns = list(messages[1:] if system is not None else messages)
    if len(turns) == 1:
        return build_prompt(tokenizer, turns[0].content, system=system, templates=templates)
    if getattr(tokenizer, "chat_template", None):
        from jinja2 import TemplateError  # transformers renders chat templates with jinja2

        try:
            text = tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in messages],
                tokenize=False,
                add_generation_prompt=True,
                enable_thinking=False,
            )
        except (TemplateError, TypeError, ValueError) as e:  # incl. a refused role order
            raise InferenceError(f"the base model's chat template failed: {e}") from None
        return PromptText(str(text), False, "tokenizer")
    return _builtin_turns(messages, system, turns, template_name(templates))


def _builtin_turns(
    messages: Sequence[Message], system: str | None, turns: list[Message], name: str | None
) -> PromptText:
    if name in _CHATML:
        text = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
        return PromptText(text + "<|im_start|>assistant\n", True, str(name))
    # Formats without a multi-turn form: earlier turns become plain "role: text" context
    # before the last question, which is rendered in the experts' own format.
    history = "\n".join(f"{m.role}: {m.content}" for m in turns[:-1])
    last = turns[-1].content
    if name is None:
        parts = [p for p in (system, history, last) if p]
        return PromptText("\n\n".join(parts), True, "raw")
    render = BUILTIN.get(name)
    if render is None:
        raise InferenceError(
            f"unknown prompt_template {name!r}",
            hint=f"Known templates: {', '.join(sorted(BUILTIN))}.",
        )
    context = "\n\n".join(p for p in (system, history) if p) or None
    return PromptText(render(last, context), True, name)
