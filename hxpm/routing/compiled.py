"""Candidates compiled for the router: every keyword, alias, word form, capability value
and exclusion of every candidate in one index keyed by its first token (private to
:mod:`hxpm.routing`; :class:`hxpm.routing.router.Router` builds it once).

Weights (docs/routing.md, "The score"): a keyword is worth 1.0, +0.5 per extra word of a
phrase, at most 2.0; a capability value 0.5; an exclusion −2.0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from hxpm.routing.aliases import (
    ALIASES,
    CLASSIFICATION_WORDS,
    SENTENCE_TYPE_WORDS,
    aliases_of,
    synonyms_of,
    tech_capability_values,
)
from hxpm.routing.decision import DEFAULT_PRIORITY, ExpertScore, RouteCandidate
from hxpm.routing.fields import schema_fields
from hxpm.routing.labels import CLASSIFY_TASK, SENTENCE_TYPE_TASK
from hxpm.routing.requests import claims_editing, claims_translating, claims_writing
from hxpm.routing.shapes import LANGUAGES_WITH_SHAPES
from hxpm.routing.text import STOPWORDS, Tokens, is_word, keyword_forms, tokenize, word_count
from hxpm.routing.variants import Misspellings, variant_forms

WORD_WEIGHT = 1.0
PHRASE_EXTRA_WORD = 0.5  # a phrase is more specific than a word: "group by" is worth 1.5
MAX_KEYWORD_WEIGHT = 2.0  # ...but a long phrase cannot outweigh two independent keywords
CAPABILITY_WEIGHT = 0.5  # capabilities are declared, not chosen for routing: weaker evidence
EXCLUDE_PENALTY = 2.0  # outweighs two plain keywords: the publisher said "not me"

KEYWORD, EXCLUDE, CAPABILITY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Spec:
    """One thing in a candidate that a prompt can hit: a keyword, an exclusion or a
    capability value (shared by every capability with that value: tech:sql, query:sql)."""

    cand: int
    kind: int
    display: str
    weight: float
    words: int
    tokens: Tokens  # the keyword's own tokens: a hit in another form is an inflection
    capabilities: tuple[str, ...] = ()
    via: str = ""  # "alias 'postgres'": how a hit on these tokens reads in --explain


@dataclass(frozen=True, slots=True)
class Compiled:
    candidate: RouteCandidate
    priority: float
    rank: int  # position in the static order (name, newest version, content) for last ties
    notes: tuple[str, ...]  # reasons known before any prompt, e.g. ignored keywords
    zero: ExpertScore  # the score when nothing is hit, built once
    edits: bool = False  # its keywords or capabilities say it edits text (requests.py)
    writes: bool = False  # ...or that it writes text
    # its `language:` capability values that are also its keywords ("sql"): what it writes
    languages: frozenset[str] = frozenset()
    # ...and every one-word keyword: a language it lists is one it answers in ("java")
    covers: frozenset[str] = frozenset()
    translates: bool = False  # its keywords or capabilities say it translates (requests.py)
    schema: frozenset[str] = frozenset()  # the fields of the one object it writes (fields.py)


@dataclass(slots=True)
class Builder:
    specs: list[Spec] = field(default_factory=list)
    # technology name -> spec ids of its keyword, for word forms ("python3", "jsonify")
    tech: dict[str, list[int]] = field(default_factory=dict)
    # query language -> spec ids its shapes hit ("MATCH" -> expert-cypher's 'cypher')
    shapes: dict[str, list[int]] = field(default_factory=dict)
    # technology names of 5+ letters -> spec ids a misspelling of them hits ("pyhton")
    typos: Misspellings = field(default_factory=Misspellings)
    # task -> spec ids a request for it hits: "label this text by type" the classification
    # keyword, "is 'Close the gate.' a command?" the sentence-type one (labels.py)
    requests: dict[str, list[int]] = field(default_factory=dict)
    # first token -> (spec id, token form, glue pattern); one dict probe per prompt token.
    index: dict[str, list[tuple[int, tuple[str, ...], tuple[bool, ...]]]] = field(
        default_factory=dict
    )
    # (candidate, words) -> its first spec id, and its first keyword's; each candidate's
    # words: lookups that scanning every expert's specs made quadratic in the experts.
    first_spec: dict[tuple[int, tuple[str, ...]], int] = field(default_factory=dict)
    first_keyword: dict[tuple[int, tuple[str, ...]], int] = field(default_factory=dict)
    words_of: dict[int, set[tuple[str, ...]]] = field(default_factory=dict)

    def append(self, spec: Spec) -> int:
        """Add ``spec`` without indexing its forms (the router finds it another way)."""
        sid = len(self.specs)
        self.specs.append(spec)
        key = (spec.cand, spec.tokens.words)
        self.first_spec.setdefault(key, sid)
        if spec.kind == KEYWORD:
            self.first_keyword.setdefault(key, sid)
        self.words_of.setdefault(spec.cand, set()).add(spec.tokens.words)
        return sid

    def add(
        self,
        spec: Spec,
        tokens: Tokens,
        seen: set[tuple[tuple[str, ...], tuple[bool, ...]]] | None = None,
    ) -> None:
        """Index every form of ``tokens`` not in ``seen``; with "table" and "tables" both
        listed, the prompt word "tables" must count once, not twice."""
        sid = self.append(spec)
        own = [(form, tokens.glued) for form in keyword_forms(tokens)]
        self._index_forms(sid, own if seen is not None else [*own, *variant_forms(tokens)], seen)

    def add_variants(self, sid: int, seen: set[tuple[tuple[str, ...], tuple[bool, ...]]]) -> None:
        """Other spellings of a keyword ("row" for "rows", "type of doc" for "document
        type"), after every keyword's own forms, so that a listed keyword keeps its hits."""
        self._index_forms(sid, variant_forms(self.specs[sid].tokens), seen)

    def _index_forms(
        self,
        sid: int,
        forms: Iterable[tuple[tuple[str, ...], tuple[bool, ...]]],
        seen: set[tuple[tuple[str, ...], tuple[bool, ...]]] | None,
    ) -> None:
        for form, glued in forms:
            if seen is not None:
                if (form, glued) in seen:
                    continue
                seen.add((form, glued))
            self.index.setdefault(form[0], []).append((sid, form, glued))


def check_min_score(value: float) -> float:
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


def static_ranks(cands: list[RouteCandidate]) -> list[int]:
    """Last-resort order: name, then newest version, then full content; independent of the
    order the caller passed the candidates in."""
    order = sorted(range(len(cands)), key=lambda i: repr(cands[i]))
    order.sort(key=lambda i: _version_key(str(cands[i].version)), reverse=True)
    order.sort(key=lambda i: str(cands[i].name))
    ranks = [0] * len(cands)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return ranks


def compile_candidate(i: int, cand: RouteCandidate, rank: int, builder: Builder) -> Compiled:
    notes: list[str] = []
    excludes = _strings(cand.exclude_keywords)
    capabilities = _strings(cand.capabilities)
    tech = tech_capability_values(capabilities)
    blocked = {tokenize(x).words for x in excludes}
    _compile_keywords(i, KEYWORD, _strings(cand.keywords), builder, notes)
    _compile_aliases(i, _strings(cand.keywords), tech, blocked, builder)
    # Capabilities before exclusions so that reasons read: evidence for, then against.
    _compile_capabilities(i, capabilities, builder)
    _compile_keywords(i, EXCLUDE, excludes, builder, notes)
    priority = _clamp_priority(cand.priority)
    zero_reasons = (*notes, "no keyword or capability matched")
    zero = ExpertScore(str(cand.name), str(cand.version), 0.0, (), (), (), (), zero_reasons)
    values = tuple(c.partition(":")[2] for c in capabilities)
    edits = claims_editing(_strings(cand.keywords), values)
    writes = claims_writing(_strings(cand.keywords), values)
    languages = _languages(capabilities, _strings(cand.keywords))
    covers = languages | {k.strip().lower() for k in _strings(cand.keywords)}
    translates = claims_translating(_strings(cand.keywords), values)
    schema = schema_fields(str(cand.description))
    return Compiled(
        cand,
        priority,
        rank,
        tuple(notes),
        zero,
        edits,
        writes,
        languages,
        covers,
        translates,
        schema,
    )


def _languages(capabilities: tuple[str, ...], keywords: tuple[str, ...]) -> frozenset[str]:
    """ "language:sql" with the keyword "sql": the expert writes SQL. A natural language
    ("language:en") is not a keyword, so it is not one."""
    own = {k.strip().lower() for k in keywords}
    values = set()
    for cap in capabilities:
        ns, _, value = cap.partition(":")
        if ns.strip().lower() in ("language", "lang") and value.strip().lower() in own:
            values.add(value.strip().lower())
    return frozenset(values)


def _compile_keywords(
    i: int, kind: int, keywords: tuple[str, ...], builder: Builder, notes: list[str]
) -> None:
    seen: set[tuple[tuple[str, ...], tuple[bool, ...]]] = set()
    added: list[int] = []
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
            if kind == KEYWORD
            else EXCLUDE_PENALTY
        )
        added.append(len(builder.specs))
        builder.add(Spec(i, kind, kw, weight, n, tokens), tokens, seen)
    for sid in added:
        builder.add_variants(sid, seen)


