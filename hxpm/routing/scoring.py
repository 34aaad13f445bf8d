"""One candidate's score for one prompt: the keyword, capability and exclusion hits plus
the training-prompt profile's evidence, with one reason per piece (docs/routing.md).

    evidence = Σ keyword weights + Σ capability weights − Σ exclusion penalties
             + clamp(profile similarity − PROFILE_OFFSET, −PROFILE_CAP, +PROFILE_CAP)
    score    = max(0, evidence) × (0.5 + priority)

except that a lone technology word in its everyday sense ("rust" on a bike chain) counts
EVERYDAY_FACTOR of its weight, without the profile's positive evidence for that word alone
(docs/routing.md, "Everyday senses").
"""

from __future__ import annotations

from dataclasses import dataclass

from hxpm.routing.aliases import has_everyday_sense
from hxpm.routing.compiled import CAPABILITY, EXCLUDE, KEYWORD, Compiled, Spec
from hxpm.routing.decision import ExpertScore
from hxpm.routing.profile import prompt_terms
from hxpm.routing.profile_index import ProfileMatch

# Profile similarity (mean log-ratio per prompt term, see profile.py) becomes evidence: x1.0,
# capped both ways so that it can outweigh one stray keyword ("... in two sentences") but
# never a publisher's exclusion plus two keywords.
PROFILE_WEIGHT = 1.0
PROFILE_CAP = 2.5
PROFILE_OFFSET = 0.75  # similarity at which the profile is neutral (calibrated, docs/routing.md)
# A lone keyword in its everyday sense ("a table for two") counts this much of its weight.
EVERYDAY_FACTOR = 0.2
# ...unless the rest of the prompt leans this clearly toward the expert's training prompts
# (profile similarity without the word; 0 is "as much the expert's as general").
EVERYDAY_BACKING = 0.1


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
    return "".join(
        t if g or k == 0 else " " + t for k, (t, g) in enumerate(zip(form, glued, strict=True))
    )


def score_hits(
    c: Compiled,
    hits: list[tuple[Spec, tuple[str, ...]]],
    pm: ProfileMatch | None = None,
    technical: bool = True,
) -> Ranked:
    """``technical``: the prompt shows code or data (text.technical_marker); without it a
    lone everyday-sense keyword the profile does not back counts EVERYDAY_FACTOR of itself."""
    everyday = None if technical else _lone_everyday_word(hits, pm)
    kw: list[str] = []
    ph: list[str] = []
    ex: list[str] = []
    caps: list[str] = []
    reasons = list(c.notes)
    evidence = 0.0
    chars = words = 0
    for spec, form in hits:
        as_ = "" if form == spec.tokens.words else f" as {_render(form, spec.tokens.glued)!r}"
        if spec.via:
            as_ = f" as {spec.via}" + (as_.replace(" as ", " (", 1) + ")" if as_ else "")
        if spec.kind == KEYWORD and spec.display in kw:
            continue  # "postgres" and "sql" are one keyword, however many aliases hit
        if spec.kind == KEYWORD:
            label = "phrase" if spec.words > 1 else "keyword"
            (ph if spec.words > 1 else kw).append(spec.display)
            weight, why = spec.weight, ""
            if everyday is not None and form == (everyday,):
                weight = round(spec.weight * EVERYDAY_FACTOR, 3)
                why = f": {everyday!r} has an everyday sense and nothing else is technical"
            reasons.append(f"matched {label} {spec.display!r}{as_} (+{weight:.1f}{why})")
            evidence += weight
            words += spec.words
            chars += len(spec.display)
        elif spec.kind == CAPABILITY:
            caps.extend(spec.capabilities)
            named = ", ".join(repr(x) for x in spec.capabilities)
            weight = spec.weight * (EVERYDAY_FACTOR if everyday is not None else 1.0)
            reasons.append(f"mentions {spec.display!r}{as_}: capability {named} (+{weight:.2g})")
            evidence += weight
        else:
            ex.append(spec.display)
            reasons.append(f"excluded by {spec.display!r}{as_} (-{spec.weight:.1f})")
            evidence -= spec.weight
    profile_evidence = _profile_evidence(pm, reasons)
    if everyday is not None and profile_evidence > 0:
        # The profile knows the word itself and nothing else: that is the same evidence.
        reasons.append(f"profile backs only {everyday!r} itself: counted as 0")
        profile_evidence = 0.0
    evidence += profile_evidence
    lists = (kw, ph, ex, caps)
    return _finish(c, evidence, lists, reasons, (len(ph), words, chars), pm, profile_evidence)


def score_profile_only(
    c: Compiled, pm: ProfileMatch, shared: dict[int, tuple[float, tuple[str, ...]]]
) -> Ranked:
    """A candidate no keyword hit: only its profile speaks. Most of 300 candidates share one
    "knows none of the prompt's terms" match, so its reasons are formatted once per prompt."""
    known = shared.get(id(pm))
    if known is None:
        reasons: list[str] = []
        evidence = _profile_evidence(pm, reasons)
        if evidence > 0:
            return score_hits(c, [], pm)
        reasons.append(f"evidence {evidence:g} <= 0: score 0")
        known = shared[id(pm)] = (evidence, tuple(reasons))
    evidence, tail = known
    if evidence > 0:
        return score_hits(c, [], pm)
    cand = c.candidate
    es = ExpertScore(
        str(cand.name), str(cand.version), 0.0, (), (), (), (), c.notes + tail, pm, evidence
    )
    return Ranked(es, c.priority, (0, 0, 0), c.rank, 0, pm)


def _lone_everyday_word(
    hits: list[tuple[Spec, tuple[str, ...]]], pm: ProfileMatch | None
) -> str | None:
    """The word of the only positive hit when it may be meant in its everyday sense: one
    word is all that hit this expert (as keyword and capability alike), and the profile
    recognises nothing else in the prompt ("rust" alone does not make a prompt Rust)."""
    forms = {form for spec, form in hits if spec.kind != EXCLUDE}
    if len(forms) != 1:
        return None
    (form,) = forms
    if len(form) != 1 or not has_everyday_sense(form[0]):
        return None
    stem = (*prompt_terms(form[0]), form[0])[0]  # the profile's spelling of the word
    if pm is not None and pm.similarity_without(stem) > EVERYDAY_BACKING:
        return None
    return form[0]


def _profile_evidence(pm: ProfileMatch | None, reasons: list[str]) -> float:
    if pm is None:
        return 0.0
    shifted = pm.similarity - PROFILE_OFFSET
    value = round(PROFILE_WEIGHT * max(-PROFILE_CAP, min(PROFILE_CAP, shifted)), 3)
    known = ", ".join(repr(t) for t in pm.matched) or "none of its terms"
    reasons.append(
        f"training-prompt profile: similarity {pm.similarity:.2f} over {pm.terms} term(s), "
        f"known {known} ({value:+.2f})"
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
