"""Keyword router: which installed expert (if any) should answer a prompt (docs/architecture.md §9).

Scoring, per candidate (docs/routing.md has the full story):

    evidence = Σ keyword weights (1.0 a word, +0.5 per extra word of a phrase, at most 2.0)
             + 0.5 per distinct capability value mentioned − 2.0 per exclude keyword hit
    score    = max(0, evidence) × (0.5 + priority)

The best score ≥ ``min_score`` wins, unless the prompt is a generic question ("what is …")
without strong evidence, in which case the bare base answers. Pure functions, no I/O; plain
Python only so that ``hxpm route`` never imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hxpm.routing.text import (
    STOPWORDS,
    Tokens,
    artifact_marker,
    generic_opener,
    is_word,
    keyword_forms,
    matches_at,
    tokenize,
    word_count,
)

SCHEMA = "hxpm.route/1"
DEFAULT_MIN_SCORE = 0.5  # one keyword at priority 0, or one capability at the default priority
DEFAULT_PRIORITY = 0.5
WORD_WEIGHT = 1.0
PHRASE_EXTRA_WORD = 0.5  # a phrase is more specific than a word: "group by" is worth 1.5
MAX_KEYWORD_WEIGHT = 2.0  # ...but a long phrase cannot outweigh two independent keywords
CAPABILITY_WEIGHT = 0.5  # capabilities are declared, not chosen for routing: weaker evidence
EXCLUDE_PENALTY = 2.0  # outweighs two plain keywords: the publisher said "not me"
STRONG_KEYWORDS = 3  # distinct keyword hits that make a generic question the expert's anyway

_KEYWORD, _EXCLUDE, _CAPABILITY = 0, 1, 2


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "score": self.score,
            "keyword_hits": list(self.keyword_hits),
            "phrase_hits": list(self.phrase_hits),
            "excluded_by": list(self.excluded_by),
            "capability_hits": list(self.capability_hits),
            "reasons": list(self.reasons),
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


# --- compiled form ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spec:
    """One thing in a candidate that a prompt can hit: a keyword, an exclusion or a
    capability value (shared by every capability with that value: tech:sql, query:sql)."""

    cand: int
    kind: int
    display: str
    weight: float
    words: int
    tokens: Tokens  # the keyword's own tokens: a hit in another form is an inflection
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Compiled:
    candidate: RouteCandidate
    priority: float
    rank: int  # position in the static order (name, newest version, content) for last ties
    notes: tuple[str, ...]  # reasons known before any prompt, e.g. ignored keywords
    zero: ExpertScore  # the score when nothing is hit, built once


@dataclass(frozen=True, slots=True)
class _Ranked:
    score: ExpertScore
    priority: float
    specificity: tuple[int, int, int]  # phrase hits, words in hits, characters in hits
    rank: int
    keyword_count: int  # distinct keywords and phrases hit

    def key(self) -> tuple[float, float, int, int, int, int]:
        p, w, c = self.specificity
        return (-self.score.score, -self.priority, -p, -w, -c, self.rank)


@dataclass(slots=True)
class _Builder:
    specs: list[_Spec] = field(default_factory=list)
    # first token -> (spec id, token form, glue pattern); one dict probe per prompt token.
    index: dict[str, list[tuple[int, tuple[str, ...], tuple[bool, ...]]]] = field(
        default_factory=dict
    )

    def add(
        self,
        spec: _Spec,
        tokens: Tokens,
        seen: set[tuple[tuple[str, ...], tuple[bool, ...]]] | None = None,
    ) -> None:
        """Index every form of ``tokens`` not in ``seen``; with "table" and "tables" both
        listed, the prompt word "tables" must count once, not twice."""
        sid = len(self.specs)
        self.specs.append(spec)
        for form in keyword_forms(tokens):
            if seen is not None:
                if (form, tokens.glued) in seen:
                    continue
                seen.add((form, tokens.glued))
            self.index.setdefault(form[0], []).append((sid, form, tokens.glued))


class Router:
    """Candidates compiled once; :meth:`route` is then a single pass over the prompt tokens."""

    __slots__ = ("_compiled", "_index", "_specs", "min_score")

    def __init__(
        self, candidates: Iterable[RouteCandidate], *, min_score: float = DEFAULT_MIN_SCORE
    ) -> None:
        self.min_score = _check_min_score(min_score)
        cands = list(candidates)
        ranks = _static_ranks(cands)
        builder = _Builder()
        self._compiled = tuple(_compile(i, c, ranks[i], builder) for i, c in enumerate(cands))
        self._specs = tuple(builder.specs)
        self._index = builder.index

    @property
    def candidates(self) -> tuple[RouteCandidate, ...]:
        return tuple(c.candidate for c in self._compiled)

    def route(self, prompt: str) -> RouteDecision:
        if not isinstance(prompt, str):
            raise TypeError(f"prompt: expected a string, got {type(prompt).__name__}")
        tokens = tokenize(prompt)
        ranked = self._rank(tokens)
        return _decide(prompt, tokens, ranked, self.min_score)

    def _rank(self, tokens: Tokens) -> list[_Ranked]:
        by_cand: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
        for sid, form in sorted(self._hits(tokens).items()):
            by_cand.setdefault(self._specs[sid].cand, []).append((sid, form))
        ranked = [
            _score(c, [(self._specs[s], f) for s, f in by_cand[i]])
            if i in by_cand
            else _Ranked(c.zero, c.priority, (0, 0, 0), c.rank, 0)
            for i, c in enumerate(self._compiled)
        ]
        ranked.sort(key=_Ranked.key)
        return ranked

    def _hits(self, tokens: Tokens) -> dict[int, tuple[str, ...]]:
        """Spec id -> the token form that hit it first (each spec counts once)."""
        hits: dict[int, tuple[str, ...]] = {}
        index = self._index
        for i, tok in enumerate(tokens.words):
            entries = index.get(tok)
            if entries is None:
                continue
            for sid, form, glued in entries:
                if sid not in hits and matches_at(tokens, i, form, glued):
                    hits[sid] = form
        return hits


def route(
    prompt: str, candidates: Sequence[RouteCandidate], *, min_score: float = DEFAULT_MIN_SCORE
) -> RouteDecision:
    """Route one prompt. For many prompts over the same candidates, build a :class:`Router`."""
    return Router(candidates, min_score=min_score).route(prompt)


# --- compiling candidates ---------------------------------------------------------------------


def _check_min_score(value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"min_score: expected a finite number >= 0, got {value!r}")
    return float(value)


def _clamp_priority(value: object) -> float:
    # Manifests are validated elsewhere; the router still must not crash or go negative.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return DEFAULT_PRIORITY
    return min(1.0, max(0.0, float(value)))


def _strings(values: object) -> tuple[str, ...]:
    # A bare string where a tuple belongs would otherwise be read one character at a time.
    if isinstance(values, str):
        return (values,)
    if isinstance(values, Iterable):
        return tuple(v for v in values if isinstance(v, str))
    return ()


def _version_key(version: str) -> tuple[tuple[int, ...], bool, str]:
    core, _, pre = version.partition("+")[0].partition("-")
    nums = tuple(int(p) if p.isdigit() else -1 for p in core.split("."))
    return (nums, not pre, pre)


def _static_ranks(cands: list[RouteCandidate]) -> list[int]:
    """Last-resort order: name, then newest version, then full content; independent of the
    order the caller passed the candidates in."""
    order = sorted(range(len(cands)), key=lambda i: repr(cands[i]))
    order.sort(key=lambda i: _version_key(str(cands[i].version)), reverse=True)
    order.sort(key=lambda i: str(cands[i].name))
    ranks = [0] * len(cands)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return ranks


def _compile(i: int, cand: RouteCandidate, rank: int, builder: _Builder) -> _Compiled:
    notes: list[str] = []
    _compile_keywords(i, _KEYWORD, _strings(cand.keywords), builder, notes)
    # Capabilities before exclusions so that reasons read: evidence for, then against.
    _compile_capabilities(i, _strings(cand.capabilities), builder)
    _compile_keywords(i, _EXCLUDE, _strings(cand.exclude_keywords), builder, notes)
    priority = _clamp_priority(cand.priority)
    zero_reasons = (*notes, "no keyword or capability matched")
    zero = ExpertScore(str(cand.name), str(cand.version), 0.0, (), (), (), (), zero_reasons)
    return _Compiled(cand, priority, rank, tuple(notes), zero)


def _compile_keywords(
    i: int, kind: int, keywords: tuple[str, ...], builder: _Builder, notes: list[str]
) -> None:
    seen: set[tuple[tuple[str, ...], tuple[bool, ...]]] = set()
    for kw in keywords:
        tokens = tokenize(kw)
        problem = _unusable(tokens)
        if problem:
            notes.append(f"ignored keyword {kw!r} ({problem})")
            continue
        if (tokens.words, tokens.glued) in seen:
            continue  # "SQL" and "sql" (or "tables" after "table") are one keyword
        n = word_count(tokens)
        weight = (
            min(MAX_KEYWORD_WEIGHT, WORD_WEIGHT + PHRASE_EXTRA_WORD * (n - 1))
            if kind == _KEYWORD
            else EXCLUDE_PENALTY
        )
        builder.add(_Spec(i, kind, kw, weight, n, tokens), tokens, seen)


def _unusable(tokens: Tokens) -> str | None:
    if not any(is_word(w) for w in tokens.words):
        return "no letters or digits"
    if len(tokens.words) == 1 and tokens.words[0] in STOPWORDS:
        return "too common a word to route on"
    return None


def _compile_capabilities(i: int, capabilities: tuple[str, ...], builder: _Builder) -> None:
    """One spec per distinct value: tech:sql and query:sql are the same evidence ("sql")."""
    groups: dict[tuple[tuple[str, ...], tuple[bool, ...]], tuple[str, Tokens, list[str]]] = {}
    for cap in capabilities:
        value = (cap.partition(":")[2] if ":" in cap else cap).replace("_", " ")
        tokens = tokenize(value)
        if _unusable(tokens):
            continue
        key = (tokens.words, tokens.glued)
        groups.setdefault(key, (value.strip(), tokens, []))[2].append(cap)
    for value, tokens, caps in groups.values():
        builder.add(
            _Spec(
                i, _CAPABILITY, value, CAPABILITY_WEIGHT, word_count(tokens), tokens, tuple(caps)
            ),
            tokens,
        )


# --- scoring ----------------------------------------------------------------------------------


def _render(form: tuple[str, ...], glued: tuple[bool, ...]) -> str:
    return "".join(
        t if g or k == 0 else " " + t for k, (t, g) in enumerate(zip(form, glued, strict=True))
    )


def _score(c: _Compiled, hits: list[tuple[_Spec, tuple[str, ...]]]) -> _Ranked:
    kw: list[str] = []
    ph: list[str] = []
    ex: list[str] = []
    caps: list[str] = []
    reasons = list(c.notes)
    evidence = 0.0
    chars = words = 0
    for spec, form in hits:
        as_ = "" if form == spec.tokens.words else f" as {_render(form, spec.tokens.glued)!r}"
        if spec.kind == _KEYWORD:
            label = "phrase" if spec.words > 1 else "keyword"
            (ph if spec.words > 1 else kw).append(spec.display)
            reasons.append(f"matched {label} {spec.display!r}{as_} (+{spec.weight:.1f})")
            evidence += spec.weight
            words += spec.words
            chars += len(spec.display)
        elif spec.kind == _CAPABILITY:
            caps.extend(spec.capabilities)
            named = ", ".join(repr(x) for x in spec.capabilities)
            reasons.append(
                f"mentions {spec.display!r}{as_}: capability {named} (+{spec.weight:.1f})"
            )
            evidence += spec.weight
        else:
            ex.append(spec.display)
            reasons.append(f"excluded by {spec.display!r}{as_} (-{spec.weight:.1f})")
            evidence -= spec.weight
    return _finish(c, evidence, (kw, ph, ex, caps), reasons, (len(ph), words, chars))


def _finish(
    c: _Compiled,
    evidence: float,
    lists: tuple[list[str], ...],
    reasons: list[str],
    specificity: tuple[int, int, int],
) -> _Ranked:
    factor = 0.5 + c.priority
    if evidence <= 0:
        reasons.append(f"evidence {evidence:g} <= 0: score 0")
        score = 0.0
    else:
        reasons.append(f"evidence {evidence:g} x {factor:g} (priority {c.priority:g})")
        score = round(evidence * factor, 6)
    kw, ph, ex, caps = (tuple(x) for x in lists)
    cand = c.candidate
    es = ExpertScore(str(cand.name), str(cand.version), score, kw, ph, ex, caps, tuple(reasons))
    return _Ranked(es, c.priority, specificity, c.rank, len(kw) + len(ph))


# --- deciding ---------------------------------------------------------------------------------


def _decide(prompt: str, tokens: Tokens, ranked: list[_Ranked], min_score: float) -> RouteDecision:
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
        override = _generic_override(best, tokens, prompt)
        if best is None or override is None:
            return decision(None, _generic_reason(opener, best), generic=True)
        return decision(
            best.score.name,
            f"generic question ('{opener} ...') but {override}; " + _win_reason(ranked),
        )
    if best is None:
        return decision(None, _no_match_reason(ranked, min_score))
    return decision(best.score.name, _win_reason(ranked))


def _generic_override(best: _Ranked | None, tokens: Tokens, prompt: str) -> str | None:
    """Why a generic-looking question still goes to ``best`` (None: it does not).

    "What is SQL?" is about a concept: the base answers. "Explain this cypher query: MATCH …"
    is about material the user supplies, which the expert reads best; so is a question that
    piles up an expert's vocabulary ("what are struct, trait and impl in rust?").
    """
    if best is None or best.keyword_count == 0:
        return None
    if best.keyword_count >= STRONG_KEYWORDS:
        return f"{best.keyword_count} keywords of {best.score.name} matched"
    marker = artifact_marker(tokens, prompt)
    if marker is not None:
        return f"it is about supplied material ({marker!r})"
    return None


def _generic_reason(opener: str, best: _Ranked | None) -> str:
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


def _win_reason(ranked: list[_Ranked]) -> str:
    best = ranked[0]
    reason = f"{best.score.name} scored {best.score.score:g} ({_evidence_summary(best.score)})"
    if len(ranked) > 1 and ranked[1].score.score > 0:
        nxt = ranked[1]
        reason += f", ahead of {nxt.score.name} ({nxt.score.score:g})"
        if nxt.score.score == best.score.score:
            reason += f"; tie broken by {_tie_breaker(best, nxt)}"
    return reason


def _tie_breaker(a: _Ranked, b: _Ranked) -> str:
    if a.priority != b.priority:
        return "higher priority"
    if a.specificity != b.specificity:
        return "more specific matches"
    return "name and version order"


def _no_match_reason(ranked: list[_Ranked], min_score: float) -> str:
    if ranked and ranked[0].score.score > 0:
        top = ranked[0].score
        return (
            f"no expert matched: best was {top.name} at {top.score:g}, "
            f"below the threshold {min_score:g}"
        )
    return "no expert matched"