def _compile_aliases(
    i: int,
    keywords: tuple[str, ...],
    tech: frozenset[str],
    blocked: set[tuple[str, ...]],
    builder: Builder,
) -> None:
    """Aliases, task synonyms, word forms and language shapes of each one-word keyword. An
    alias the manifest excludes, or already lists as a keyword, adds nothing."""
    own = set(builder.words_of.get(i, ()))
    shaped: set[str] = set()
    for kw in keywords:
        tokens = tokenize(kw)
        if len(tokens.words) > 1 and not _unusable(tokens):
            _compile_phrase_synonyms(i, kw, tokens, own, blocked, builder)
            sid = builder.first_spec.get((i, tokens.words))
            if sid is not None:
                _compile_request(i, kw, " ".join(tokens.words), builder.specs[sid].weight, builder)
        if len(tokens.words) != 1 or _unusable(tokens):
            continue
        name = tokens.words[0]
        sid = builder.first_spec.get((i, (name,)))
        if sid is None:
            continue  # a second spelling of a keyword already compiled
        if name in tech or aliases_of(name):
            builder.tech.setdefault(name, []).append(sid)
            _compile_typo(i, kw, name, builder.specs[sid].weight, builder)
        weight = builder.specs[sid].weight
        for kind, alias in [
            *(("alias", a) for a in aliases_of(name)),
            *(("synonym", w) for w in synonyms_of(name)),
        ]:
            at = tokenize(alias)
            if at.words in own or at.words in blocked:
                continue
            own.add(at.words)
            spec = Spec(i, KEYWORD, kw, weight, 1, at, via=f"{kind} {alias!r}")
            if kind == "alias" and len(at.words) == 1:  # "sqlite3": a form of "sqlite"
                builder.tech.setdefault(at.words[0], []).append(len(builder.specs))
            builder.add(spec, at)
        _compile_shapes(i, kw, name, weight, shaped, builder)
        _compile_request(i, kw, name, weight, builder)


