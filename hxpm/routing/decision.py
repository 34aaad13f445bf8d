"""What the router returns, and what it is given: plain values (docs/routing.md).

:class:`RouteCandidate` is one installed expert as the router sees it; :class:`ExpertScore`
is one candidate's score with its evidence; :class:`RouteDecision` is the answer for one
prompt, with ``to_dict()`` in the stable ``hxpm.route/1`` shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hxpm.routing.profile import Profile
from hxpm.routing.profile_index import ProfileMatch

SCHEMA = "hxpm.route/1"
DEFAULT_MIN_SCORE = 0.5  # one keyword at priority 0, or one capability at the default priority
DEFAULT_PRIORITY = 0.5


@dataclass(frozen=True, slots=True)
class RouteCandidate:
    """One installed expert as the router sees it (from its manifest)."""

    name: str
    version: str
    keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    priority: float = DEFAULT_PRIORITY  # 0..1, manifest routing.priority
    capabilities: tuple[str, ...] = ()  # "namespace:value"
    description: str = ""
    requires: tuple[str, ...] = ()  # for display only; the caller resolves the closure
    profile: Profile | None = None  # built from its training prompts (routing_profile.json)


@dataclass(frozen=True, slots=True)
class ExpertScore:
    name: str
    version: str
    score: float
    keyword_hits: tuple[str, ...]  # single-word keywords found, as the manifest spells them
    phrase_hits: tuple[str, ...]  # multi-word keywords found
    excluded_by: tuple[str, ...]  # exclude keywords found
    capability_hits: tuple[str, ...]  # capabilities whose value the prompt mentions
    reasons: tuple[str, ...]  # one human sentence per piece of evidence, in scoring order
    profile: ProfileMatch | None = None  # None: the expert ships no routing profile
    profile_evidence: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        pm = self.profile
        return {
            "name": self.name,
            "version": self.version,
            "score": self.score,
            "keyword_hits": list(self.keyword_hits),
            "phrase_hits": list(self.phrase_hits),
            "excluded_by": list(self.excluded_by),
            "capability_hits": list(self.capability_hits),
            "reasons": list(self.reasons),
            "profile": None
            if pm is None
            else {
                "similarity": pm.similarity,
                "evidence": self.profile_evidence,
                "terms": pm.terms,
                "matched": list(pm.matched),
            },
        }


@dataclass(frozen=True, slots=True)
class RouteDecision:
    prompt: str
    chosen: str | None  # None: the bare base model answers
    generic: bool  # True when the base answers *because* the prompt is a generic question
    reason: str  # one sentence: why this choice
    scores: tuple[ExpertScore, ...]  # every candidate, best first, deterministic order
    min_score: float = DEFAULT_MIN_SCORE

    @property
    def chosen_score(self) -> ExpertScore | None:
        """The chosen expert's score (it is always ``scores[0]``), or None."""
        return self.scores[0] if self.chosen is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "prompt": self.prompt,
            "chosen": self.chosen,
            "generic": self.generic,
            "reason": self.reason,
            "min_score": self.min_score,
            "scores": [s.to_dict() for s in self.scores],
        }
