"""Chat markers inside ``text`` records: where the assistant speaks, and conversion to turns.

Two marker styles occur in real datasets. Qwen3 and most chat models use ChatML
(``<|im_start|>assistant\\n … <|im_end|>``); the older expert ecosystem's own datasets
(tests/fixtures/original-ecosystem/datasets/) write ``<|assistant|>\\n … \\n<|end|>``. Both
are read; ChatML is what hxpm writes.

An assistant span runs from the first character after the role header to the end of the
closing marker: the trainer puts loss on the closing marker too, or the model never learns to
stop. ``<think>`` blocks are part of the assistant content (Qwen3 reasoning traces are what
such a dataset teaches).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from hxpm.datasets.records import ROLES, Message

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
_LEGACY_ROLES = "system|user|assistant|tool"
# A turn ends at its closing marker, at the next turn's header, or at the end of the text
# (a truncated last turn still counts).
_CHATML_TURN = re.compile(
    r"<\|im_start\|>([^\n<]*)\n?(.*?)(<\|im_end\|>|(?=<\|im_start\|>)|\Z)", re.DOTALL
)
_LEGACY_TURN = re.compile(
    rf"<\|({_LEGACY_ROLES})\|>\n?(.*?)(\n?<\|end\|>|(?=<\|(?:{_LEGACY_ROLES})\|>)|\Z)",
    re.DOTALL,
)
_LEGACY_MARK = re.compile(rf"<\|(?:{_LEGACY_ROLES})\|>")
_ANY_MARK = re.compile(rf"<\|(?:im_start|im_end|end|{_LEGACY_ROLES})\|>")


def _turns(text: str) -> Iterator[re.Match[str]]:
    if IM_START in text:
        return _CHATML_TURN.finditer(text)
    if _LEGACY_MARK.search(text):
        return _LEGACY_TURN.finditer(text)
    return iter(())


def has_chat_markers(text: str) -> bool:
    return IM_START in text or _LEGACY_MARK.search(text) is not None


def assistant_spans(text: str) -> tuple[tuple[int, int], ...]:
    """``(start, end)`` character spans of the assistant turns, closing marker included.

    Empty when ``text`` has no chat markers: then the loss goes on all of the text.
    """
    return tuple(
        (m.start(2), m.end(3) if m.group(3) else m.end(2))
        for m in _turns(text)
        if m.group(1).strip() == "assistant"
    )


def chat_to_messages(text: str) -> tuple[Message, ...]:
    """The turns of a chat-marked text.

    Raises:
        ValueError: the text has no chat markers, or a turn names a role hxpm does not know.
    """
    messages = []
    for m in _turns(text):
        role = m.group(1).strip()
        if role not in ROLES:
            raise ValueError(f"unknown chat role {role[:40]!r} (expected one of {ROLES})")
        messages.append(Message(role, m.group(2)))
    if not messages:
        raise ValueError("no chat markers (<|im_start|>role … <|im_end|> or <|role|> … <|end|>)")
    return tuple(messages)


def messages_to_chatml(messages: Iterable[Message]) -> str:
    """Qwen3's ChatML layout: ``<|im_start|>ROLE\\nCONTENT<|im_end|>\\n`` per turn.

    Raises:
        ValueError: a message's content holds a chat marker itself (the text would read back
            as other turns than the ones written).
    """
    parts = []
    for message in messages:
        if _ANY_MARK.search(message.content):
            raise ValueError(f"a {message.role} message holds a chat marker in its content")
        parts.append(f"{IM_START}{message.role}\n{message.content}{IM_END}\n")
    return "".join(parts)
