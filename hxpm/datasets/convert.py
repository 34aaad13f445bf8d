"""Records to JSON objects, between formats where the meaning carries over.

The conversions keep what trains: an instruction line is a prompt and a completion; a
prompt and a completion are a one-turn chat; a chat is ChatML text and back. A preference
pair has no single completion, so it converts to nothing else, and nothing converts to it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hxpm.datasets.chatml import chat_to_messages, messages_to_chatml
from hxpm.datasets.records import (
    ChatRecord,
    Message,
    PromptCompletion,
    Record,
    TextRecord,
)

# source format -> the formats it converts to
TARGETS: dict[str, tuple[str, ...]] = {
    "instruction": ("prompt_completion", "messages", "text"),
    "prompt_completion": ("messages", "text"),
    "messages": ("text",),
    "text": ("messages",),
    "preference": (),
}


def to_object(record: Record) -> dict[str, Any]:
    """The JSON object a record is written as, in its own format."""
    if isinstance(record, TextRecord):
        return {"text": record.text}
    if isinstance(record, PromptCompletion):
        return {"prompt": record.prompt, "completion": record.completion}
    if isinstance(record, ChatRecord):
        return {"messages": [{"role": m.role, "content": m.content} for m in record.messages]}
    return {"prompt": record.prompt, "chosen": record.chosen, "rejected": record.rejected}


def convert(record: Record, target: str) -> Record:
    """``record`` in the ``target`` format (the caller checked :data:`TARGETS`).

    Raises:
        ValueError: this record cannot be written in ``target`` (text without chat markers or
            without an assistant turn, a message holding a chat marker).
    """
    if target == "prompt_completion" and isinstance(record, PromptCompletion):
        return record
    if target == "messages":
        if isinstance(record, PromptCompletion):
            return ChatRecord(
                (Message("user", record.prompt), Message("assistant", record.completion))
            )
        if isinstance(record, TextRecord):
            messages = chat_to_messages(record.text)
            if not any(m.role == "assistant" for m in messages):
                raise ValueError("the chat has no assistant turn")
            return ChatRecord(messages)
    if target == "text":
        chat = convert(record, "messages") if isinstance(record, PromptCompletion) else record
        if isinstance(chat, ChatRecord):
            return TextRecord(messages_to_chatml(chat.messages))
    raise ValueError(f"a {type(record).__name__} does not convert to {target}")


def dumps_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def record_key(record: Record) -> bytes:
    """A 16-byte digest of the record with whitespace runs collapsed: equal keys are
    duplicates. Compares records, not lines, so metadata fields do not hide a duplicate."""
    if isinstance(record, ChatRecord):
        parts: list[str] = [p for m in record.messages for p in (m.role, m.content)]
    elif isinstance(record, TextRecord):
        parts = [record.text]
    elif isinstance(record, PromptCompletion):
        parts = [record.prompt, record.completion]
    else:
        parts = [record.prompt, record.chosen, record.rejected]
    normal = [type(record).__name__, *(" ".join(p.split()) for p in parts)]
    return hashlib.blake2b(json.dumps(normal).encode("utf-8"), digest_size=16).digest()


def split_point(key: bytes, salt: str) -> float:
    """Where a record falls in [0, 1): a hash, so the same record lands in the same split
    on every run and every machine, and duplicates never straddle train and test."""
    digest = hashlib.blake2b(key, digest_size=8, key=salt.encode("utf-8")[:64]).digest()
    return int.from_bytes(digest, "big") / float(1 << 64)
