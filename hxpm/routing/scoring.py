"""One candidate's score for one prompt: the keyword, capability and exclusion hits plus
the training-prompt profile's evidence, with one reason per piece (docs/routing.md).

    evidence = Σ keyword weights + Σ capability weights − Σ exclusion penalties
             + clamp(profile similarity − PROFILE_OFFSET, −PROFILE_CAP, +PROFILE_CAP)
    score    = max(0, evidence) × (0.5 + priority)

except that (docs/routing.md, "Everyday senses", "Technical prompts", "Editing requests"):

- a lone technology word in its everyday sense ("rust" on a bike chain) counts
  EVERYDAY_FACTOR of its weight, without the profile's positive evidence for that word alone;
- in a technical prompt the profile speaks against a specific keyword by TECHNICAL_FLOOR at
  most;
- in an editing request, hits that only name the edited text count 0 for an expert that
  does not edit, and so does the profile's positive evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

from hxpm.routing.aliases import ALIASES, EVERYDAY_TASK_WORDS, has_everyday_sense
from hxpm.routing.compiled import CAPABILITY, EXCLUDE, KEYWORD, Compiled, Spec
from hxpm.routing.decision import ExpertScore
from hxpm.routing.labels import BY_TEXT_ALONE
from hxpm.routing.profile import prompt_terms
from hxpm.routing.profile_index import ProfileMatch
from hxpm.routing.requests import TEXT_WORDS
from hxpm.routing.senses import CUED_ONLY
from hxpm.routing.task_fit import (
    EVERYDAY_BACKING,
    GRAMMAR_WORDS,
    QUESTION_BACKING,
    Context,
    foreign_object,
    not_its_task,
    word_of,
)
from hxpm.routing.variants import singular_of

# Profile similarity (mean log-ratio per prompt term, see profile.py) becomes evidence: x1.0,
# capped both ways so that it can outweigh one stray keyword ("... in two sentences") but
# never a publisher's exclusion plus two keywords.
PROFILE_WEIGHT = 1.0
PROFILE_CAP = 2.5
PROFILE_OFFSET = 0.75  # similarity at which the profile is neutral (calibrated, docs/routing.md)
# A lone keyword in its everyday sense ("a table for two") counts this much of its weight.
EVERYDAY_FACTOR = 0.2
# In a technical prompt a specific keyword (not an everyday word) is not a stray one: the
# profile may still speak against it, by at most half a keyword, so that one such keyword
# at the default priority stays at the threshold (docs/routing.md, "Technical prompts").
TECHNICAL_FLOOR = 0.5
STRONG_PROFILE = 2.0  # a question this close to the training prompts is the expert's


# Task words whose training prompts are everyday sentences ("the report is due today"): the
# profile of a sentence-type expert knows the words of any sentence, so it cannot back them.
_UNBACKED_TASK_WORDS = frozenset(["imperative", "declarative"])

# Every marker on, no request: what a prompt with code and nothing else shows.
_NO_CONTEXT = Context()


@dataclass(frozen=True, slots=True)
class Ranked:
    score: ExpertScore
    priority: float
    specificity: tuple[int, int, int]  # phrase hits, words in hits, characters in hits
    rank: int
    keyword_count: int  # distinct keywords and phrases hit
    profile: ProfileMatch | None = None

    def key(self) -> tuple[float, float, int, int, int, int]:
        p, w, c = self.specificity
        return (-self.score.score, -self.priority, -p, -w, -c, self.rank)


def _render(form: tuple[str, ...], glued: tuple[bool, ...]) -> str:
    if len(form) != len(glued):  # a reworded phrase ("type of doc"): words apart
        return " ".join(form)
    return "".join(
        t if g or k == 0 else " " + t for k, (t, g) in enumerate(zip(form, glued, strict=True))
    )


def score_hits(
    c: Compiled,
    hits: list[tuple[Spec, tuple[str, ...]]],
    pm: ProfileMatch | None = None,
    ctx: Context = _NO_CONTEXT,
) -> Ranked:
    """Without ``ctx.technical`` a lone everyday-sense keyword the profile does not back
    counts EVERYDAY_FACTOR of itself; in an editing request, hits that only name the edited
    text count 0 for an expert that does not edit (docs/routing.md)."""
    # "classify these knots: bowline, ...": material handed over, but not a text to classify
    material = ctx.material and ctx.classified is None
    # ...and a non-text object says so even in a prompt with code; quoted words are no code
    # for this ("her relationship with the agency was 'complicated'")
    plain = not ctx.code or ctx.quoted_only or ctx.classified is not None
    if ctx.word_code and _cued_hit(hits, ctx.cued):
        plain = True  # "Monty Python scripts": a cue outweighs a lone programming word
    if _cued_hit(hits, ctx.cued, idioms_only=True):
        plain = True  # "on graph paper, 1 square = 30cm": an idiom outweighs any symbol
    if ctx.writing and c.writes:
        plain = False  # "write a sentence using 'serendipity'": the text is its task
    if ctx.quoted_only and ctx.material and _text_hit(hits) and not ctx.cued:
        plain = False  # "is this sentence a question: 'Has it arrived'": the quoted text
    backing = QUESTION_BACKING if ctx.plain_question() else EVERYDAY_BACKING
    everyday = _lone_everyday_word(hits, pm, material, ctx.cued, backing) if plain else None
    if everyday is not None and any(_names_language(c, sp, f, ctx) for sp, f in hits):
        everyday = None  # "rust: grams to moles": a heading names the language
    edited = not_its_task(c, hits, ctx) or foreign_object(c, hits, pm)
    kw: list[str] = []
    ph: list[str] = []
    ex: list[str] = []
    caps: list[str] = []
    reasons = list(c.notes)
    evidence = 0.0
    chars = words = 0
    for spec, form in hits:
        as_ = _as(spec, form)
        if spec.kind == KEYWORD and spec.display in kw:
            continue  # "postgres" and "sql" are one keyword, however many aliases hit
        if spec.kind == KEYWORD:
            label = "phrase" if spec.words > 1 else "keyword"
            (ph if spec.words > 1 else kw).append(spec.display)
            cue = ctx.cued.get(singular_of(everyday) or everyday) if everyday else None
            weight, why = _keyword_weight(spec, form, everyday, edited, cue)
            reasons.append(f"matched {label} {spec.display!r}{as_} (+{weight:.1f}{why})")
            evidence += weight
            words += spec.words
            chars += len(spec.display)
        elif spec.kind == CAPABILITY:
            caps.extend(spec.capabilities)
            named = ", ".join(repr(x) for x in spec.capabilities)
            weight = spec.weight * (EVERYDAY_FACTOR if everyday is not None else 1.0)
            weight = 0.0 if edited else weight
            reasons.append(f"mentions {spec.display!r}{as_}: capability {named} (+{weight:.2g})")
            evidence += weight
        else:
            ex.append(spec.display)
            reasons.append(f"excluded by {spec.display!r}{as_} (-{spec.weight:.1f})")
            evidence -= spec.weight
    discount = _discount(everyday, edited) or _unbacked_question(hits, pm, ctx)
    profile_evidence = _adjusted_profile(pm, reasons, hits, ctx, discount)
    evidence += profile_evidence
    lists = (kw, ph, ex, caps)
    return _finish(c, evidence, lists, reasons, (len(ph), words, chars), pm, profile_evidence)


def strong_profile(pm: ProfileMatch | None) -> bool:
    """The prompt reads like the expert's training prompts: similarity STRONG_PROFILE with
    at least two prompt terms the profile favours."""
    return pm is not None and pm.direct_similarity >= STRONG_PROFILE and pm.positive >= 2


def _unbacked_question(
    hits: list[tuple[Spec, tuple[str, ...]]], pm: ProfileMatch | None, ctx: Context
) -> str | None:
    """A question no keyword hit, with no code or data in it ("what colour shoes go with a
    red t-shirt?") and asking for nothing written out, asks for advice, not for the expert's
    task, unless it reads like the expert's training prompts (the generic-question bar,
    docs/routing.md)."""
    if hits or not ctx.question or ctx.code or ctx.data or strong_profile(pm):
        return None
    return (
        "profile counted as 0: a question that names none of this expert's keywords "
        f"needs similarity >= {STRONG_PROFILE:g} over 2 favoured terms"
    )


def _discount(everyday: str | None, edited: str | None) -> str | None:
    """Why the profile may not back this expert's hits, or None."""
    if everyday is not None:
        return f"profile backs only {everyday!r} itself: counted as 0"
    if edited is not None:
        return f"profile counted as 0: {edited} is not this expert's task"
    return None


