"""Dependency resolution for experts (docs/architecture.md §7); the only package that
imports resolvelib.

Public names are loaded lazily, so that importing ``hxpm.resolve.model`` (plain values, used
by services that only describe candidates) does not pay for resolvelib.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hxpm.resolve.conflict_report import ConflictReport as ConflictReport
    from hxpm.resolve.conflict_report import render_text as render_text
    from hxpm.resolve.model import USER as USER
    from hxpm.resolve.model import Candidate as Candidate
    from hxpm.resolve.model import CandidateSource as CandidateSource
    from hxpm.resolve.model import InMemorySource as InMemorySource
    from hxpm.resolve.model import Reason as Reason
    from hxpm.resolve.model import Resolution as Resolution
    from hxpm.resolve.resolver import resolve as resolve

_WHERE = {
    "USER": "model",
    "Candidate": "model",
    "CandidateSource": "model",
    "InMemorySource": "model",
    "Reason": "model",
    "Resolution": "model",
    "ConflictReport": "conflict_report",
    "render_text": "conflict_report",
    "resolve": "resolver",
}

__all__ = [  # the names of _WHERE (a test keeps them equal)
    "USER",
    "Candidate",
    "CandidateSource",
    "ConflictReport",
    "InMemorySource",
    "Reason",
    "Resolution",
    "render_text",
    "resolve",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
