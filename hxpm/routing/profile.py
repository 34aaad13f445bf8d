"""Routing profiles: what an expert's own training prompts look like, as a few KB of JSON.

A profile is built at ``hxpm package`` time from the prompts of the expert's training set and
shipped in the package as ``routing_profile.json``. It keeps, for up to :data:`MAX_TERMS`
terms (stemmed content words and pairs of neighbouring content words), the fraction of
training prompts that contain the term. At route time each prompt term is weighed by how much
more often the expert's prompts use it than general prompts do (the "none" class:
``generic_prompts.txt``, shipped with hxpm): a log-ratio, positive for the expert's own
vocabulary, negative for general vocabulary the expert never saw, zero for words neither has
seen. The profile's similarity is the mean of those weights over the prompt's terms.

Plain Python, deterministic (sorted keys, rounded numbers), no I/O except reading the
bundled generic prompts once.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from hxpm.core.strictjson import JsonError, read_json
from hxpm.routing.text import STOPWORDS, is_word, tokenize

SCHEMA = "hxpm.routing-profile/1"
MEMBER = "routing_profile.json"
MAX_BYTES = 64 * 1024  # a reader refuses bigger profiles; built ones are a few KB
MAX_TERMS = 256
MIN_PROMPTS = 20  # fewer prompts than this say too little to profile on
MAX_PROMPTS = 20_000  # a build reads at most this many prompts (deterministic: the first ones)
SMOOTHING = 0.01  # added to both frequencies: a term seen nowhere weighs log(1) = 0
SUMMARY_TERMS = 24  # terms an index line summarises a profile with (search --prompt)
MIN_DENOMINATOR = 3  # a one-word prompt must not weigh as much as a whole sentence
_MAX_TERM_CHARS = 64
_GENERIC_FILE = "generic_prompts.txt"
# Extra words that say nothing about the task ("x", "me", "give"...) on top of STOPWORDS.
_FILLER = frozenset(
    ["me", "give", "get", "make", "write", "show", "tell", "some", "any", "all", "every", "one"]
)


class ProfileError(ValueError):
    """A routing profile that does not have the documented shape."""


@dataclass(frozen=True, slots=True)
class Profile:
    """A parsed profile: term -> fraction of the expert's training prompts that contain it."""

    prompts: int
    terms: dict[str, float]

    def top_terms(self, n: int = 8) -> tuple[str, ...]:
        """The most characteristic single-word terms, for summaries and ``--explain``."""
        bg = background()
        words = [t for t in self.terms if " " not in t]
        words.sort(key=lambda t: (-term_weight(self.terms[t], bg.get(t, 0.0)), t))
        return tuple(words[:n])


def stem_word(word: str) -> str:
    # Plural/third-person -s only: enough to make "customers" meet "customer"; anything more
    # aggressive merges unrelated words ("news" -> "new" is already the worst case kept out).
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ws")):
        return word[:-1]
    return word


def prompt_terms(text: str) -> tuple[str, ...]:
    """Distinct terms of ``text`` in order: content words (stemmed) and neighbour pairs."""
    words = [
        stem_word(w)
        for w in tokenize(text).words
        if is_word(w) and len(w) > 1 and not w.isdigit() and w not in STOPWORDS
    ]
    words = [w[:_MAX_TERM_CHARS] for w in words if w not in _FILLER]
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(words)]
    return tuple(dict.fromkeys([*words, *pairs]))


def term_weight(expert_freq: float, generic_freq: float) -> float:
    """How much a term says "this expert" (> 0) or "a general prompt" (< 0)."""
    return math.log((expert_freq + SMOOTHING) / (generic_freq + SMOOTHING))


def _frequencies(prompts: Iterable[str]) -> tuple[int, dict[str, float]]:
    counts: Counter[str] = Counter()
    n = 0
    for prompt in prompts:
        n += 1
        counts.update(prompt_terms(prompt))
    return n, {t: c / n for t, c in counts.items()} if n else {}


def _bundled_generic_lines() -> list[str]:
    # Next to this module in every install hxpm supports (importlib.resources would cost
    # `hxpm route` more start-up than the routing itself); the resources API as a fallback.
    bundled = Path(__file__).with_name(_GENERIC_FILE)
    if bundled.is_file():
        text = bundled.read_text(encoding="utf-8")
    else:
        from importlib import resources

        text = resources.files("hxpm.routing").joinpath(_GENERIC_FILE).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def generic_prompts() -> tuple[str, ...]:
    """The general prompts shipped with hxpm (the router's "none" class)."""
    return tuple(_bundled_generic_lines())


@lru_cache(maxsize=1)
def background() -> dict[str, float]:
    """Term frequencies of the generic prompts (computed once per process, ~2 ms)."""
    return _frequencies(_bundled_generic_lines())[1]