def _as(spec: Spec, form: tuple[str, ...]) -> str:
    """How a hit in another form reads in --explain: " as alias 'postgres'"."""
    if spec.via == "shape":
        return f" through {form[0]}"  # "through the clause 'MATCH'"
    if spec.via == "request":
        return f" through {form[1]}"  # "through the request 'label ... by type'"
    if spec.via == "typo":
        return f" as the misspelling {form[0]!r} ({form[1]})"
    as_ = "" if form == spec.tokens.words else f" as {_render(form, spec.tokens.glued)!r}"
    if spec.via:
        as_ = f" as {spec.via}" + (as_.replace(" as ", " (", 1) + ")" if as_ else "")
    return as_


def _keyword_weight(
    spec: Spec, form: tuple[str, ...], everyday: str | None, edited: str | None, cue: str | None
) -> tuple[float, str]:
    if edited is not None:
        return 0.0, f": it names {edited}"
    if everyday is not None and word_of(spec, form) == (everyday,):
        why = f": {everyday!r} has an everyday sense and nothing else is technical"
        if cue is not None:
            why = f": {everyday!r} in its everyday sense, as {cue!r} shows"
        return round(spec.weight * EVERYDAY_FACTOR, 3), why
    return spec.weight, ""


def _adjusted_profile(
    pm: ProfileMatch | None,
    reasons: list[str],
    hits: list[tuple[Spec, tuple[str, ...]]],
    ctx: Context,
    discount: str | None,
) -> float:
    """The profile's evidence, with the two exceptions of docs/routing.md: it does not back
    a discounted hit (an everyday sense, an editing request's text), and in a technical
    prompt (or for a task word with its material handed over) it cannot speak against a
    specific keyword by more than TECHNICAL_FLOOR."""
    value = _profile_evidence(pm, reasons)
    if discount is not None and value > 0:
        # The profile knows the word itself and nothing else: that is the same evidence.
        reasons.append(discount)
        return 0.0
    if value < -TECHNICAL_FLOOR and discount is None:
        specific = _specific_keyword(hits, ctx.code) if ctx.technical else None
        why = f"{specific} in a technical prompt"
        if specific is None and ctx.material and ctx.classified is None:
            task = _task_verb(hits)  # "categorise this: Mulled wine for twelve ..."
            why = f"the task word {task} with the material handed over"
            specific = task
        if specific is not None:
            reasons.append(f"profile counted as {-TECHNICAL_FLOOR:+.2f}: {why}")
            return -TECHNICAL_FLOOR
    return value


