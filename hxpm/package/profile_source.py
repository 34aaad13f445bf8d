"""The prompts a routing profile is built from: the user turns of the expert's training set.

``hxpm package`` reads ``training.dataset.path`` (JSON Lines, relative to the expert folder)
and takes from each line what the user asked:

- ``prompt`` (prompt-completion, hxpm's own format);
- ``messages`` (chat): every ``user`` message;
- ``text`` (the older tool's ChatML-in-a-string): the ``user`` sections, between
  ``<|user|>``/``<|im_start|>user`` and the next ``<|end|>``/``<|im_end|>``;
- ``instruction`` (with ``input`` when it is a string).

No dataset declared, or none on disk: no profile (the router falls back to keywords). A line
that is not strict JSON stops the build with the file and line number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hxpm.core.manifest import Manifest
from hxpm.core.strictjson import JsonError, read_json
from hxpm.errors import PackageBuildError
from hxpm.routing.profile import MAX_PROMPTS, build_profile, profile_bytes

MAX_LINE_BYTES = 1 << 20
_USER_TURN = re.compile(
    r"(?:<\|user\|>|<\|im_start\|>user)\s*(.*?)\s*(?:<\|end\|>|<\|im_end\|>|$)", re.DOTALL
)


def routing_profile_member(expert_dir: Path, manifest: Manifest) -> bytes | None:
    """The bytes of ``routing_profile.json`` for this expert, or None (nothing to profile)."""
    path = _dataset_path(expert_dir, manifest)
    if path is None:
        return None
    profile = build_profile(_prompts(path))
    return profile_bytes(profile) if profile is not None else None


def _dataset_path(expert_dir: Path, manifest: Manifest) -> Path | None:
    training = manifest.raw.get("training")
    dataset = training.get("dataset") if isinstance(training, dict) else None
    rel = dataset.get("path") if isinstance(dataset, dict) else None
    if not isinstance(rel, str) or not rel.strip():
        return None
    try:
        root = expert_dir.resolve()
        path = (root / rel).resolve()
    except (OSError, ValueError):
        return None
    # A declared path is data: it may not reach outside the expert folder.
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def _prompts(path: Path) -> Iterator[str]:
    count = 0
    try:
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if count >= MAX_PROMPTS:
                    return
                if not raw.strip():
                    continue
                for prompt in _user_turns(_line(path, number, raw)):
                    count += 1
                    yield prompt
    except OSError as exc:
        raise PackageBuildError(f"{path}: could not read the training set: {exc}") from None


def _line(path: Path, number: int, raw: bytes) -> Any:
    try:
        return read_json(raw, max_bytes=MAX_LINE_BYTES)
    except JsonError as exc:
        raise PackageBuildError(
            f"{path}:{number}: not a JSON line ({exc})",
            hint="The routing profile is built from the training set's prompts; fix the line.",
        ) from None


def _user_turns(record: Any) -> list[str]:
    if not isinstance(record, dict):
        return []
    prompt = record.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    messages = record.get("messages")
    if isinstance(messages, list):
        return [
            m["content"]
            for m in messages
            if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str)
        ]
    text = record.get("text")
    if isinstance(text, str):
        return [t for t in _USER_TURN.findall(text) if t.strip()]
    instruction = record.get("instruction")
    if isinstance(instruction, str):
        extra = record.get("input")
        return [f"{instruction} {extra}" if isinstance(extra, str) else instruction]
    return []
