"""Turn training examples into token sequences with the ranges that carry loss.

A prompt/completion example becomes ``prompt ids + completion ids + end-of-turn id``: the
prompt is rendered by ``templates.build_prompt`` exactly as ``Session.generate`` renders it at
run time, and the end-of-turn token (``<|im_end|>`` for ChatML models) is one that
``generate`` stops on, so the expert learns to stop. Only completion tokens (and the end
token) carry loss. Text carries loss on its assistant turns (all of it without chat
markers); a conversation is rendered with the base's chat template and carries loss on its
assistant messages. Preference pairs become two such sequences each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hxpm.errors import InferenceError, UsageError

from .generate import eos_token_ids
from .recipe import Example, PreferenceExample, SftExample, TextExample
from .templates import build_prompt

IGNORE = -100
Span = tuple[int, int]  # [start, end) token positions


@dataclass(frozen=True, slots=True)
class Encoded:
    ids: tuple[int, ...]
    labelled: tuple[Span, ...]  # the token ranges that carry loss
    truncated: bool


@dataclass(frozen=True, slots=True)
class EncodedSet:
    items: tuple[Encoded, ...]
    truncated: int
    skipped: int  # prompts so long that no completion token fit in max_length
    end_token: int


def end_of_turn(model: Any, tokenizer: Any) -> int:
    """The token a completion ends with: ``<|im_end|>`` when it stops generation, else EOS.

    Raises:
        InferenceError: the base has no end-of-sequence token at all.
    """
    stops = eos_token_ids(model, tokenizer)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end in stops:
        return im_end
    eos = getattr(tokenizer, "eos_token_id", None)
    if isinstance(eos, int) and eos in stops:
        return eos
    if stops:
        return min(stops)
    raise InferenceError(
        "the base model declares no end-of-sequence token, so a trained "
        "expert could not learn to stop",
        hint="Set eos_token_id in the base's config.json or tokenizer.",
    )


def encode(
    tokenizer: Any,
    model: Any,
    examples: Sequence[SftExample],
    *,
    templates: Sequence[str | None],
    max_length: int,
) -> EncodedSet:
    """Tokenize ``examples``; each is cut at ``max_length`` tokens.

    Raises:
        UsageError: no example keeps a token that carries loss within ``max_length``.
    """
    end = end_of_turn(model, tokenizer)
    items, truncated, skipped = [], 0, 0
    for ex in examples:
        if isinstance(ex, Example):
            ids, spans = _prompt_completion(tokenizer, ex.prompt, ex.completion, templates, end)
        elif isinstance(ex, TextExample):
            ids, spans = _text(tokenizer, ex.text, ex.spans or ((0, len(ex.text)),))
        else:
            text, char_spans = render_chat(tokenizer, ex.messages)
            ids, spans = _text(tokenizer, text, char_spans)
        item = _cut(ids, spans, max_length)
        if item is None:
            skipped += 1
            continue
        truncated += item.truncated
        items.append(item)
    if not items:
        raise UsageError(
            f"no training example fits in max_length={max_length} tokens: in every one, "
            "the text before the part to learn (with its chat template) is at least that long",
            hint="Raise training.config.max_length.",
        )
    return EncodedSet(tuple(items), truncated, skipped, end)


def encode_pairs(
    tokenizer: Any,
    model: Any,
    pairs: Sequence[PreferenceExample],
    *,
    templates: Sequence[str | None],
    max_length: int,
) -> tuple[tuple[Encoded, Encoded], ...]:
    """(chosen, rejected) token sequences of DPO pairs; pairs that do not fit are left out.

    Raises:
        UsageError: no pair fits in ``max_length``.
    """
    end = end_of_turn(model, tokenizer)
    out = []
    for pair in pairs:
        both = [
            _cut(*_prompt_completion(tokenizer, pair.prompt, answer, templates, end), max_length)
            for answer in (pair.chosen, pair.rejected)
        ]
        if both[0] is not None and both[1] is not None:
            out.append((both[0], both[1]))
    if not out:
        raise UsageError(
            f"no preference pair fits in max_length={max_length} tokens",
            hint="Raise training.config.max_length.",
        )
    return tuple(out)


def _prompt_completion(
    tokenizer: Any, prompt: str, completion: str, templates: Sequence[str | None], end: int
) -> tuple[list[int], list[Span]]:
    rendered = build_prompt(tokenizer, prompt, system=None, templates=templates)
    head = list(
        tokenizer(rendered.text, add_special_tokens=rendered.add_special_tokens)["input_ids"]
    )
    tail = list(tokenizer(completion, add_special_tokens=False)["input_ids"])
    ids = head + tail + [end]
    return ids, [(len(head), len(ids))]


def _text(tokenizer: Any, text: str, char_spans: Sequence[Span]) -> tuple[list[int], list[Span]]:
    """Token ids of ``text`` and the token ranges whose first character is in a span."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    spans: list[Span] = []
    for i, (start, _) in enumerate(enc["offset_mapping"]):
        if any(a <= start < b for a, b in char_spans):
            if spans and spans[-1][1] == i:
                spans[-1] = (spans[-1][0], i + 1)
            else:
                spans.append((i, i + 1))
    return ids, spans


def _cut(ids: list[int], spans: list[Span], max_length: int) -> Encoded | None:
    kept = tuple((a, min(b, max_length)) for a, b in spans if a < max_length)
    if not kept:
        return None
    return Encoded(tuple(ids[:max_length]), kept, len(ids) > max_length)


def render_chat(
    tokenizer: Any, messages: Sequence[tuple[str, str]]
) -> tuple[str, tuple[Span, ...]]:
    """A conversation as the base's chat template writes it, and its assistant spans.

    An assistant message's span is what rendering it adds to the conversation before it
    (with the generation prompt): its content and closing marker, whatever the template.
    Bases without a template get ChatML.
    """
    turns = [{"role": role, "content": content} for role, content in messages]
    spans: list[Span] = []
    for i, (role, _) in enumerate(messages):
        if role != "assistant":
            continue
        before = _render(tokenizer, turns[:i], generation_prompt=True)
        upto = _render(tokenizer, turns[: i + 1], generation_prompt=False).rstrip()
        if upto.startswith(before):
            spans.append((len(before), len(upto)))
    return _render(tokenizer, turns, generation_prompt=False), tuple(spans)


def _render(tokenizer: Any, turns: list[dict[str, str]], *, generation_prompt: bool) -> str:
    if getattr(tokenizer, "chat_template", None) and turns:
        text = tokenizer.apply_chat_template(
            turns, tokenize=False, add_generation_prompt=generation_prompt
        )
        return str(text)
    body = "".join(f"<|im_start|>{t['role']}\n{t['content']}<|im_end|>\n" for t in turns)
    return body + ("<|im_start|>assistant\n" if generation_prompt else "")