def _task_verb(hits: list[tuple[Spec, tuple[str, ...]]]) -> str | None:
    """A task word hit ("classify") in a prompt that hands over its material: the material
    is what the task works on, so its words cannot speak against the task by much."""
    for spec, form in hits:
        if spec.kind == KEYWORD and len(form) == 1 and form[0] in EVERYDAY_TASK_WORDS:
            return repr(form[0])
        if spec.kind == KEYWORD and spec.via == "request" and BY_TEXT_ALONE not in form[1]:
            return form[1]  # "sort this into one of our doc categories: Food delivery ..."
    return None


def _specific_keyword(hits: list[tuple[Spec, tuple[str, ...]]], code: bool) -> str | None:
    """The first keyword hit, as the prompt wrote it, that is not a lone word with an
    everyday sense ("pandas", "table"; a shape, "pythonic" or a phrase is specific) unless
    the prompt shows code or data (a name in capitals alone is not enough: "my BOSS")."""
    for spec, form in hits:
        if spec.kind != KEYWORD:
            continue
        if not code and len(form) == 1 and has_everyday_sense(form[0]):
            continue
        if spec.via == "typo":
            return repr(form[0])
        if spec.via == "request":
            return form[1]
        return form[0] if spec.via == "shape" else repr(_render(form, spec.tokens.glued))
    return None


def score_profile_only(
    c: Compiled,
    pm: ProfileMatch,
    shared: dict[int, tuple[float, tuple[str, ...]]],
    ctx: Context = _NO_CONTEXT,
) -> Ranked:
    """A candidate no keyword hit: only its profile speaks. Most of 300 candidates share one
    "knows none of the prompt's terms" match, so its reasons are formatted once per prompt."""
    known = shared.get(id(pm))
    if known is None:
        reasons: list[str] = []
        evidence = _profile_evidence(pm, reasons)
        if evidence > 0:
            return score_hits(c, [], pm, ctx)
        reasons.append(f"evidence {evidence:g} <= 0: score 0")
        known = shared[id(pm)] = (evidence, tuple(reasons))
    evidence, tail = known
    if evidence > 0:
        return score_hits(c, [], pm, ctx)
    cand = c.candidate
    es = ExpertScore(
        str(cand.name), str(cand.version), 0.0, (), (), (), (), c.notes + tail, pm, evidence
    )
    return Ranked(es, c.priority, (0, 0, 0), c.rank, 0, pm)


