"""Small builders for resolver tests: candidates over an in-memory source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hxpm.core.versions import Requirement, Version, parse_requirement
from hxpm.resolve import Candidate, InMemorySource, Resolution, resolve

BASE = "Qwen/Qwen3-0.6B"
OTHER_BASE = "Qwen/Qwen3-1.7B"
SHA = "a" * 64
OTHER_SHA = "b" * 64


def req(text: str) -> Requirement:
    return parse_requirement(text)


def cand(
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    incompatible: Sequence[str] = (),
    bases: Sequence[tuple[str, str]] = ((BASE, ""),),
    **fields: Any,
) -> Candidate:
    return Candidate(
        name,
        Version.parse(version),
        tuple(req(r) for r in requires),
        tuple(req(r) for r in incompatible),
        base_models=tuple(bases),
        **fields,
    )


def run(roots: Sequence[str], candidates: Sequence[Candidate], **options: Any) -> Resolution:
    options.setdefault("base_model", BASE)
    return resolve([req(r) for r in roots], InMemorySource(candidates), **options)


def chosen(resolution: Resolution) -> dict[str, str]:
    return {c.name: str(c.version) for c in resolution.experts}


class CountingSource(InMemorySource):
    """Records how often each name is asked for."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        super().__init__(candidates)
        self.calls: dict[str, int] = {}

    def candidates_for(self, name: str) -> Sequence[Candidate]:
        self.calls[name] = self.calls.get(name, 0) + 1
        return super().candidates_for(name)