def build_profile(prompts: Iterable[str]) -> Profile | None:
    """The profile of an expert's training prompts, or None when there are too few."""
    limited = [p for _, p in zip(range(MAX_PROMPTS), prompts, strict=False) if isinstance(p, str)]
    n, freqs = _frequencies(limited)
    if n < MIN_PROMPTS:
        return None
    bg = background()
    min_freq = 2 / n  # a term in one prompt only is noise (a name, a number)
    kept = [
        (t, f) for t, f in freqs.items() if f >= min_freq and term_weight(f, bg.get(t, 0.0)) > 0
    ]
    # Most useful first: frequent in the expert's prompts and rare in general ones.
    kept.sort(key=lambda tf: (-tf[1] * term_weight(tf[1], bg.get(tf[0], 0.0)), tf[0]))
    return Profile(n, {t: round(f, 4) for t, f in kept[:MAX_TERMS]})


def summary_terms(profile: Profile, n: int = SUMMARY_TERMS) -> tuple[tuple[str, float], ...]:
    """The ``n`` most useful terms with their frequencies, in the order the build ranks them
    (frequent in the expert's prompts and rare in general ones): what an index line carries
    so that ``hxpm search --prompt`` can score an expert that is not installed."""
    bg = background()
    ranked = sorted(
        profile.terms.items(),
        key=lambda tf: (-tf[1] * term_weight(tf[1], bg.get(tf[0], 0.0)), tf[0]),
    )
    return tuple(ranked[:n])


def profile_bytes(profile: Profile) -> bytes:
    """Canonical JSON: the same prompts always give the same bytes."""
    doc = {"schema": SCHEMA, "prompts": profile.prompts, "terms": profile.terms}
    text = json.dumps(doc, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return (text + "\n").encode("ascii")


def parse_profile(data: bytes, *, verified: bool = False) -> Profile:
    """Read and check a ``routing_profile.json``.

    ``verified``: the bytes are an installed file whose digest the store checked when the
    package was installed (after this same function read the member strictly). Route start-up
    reads up to hundreds of them, so Python's own parser reads them (NaN and Infinity are
    still refused) and the shape is still checked.

    Raises:
        ProfileError: not strict JSON, too large, or not the documented shape (says which).
    """
    try:
        doc = _fast_json(data) if verified else read_json(data, max_bytes=MAX_BYTES, max_depth=4)
    except (JsonError, ValueError, RecursionError) as exc:
        raise ProfileError(f"not valid JSON ({exc}); at most {MAX_BYTES} bytes") from None
    if not isinstance(doc, dict):
        raise ProfileError(f"expected a JSON object, got {type(doc).__name__}")
    if doc.get("schema") != SCHEMA:
        raise ProfileError(f"schema: expected {SCHEMA!r}, got {doc.get('schema')!r}")
    extra = sorted(set(doc) - {"schema", "prompts", "terms"})
    if extra:
        raise ProfileError(f"unexpected key(s) {', '.join(extra)}; expected schema, prompts, terms")
    prompts = doc.get("prompts")
    if isinstance(prompts, bool) or not isinstance(prompts, int) or prompts < 1:
        raise ProfileError(f"prompts: expected a positive integer, got {prompts!r}")
    return Profile(prompts, _check_terms(doc.get("terms")))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _fast_json(data: bytes) -> Any:
    if len(data) > MAX_BYTES:
        raise ValueError(f"{len(data)} bytes")
    return json.loads(data, parse_constant=_refuse_constant)


def _check_terms(terms: Any) -> dict[str, float]:
    if not isinstance(terms, dict):
        raise ProfileError(f"terms: expected an object, got {type(terms).__name__}")
    if len(terms) > MAX_TERMS:
        raise ProfileError(f"terms: {len(terms)} entries, at most {MAX_TERMS} allowed")
    values = list(terms.values())
    if (
        {type(v) for v in values} <= {float, int}
        and (not values or (min(values) > 0 and max(values) <= 1))
        and all(t and len(t) <= 2 * _MAX_TERM_CHARS + 1 and t == t.strip() for t in terms)
    ):
        return {t: float(v) for t, v in terms.items()}  # the common case, in bulk
    checked: dict[str, float] = {}  # find the first bad entry, to name it
    for term, freq in terms.items():
        if not term or len(term) > 2 * _MAX_TERM_CHARS + 1 or term != term.strip():
            raise ProfileError(f"terms: key {term!r} is not a term")
        if isinstance(freq, bool) or not isinstance(freq, (int, float)) or not 0 < freq <= 1:
            raise ProfileError(f"terms[{term!r}]: expected a number in (0, 1], got {freq!r}")
        checked[term] = float(freq)
    return checked