def _lone_everyday_word(
    hits: list[tuple[Spec, tuple[str, ...]]],
    pm: ProfileMatch | None,
    material: bool,
    cued: dict[str, str],
    backing: float = EVERYDAY_BACKING,
) -> str | None:
    """The word of the only positive hit when it may be meant in its everyday sense: one
    word is all that hit this expert (as keyword and capability alike), and the profile
    recognises nothing else in the prompt ("rust" alone does not make a prompt Rust) or
    another word shows the everyday sense ("graph" with "bar", senses.py)."""
    positive = [(spec, form) for spec, form in hits if spec.kind != EXCLUDE]
    forms = {_task_or_word(spec, form) for spec, form in positive}
    if len(forms) != 1:
        return None
    form = word_of(*positive[0])
    if len(form) != 1 or not has_everyday_sense(form[0], material=material):
        return None
    if form[0] in _UNBACKED_TASK_WORDS:
        return form[0]  # with no material handed over, nothing the profile knows makes it a task
    if (singular_of(form[0]) or form[0]) in cued or form[0] in cued:
        return form[0]
    if form[0] in CUED_ONLY:
        return None  # "cypher for contestants who ...": a cipher only when a cue says so
    stem = (*prompt_terms(form[0]), form[0])[0]  # the profile's spelling of the word
    if pm is not None and pm.similarity_without(stem, GRAMMAR_WORDS) > backing:
        return None
    return form[0]


def _cued_hit(
    hits: list[tuple[Spec, tuple[str, ...]]], cued: dict[str, str], idioms_only: bool = False
) -> bool:
    """A hit on a word whose everyday sense a cue shows; with ``idioms_only``, an idiom
    (senses._IDIOMS: "graph paper", "in a row"), the only cues of more than one word."""
    cues = [cued.get(singular_of(f[0]) or f[0]) for s, f in hits if s.kind != EXCLUDE]
    return any(c is not None and (" " in c or not idioms_only) for c in cues)


def _names_language(c: Compiled, spec: Spec, form: tuple[str, ...], ctx: Context) -> bool:
    """The hit stands where a language's name goes ("rust: ...", "pythn fn"), unless it is
    no language's name and a cue shows its everyday sense ("Diagramming a sentence: ...")."""
    if form[0] not in ctx.named:
        return False
    word = word_of(spec, form)[0]
    return word in c.languages or word in ALIASES or (singular_of(word) or word) not in ctx.cued


def _text_hit(hits: list[tuple[Spec, tuple[str, ...]]]) -> bool:
    """A hit on a word that names a text ("sentence"), which quoted words then are."""
    return any(len(f) == 1 and f[0] in TEXT_WORDS for s, f in hits if s.kind != EXCLUDE)


def _task_or_word(spec: Spec, form: tuple[str, ...]) -> tuple[str, ...]:
    """Task words for one keyword are one word ("declarative or imperative" names the
    sentence type once, "classify ... categories" the classification task): what makes a
    hit lone."""
    word = word_of(spec, form)
    if len(word) != 1 or not (spec.via == "" or spec.via.startswith("synonym")):
        return word
    if word[0] in EVERYDAY_TASK_WORDS or (singular_of(word[0]) or "") in EVERYDAY_TASK_WORDS:
        return ("synonym of", spec.display)  # "classify ... categories": one task word
    return word


def _profile_evidence(pm: ProfileMatch | None, reasons: list[str]) -> float:
    if pm is None:
        return 0.0
    shifted = pm.similarity - PROFILE_OFFSET
    value = round(PROFILE_WEIGHT * max(-PROFILE_CAP, min(PROFILE_CAP, shifted)), 3)
    known = ", ".join(repr(t) for t in pm.matched) or "none of its terms"
    classes = f", {pm.by_class:+.2f} of it by word class" if pm.by_class else ""
    reasons.append(
        f"training-prompt profile: similarity {pm.similarity:.2f}{classes} over {pm.terms} "
        f"term(s), known {known} ({value:+.2f})"
    )
    return value


def _finish(
    c: Compiled,
    evidence: float,
    lists: tuple[list[str], ...],
    reasons: list[str],
    specificity: tuple[int, int, int],
    pm: ProfileMatch | None = None,
    profile_evidence: float = 0.0,
) -> Ranked:
    factor = 0.5 + c.priority
    if evidence <= 0:
        reasons.append(f"evidence {evidence:g} <= 0: score 0")
        score = 0.0
    else:
        reasons.append(f"evidence {evidence:g} x {factor:g} (priority {c.priority:g})")
        score = round(evidence * factor, 6)
    kw, ph, ex, caps = (tuple(x) for x in lists)
    cand = c.candidate
    es = ExpertScore(
        str(cand.name),
        str(cand.version),
        score,
        kw,
        ph,
        ex,
        caps,
        tuple(reasons),
        pm,
        profile_evidence,
    )
    return Ranked(es, c.priority, specificity, c.rank, len(kw) + len(ph), pm)
