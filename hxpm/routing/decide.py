"""The decision once every candidate is scored (docs/routing.md, "The decision"): the best
score at or above ``min_score`` wins, unless the prompt is a generic question ("what is
...") without strong evidence, and every decision says why in words (``--explain``).
Pure functions over :class:`~hxpm.routing.scoring.Ranked` values.
"""

from __future__ import annotations

from hxpm.routing.code_questions import code_request
from hxpm.routing.decision import ExpertScore, RouteDecision
from hxpm.routing.markers import snake_case_name
from hxpm.routing.scoring import Ranked, strong_profile
from hxpm.routing.text import Tokens, artifact_marker, generic_opener

STRONG_KEYWORDS = 3  # distinct keyword hits that make a generic question the expert's anyway
# An arrow hands the why-question itself over: "Why are the seals out? <- question or not?"
_POINTERS = frozenset(["<", ">"])


def decide(prompt: str, tokens: Tokens, ranked: list[Ranked], min_score: float) -> RouteDecision:
    scores = tuple(r.score for r in ranked)

    def decision(chosen: str | None, reason: str, generic: bool = False) -> RouteDecision:
        return RouteDecision(prompt, chosen, generic, reason, scores, min_score)

    if not tokens.words:
        return decision(None, "empty prompt: the bare base model answers")
    best = ranked[0] if ranked and ranked[0].score.score > 0 else None
    if best is not None and best.score.score < min_score:
        best = None
    opener = generic_opener(tokens)
    if opener is not None:
        override = _generic_override(best, tokens, prompt, opener)
        if best is None or override is None:
            return decision(None, _generic_reason(opener, best), generic=True)
        return decision(
            best.score.name,
            f"generic question ('{opener} ...') but {override}; " + _win_reason(ranked),
        )
    if best is None:
        return decision(None, _no_match_reason(ranked, min_score))
    return decision(best.score.name, _win_reason(ranked))


def _generic_override(best: Ranked | None, tokens: Tokens, prompt: str, opener: str) -> str | None:
    """Why a generic-looking question still goes to ``best`` (None: it does not).

    "What is SQL?" is about a concept: the base answers. "Explain this cypher query: MATCH …"
    is about material the user supplies, which the expert reads best; so is a question that
    piles up an expert's vocabulary ("what are struct, trait and impl in rust?").
    """
    if best is None:
        return None
    pm = best.profile
    if pm is not None and strong_profile(pm):
        return f"it reads like {best.score.name}'s training prompts ({pm.similarity:.2f})"
    if best.keyword_count == 0:
        return None
    if best.keyword_count >= STRONG_KEYWORDS:
        return f"{best.keyword_count} keywords of {best.score.name} matched"
    marker = artifact_marker(tokens, prompt)
    # "why do programmers say Rust is 'memory safe'?": a quoted phrase a why-question asks
    # about is a claim to explain, not material to work on; and "why does `let y = x;` fail"
    # asks for reasons about the code it shows, which no expert that writes code gives
    if marker is not None and (opener != "why" or marker in _POINTERS):
        return f"it is about supplied material ({marker!r})"
    asked = code_request(tokens)
    if asked is not None:
        return f"it asks for code ({asked!r})"
    name = snake_case_name(tokens)
    return None if name is None else f"it is about supplied material ({name!r})"


def _generic_reason(opener: str, best: Ranked | None) -> str:
    reason = f"generic question ('{opener} ...'): the bare base model answers"
    if best is not None:
        reason += (
            f"; {best.score.name} ({best.score.score:g}) lacks strong evidence "
            f"(needs {STRONG_KEYWORDS} keywords, or 1 with 'this'/'my'/code/':')"
        )
    return reason


def _evidence_summary(s: ExpertScore) -> str:
    parts = []
    if s.keyword_hits:
        parts.append("keywords " + ", ".join(s.keyword_hits))
    if s.phrase_hits:
        parts.append("phrases " + ", ".join(s.phrase_hits))
    if s.capability_hits:
        parts.append("capabilities " + ", ".join(s.capability_hits))
    return "; ".join(parts) or "no direct evidence"


def _win_reason(ranked: list[Ranked]) -> str:
    best = ranked[0]
    reason = f"{best.score.name} scored {best.score.score:g} ({_evidence_summary(best.score)})"
    if len(ranked) > 1 and ranked[1].score.score > 0:
        nxt = ranked[1]
        reason += f", ahead of {nxt.score.name} ({nxt.score.score:g})"
        if nxt.score.score == best.score.score:
            reason += f"; tie broken by {_tie_breaker(best, nxt)}"
    return reason


def _tie_breaker(a: Ranked, b: Ranked) -> str:
    if a.priority != b.priority:
        return "higher priority"
    if a.specificity != b.specificity:
        return "more specific matches"
    return "name and version order"


def _no_match_reason(ranked: list[Ranked], min_score: float) -> str:
    if ranked and ranked[0].score.score > 0:
        top = ranked[0].score
        return (
            f"no expert matched: best was {top.name} at {top.score:g}, "
            f"below the threshold {min_score:g}"
        )
    return "no expert matched"
