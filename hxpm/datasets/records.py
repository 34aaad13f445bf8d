"""The records a dataset line becomes, one frozen value per format (docs/datasets.md).

The trainer consumes these; nothing here reads files. ``instruction``/``input``/``output``
lines become :class:`PromptCompletion` (the instruction format is a way of writing the same
thing), so the trainer sees four shapes for five formats.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("text", "prompt_completion", "messages", "instruction", "preference")
ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class TextRecord:
    """Any text; ChatML (or the older ``<|assistant|>`` markers) possible, see chatml.py."""

    text: str


@dataclass(frozen=True, slots=True)
class PromptCompletion:
    """A prompt and the completion to learn (also what instruction/input/output maps to)."""

    prompt: str
    completion: str


@dataclass(frozen=True, slots=True)
class ChatRecord:
    """An OpenAI-style conversation; at least one assistant message."""

    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class PreferenceRecord:
    """A preference pair for DPO: the ``chosen`` completion is preferred to ``rejected``."""

    prompt: str
    chosen: str
    rejected: str


Record = TextRecord | PromptCompletion | ChatRecord | PreferenceRecord
