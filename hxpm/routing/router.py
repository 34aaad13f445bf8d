"""Keyword router: which installed expert (if any) should answer a prompt (docs/architecture.md §9).

Scoring, per candidate (docs/routing.md has the full story):

    evidence = Σ keyword weights (1.0 a word, +0.5 per extra word of a phrase, at most 2.0)
             + 0.5 per distinct capability value mentioned − 2.0 per exclude keyword hit
    score    = max(0, evidence) × (0.5 + priority)

The best score ≥ ``min_score`` wins, unless the prompt is a generic question ("what is …")
without strong evidence, in which case the bare base answers, and the intent model may
still hand a weakly backed decision to the base. Pure functions, no I/O; plain Python only
so that ``hxpm route`` never imports torch.

The parts: :mod:`hxpm.routing.decision` (the values in and out), :mod:`~hxpm.routing.compiled`
(candidates compiled into one token index), :mod:`~hxpm.routing.scoring` (one candidate's
evidence, the profile's included), :mod:`~hxpm.routing.decide` (the decision and its
reason), :mod:`~hxpm.routing.veto` (the intent model's veto); this module walks the prompt
once and calls them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hxpm.routing.aliases import base_of_word_form, has_everyday_sense
from hxpm.routing.artifacts import (
    DATA_FORMATS,
    asks_for_artifact,
    asks_for_code,
    asks_for_data,
    asks_for_prose_only,
    format_is_output,
    output_formats,
)
from hxpm.routing.code_questions import closing_language, code_to_write
from hxpm.routing.compiled import (
    KEYWORD,
    Builder,
    Compiled,
    check_min_score,
    compile_candidate,
    static_ranks,
)
from hxpm.routing.decide import decide
from hxpm.routing.decision import (
    DEFAULT_MIN_SCORE,
    SCHEMA,
    ExpertScore,
    RouteCandidate,
    RouteDecision,
)
from hxpm.routing.fields import asked_fields
from hxpm.routing.identifiers import IDENTIFIER_QUERY
from hxpm.routing.intent import about_request
from hxpm.routing.labels import (
    CLASSIFY_TASK,
    classified_object,
    label_question,
    labelling_request,
)
from hxpm.routing.languages import (
    named_as_language,
    programming_languages,
    target_language,
    translation_request,
    uses_code_words,
)
from hxpm.routing.markers import (
    QUOTED_WORDS,
    capitals_marker,
    code_marker,
    material_marker,
    word_marker_only,
)
from hxpm.routing.profile_index import ProfileIndex, ProfileMatch
from hxpm.routing.reasons import reported_error
from hxpm.routing.requests import (
    conversion_request,
    editing_request,
    request_frame,
    writing_request,
)
from hxpm.routing.scoring import (
    Ranked,
    score_hits,
    score_profile_only,
)
from hxpm.routing.senses import cued_senses, maths_cue
from hxpm.routing.shapes import language_shapes
from hxpm.routing.task_fit import Context
from hxpm.routing.text import (
    Tokens,
    is_question,
    matches_at,
    suffix_blocks,
    tokenize,
)
from hxpm.routing.veto import intent_veto, masked_words

__all__ = [
    "DEFAULT_MIN_SCORE",
    "SCHEMA",
    "ExpertScore",
    "RouteCandidate",
    "RouteDecision",
    "Router",
    "route",
]


class Router:
    """Candidates compiled once; :meth:`route` is then a single pass over the prompt tokens."""

    __slots__ = (
        "_by_name",
        "_compiled",
        "_index",
        "_masked",
        "_profiles",
        "_requests",
        "_shapes",
        "_specs",
        "_tech",
        "_typos",
        "min_score",
    )

    def __init__(
        self, candidates: Iterable[RouteCandidate], *, min_score: float = DEFAULT_MIN_SCORE
    ) -> None:
        self.min_score = check_min_score(min_score)
        cands = list(candidates)
        ranks = static_ranks(cands)
        builder = Builder()
        self._compiled = tuple(
            compile_candidate(i, c, ranks[i], builder) for i, c in enumerate(cands)
        )
        self._specs = tuple(builder.specs)
        self._index = builder.index
        self._tech = builder.tech
        self._shapes = builder.shapes
        self._typos = builder.typos
        self._requests = {task: tuple(ids) for task, ids in builder.requests.items()}
        self._profiles = ProfileIndex([c.profile for c in cands])
        self._by_name: dict[str, Compiled] = {}
        for c in self._compiled:
            self._by_name.setdefault(str(c.candidate.name), c)
        self._masked: frozenset[str] | None = None  # computed when the veto first needs it

    @property
    def candidates(self) -> tuple[RouteCandidate, ...]:
        return tuple(c.candidate for c in self._compiled)

    def route(self, prompt: str) -> RouteDecision:
        if not isinstance(prompt, str):
            raise TypeError(f"prompt: expected a string, got {type(prompt).__name__}")
        tokens = tokenize(prompt)
        profiles = self._profiles.match(prompt) if self._profiles else {}
        shapes = language_shapes(tokens, prompt)  # a language's statement is code too
        marker = code_marker(tokens, prompt)
        code = bool(shapes) or marker is not None
        quoted_only = not shapes and marker == QUOTED_WORDS
        word_code = not shapes and word_marker_only(tokens, marker)
        technical = code or capitals_marker(prompt) is not None
        programming = programming_languages(tokens, code)
        if shapes.get("sql", "").startswith(IDENTIFIER_QUERY) and programming.keys() - {"sql"}:
            del shapes["sql"]  # "pandas: drop the rows of df where wind_speed is missing"
        hits = self._hits(tokens)
        self._shape_hits(shapes, hits)
        requested = self._request_hits(tokens, prompt, hits)
        before_code, heading = named_as_language(tokens)
        conversion = conversion_request(tokens)
        # "convert this postgres query to cypher": a conversion's target names its language
        target = frozenset(conversion.target.split()[:1]) if conversion is not None else frozenset()
        named = before_code | heading | target
        closing = closing_language(tokens.words)  # "... Python 3 please"
        if closing is not None:
            named |= {closing}
        if uses_code_words(tokens):  # "python celsius to kelvin func": the language is meant
            named |= frozenset(programming_languages(tokens, True).values())
        languages = {
            **programming,
            **self._named_languages(hits, code, named),
            **output_formats(tokens),
        }
        # A language named by its place ("pythn fn to dedupe a list") or by a name with no
        # everyday sense ("use numpy to compute the mean of array x") makes it technical.
        technical = technical or any(
            w in before_code or not has_everyday_sense(w) for w in languages.values()
        )
        artifact = asks_for_artifact(tokens)
        ctx = Context(
            technical,
            code,
            editing_request(tokens),
            writing_request(tokens),
            conversion,
            material_marker(tokens, prompt) is not None,
            languages,
            translation_request(tokens),
            is_question(tokens),
            about_request(tokens, bool(shapes), is_question(tokens)),
            frozenset(f for f in DATA_FORMATS if format_is_output(tokens, f)),
            target_language(tokens, languages),
            named,
            asks_for_data(tokens),
            classified_object(tokens),
            quoted_only,
            word_code,
            request_frame(tokens, bool(shapes)),
            cued_senses(tokens),
            None if languages or artifact else maths_cue(tokens),
            artifact,
            asked_fields(tokens),
            artifact and asks_for_prose_only(tokens),
            None if asks_for_code(tokens) or code_to_write(tokens) else reported_error(tokens),
        )
        ranked = self._rank(hits, profiles, ctx)
        decision = decide(prompt, tokens, ranked, self.min_score)
        return intent_veto(
            decision, tokens, ctx, bool(shapes), requested, self._by_name, self._masked_words
        )

    def _masked_words(self) -> frozenset[str]:
        if self._masked is None:
            self._masked = masked_words(self._compiled)
        return self._masked

    def _rank(
        self,
        hits: dict[int, tuple[str, ...]],
        profiles: dict[int, ProfileMatch],
        ctx: Context,
    ) -> list[Ranked]:
        by_cand: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
        for sid, form in sorted(hits.items()):
            by_cand.setdefault(self._specs[sid].cand, []).append((sid, form))
        shared: dict[int, tuple[float, tuple[str, ...]]] = {}
        ranked = [
            score_hits(c, [(self._specs[s], f) for s, f in by_cand[i]], profiles.get(i), ctx)
            if i in by_cand
            else score_profile_only(c, profiles[i], shared, ctx)
            if i in profiles
            else Ranked(c.zero, c.priority, (0, 0, 0), c.rank, 0)
            for i, c in enumerate(self._compiled)
        ]
        ranked.sort(key=Ranked.key)
        return ranked

    def _hits(self, tokens: Tokens) -> dict[int, tuple[str, ...]]:
        """Spec id -> the token form that hit it first (each spec counts once)."""
        hits: dict[int, tuple[str, ...]] = {}
        index = self._index
        for i, tok in enumerate(tokens.words):
            entries = index.get(tok)
            if entries is None:
                self._word_form_hits(tokens, i, hits)
                self._typo_hits(tok, hits)
                continue
            for sid, form, glued in entries:
                if sid not in hits and matches_at(tokens, i, form, glued):
                    hits[sid] = form
        return hits

    def _named_languages(
        self, hits: dict[int, tuple[str, ...]], code: bool, by_place: frozenset[str]
    ) -> dict[str, str]:
        """Language -> how the prompt names it ("pandas"): a hit on a keyword that is one of
        its expert's `language:` capabilities, by the name, an alias, a shape or a misspelling;
        a lone everyday word ("python") only when the prompt shows code or data or the word's
        place names a language ("rust: ...", "pythn fn ...")."""
        named: dict[str, str] = {}
        for sid, form in hits.items():
            spec = self._specs[sid]
            languages = self._compiled[spec.cand].languages
            if spec.kind != KEYWORD or not languages:
                continue
            name = spec.display.strip().lower()
            word = name if spec.via == "typo" else form[0]
            if name in languages and (code or form[0] in by_place or not has_everyday_sense(word)):
                named.setdefault(name, form[0])
        return named

    def _shape_hits(self, shapes: dict[str, str], hits: dict[int, tuple[str, ...]]) -> None:
        """ "MATCH" in capitals hits every keyword that names Cypher (shapes.py says which)."""
        for lang, shape in shapes.items():
            for sid in self._shapes.get(lang, ()):
                hits.setdefault(sid, (shape,))

    def _request_hits(self, tokens: Tokens, prompt: str, hits: dict[int, tuple[str, ...]]) -> bool:
        """ "label this text by type" hits every expert's classification keyword; "is 'Close
        the gate.' a command?" every sentence-type keyword (labels.py). Whether one did."""
        if not self._requests:
            return False
        found = labelling_request(tokens)
        task = CLASSIFY_TASK
        if found is None:
            asked = label_question(prompt)
            if asked is None:
                return False
            task, found = asked[0], ("is", asked[1])
        for sid in self._requests.get(task, ()):
            hits.setdefault(sid, found)
        return True

    def _typo_hits(self, tok: str, hits: dict[int, tuple[str, ...]]) -> None:
        """ "pyhton" hits the keyword 'python' (variants.py says which slips count)."""
        if not self._typos:
            return
        found = self._typos.lookup(tok)
        if found is None:
            return
        for sid in self._typos.names[found[0]]:
            hits.setdefault(sid, (tok, found[1]))

    def _word_form_hits(self, tokens: Tokens, i: int, hits: dict[int, tuple[str, ...]]) -> None:
        """ "python3" / "jsonify" hit a technology name's keyword (aliases.py says which)."""
        if not self._tech:
            return
        tok = tokens.words[i]
        found = base_of_word_form(tok)
        if found is None:
            return
        for sid in self._tech.get(found[0], ()):
            if sid not in hits and not suffix_blocks(tokens, i + 1, tok):
                hits[sid] = (tok,)


def route(
    prompt: str, candidates: Sequence[RouteCandidate], *, min_score: float = DEFAULT_MIN_SCORE
) -> RouteDecision:
    """Route one prompt. For many prompts over the same candidates, build a :class:`Router`."""
    return Router(candidates, min_score=min_score).route(prompt)