def _compile_request(i: int, kw: str, name: str, weight: float, builder: Builder) -> None:
    """A keyword that names a task ("classify", "sentence type") is hit by a request for the
    task in other words; once per expert and task."""
    if name in CLASSIFICATION_WORDS:
        task = CLASSIFY_TASK
    elif name in SENTENCE_TYPE_WORDS:
        task = SENTENCE_TYPE_TASK
    else:
        return
    asked = builder.requests.setdefault(task, [])
    if not any(builder.specs[r].cand == i for r in asked):
        # Not indexed by tokens: the router hits it when a request for the task is found.
        asked.append(builder.append(Spec(i, KEYWORD, kw, weight, 1, _NO_TOKENS, via="request")))


_NO_TOKENS = Tokens(("",), (False,))


def _compile_phrase_synonyms(
    i: int,
    kw: str,
    tokens: Tokens,
    own: set[tuple[str, ...]],
    blocked: set[tuple[str, ...]],
    builder: Builder,
) -> None:
    """ "sentence type" is also hit by "declarative", "statement or a question"
    (aliases.TASK_SYNONYMS), as a one-word keyword is by its synonyms."""
    sid = builder.first_keyword.get((i, tokens.words))
    if sid is None:
        return
    for synonym in synonyms_of(" ".join(tokens.words)):
        at = tokenize(synonym)
        if at.words in own or at.words in blocked:
            continue
        own.add(at.words)
        spec = Spec(i, KEYWORD, kw, builder.specs[sid].weight, 1, at, via=f"synonym {synonym!r}")
        builder.add(spec, at)


def _compile_typo(i: int, kw: str, name: str, weight: float, builder: Builder) -> None:
    """A technology name is also hit by a prompt word one slip away from it ("pyhton");
    not indexed by tokens: the router asks ``builder.typos`` about words no keyword took."""
    before = len(builder.typos.names.get(name, ()))
    builder.typos.add(name, len(builder.specs))
    if len(builder.typos.names.get(name, ())) > before:
        builder.append(Spec(i, KEYWORD, kw, weight, 1, Tokens(("",), (False,)), via="typo"))


def _compile_shapes(
    i: int, kw: str, name: str, weight: float, shaped: set[str], builder: Builder
) -> None:
    """A keyword naming a query language (or one of its aliases) is also hit by that
    language's shapes ("MATCH" in capitals); once per candidate and language."""
    for lang in sorted(LANGUAGES_WITH_SHAPES):  # sorted: spec ids in a stable order
        names_it = name == lang or name in ALIASES[lang] or lang in aliases_of(name)
        if lang in shaped or not names_it:
            continue
        shaped.add(lang)
        # Not indexed by tokens: the router hits it when shapes.language_shapes finds lang.
        spec = Spec(i, KEYWORD, kw, weight, 1, Tokens(("",), (False,)), via="shape")
        builder.shapes.setdefault(lang, []).append(builder.append(spec))


def _unusable(tokens: Tokens) -> str | None:
    if not any(is_word(w) for w in tokens.words):
        return "no letters or digits"
    if len(tokens.words) == 1 and tokens.words[0] in STOPWORDS:
        return "too common a word to route on"
    return None


def _compile_capabilities(i: int, capabilities: tuple[str, ...], builder: Builder) -> None:
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
            Spec(i, CAPABILITY, value, CAPABILITY_WEIGHT, word_count(tokens), tokens, tuple(caps)),
            tokens,
        )
