"""Routing: pick the installed expert that should answer a prompt (no torch, no I/O)."""

from __future__ import annotations

from hxpm.routing.router import (
    DEFAULT_MIN_SCORE,
    SCHEMA,
    ExpertScore,
    RouteCandidate,
    RouteDecision,
    Router,
    route,
)

__all__ = [
    "DEFAULT_MIN_SCORE",
    "SCHEMA",
    "ExpertScore",
    "RouteCandidate",
    "RouteDecision",
    "Router",
    "route",
]
