"""Profiles of many candidates compiled into one inverted index: one pass per prompt.

For a prompt with terms ``T`` (``n = max(len(T), MIN_DENOMINATOR)``) a profiled candidate's
similarity is ``mean over T of weight(t)``, where ``weight(t)`` is :func:`term_weight` of the
candidate's frequency of ``t`` (0 when its profile lacks ``t``) against the generic prompts'.
Terms the profile lacks all weigh the same for every candidate, so their sum ``U`` is computed
once and each candidate only adds the difference its own terms make.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hxpm.routing.profile import MIN_DENOMINATOR, Profile, background, prompt_terms, term_weight
from hxpm.routing.word_classes import CLASS_DISCOUNT, MIN_KNOWN, word_classes

TOP_TERMS_SHOWN = 4
# Garment size codes, as profile terms (lower case): letter sizes from XS to 5XL, waist and
# leg lengths ("32w", "w32", "34l"). Single letters (S, M, L) are too common to read as sizes.
SIZE_CODE = re.compile(r"(?:[2-5]?x{1,3}[sl])|(?:[2-5]\d[wl])|(?:[wl][2-5]\d)|(?:\d\dw\d\dl)")


# Words that give a garment's size: "sz 6", "34 waist", "32 inseam".
_SIZE_WORDS = frozenset(["sz", "waist", "inseam"])


@dataclass(frozen=True, slots=True)
class ProfileMatch:
    similarity: float  # mean log-ratio over the prompt's terms: > 0 looks like the expert's data
    terms: int  # prompt terms considered
    matched: tuple[str, ...]  # the prompt terms the profile knows, strongest first (a few)
    positive: int  # how many prompt terms the profile knows and favours
    denominator: int = 1  # what the similarity's sum was divided by
    # (term, how much knowing it moved the sum), for every term the profile knows
    contributions: tuple[tuple[str, float], ...] = ()
    by_class: float = 0.0  # the part of the similarity that unseen class members gave

    @property
    def direct_similarity(self) -> float:
        """The similarity from the words the profile knows itself (no word classes)."""
        return self.similarity - self.by_class

    def similarity_without(self, stem: str, ignored: frozenset[str] = frozenset()) -> float:
        """The similarity had the profile not known ``stem`` nor the ``ignored`` words (nor
        pairs with them): whether the rest of the prompt reads like the expert's data."""
        own = sum(
            d for t, d in self.contributions if any(w == stem or w in ignored for w in t.split(" "))
        )
        return self.similarity - own / self.denominator


class ProfileIndex:
    __slots__ = ("_bg", "_classes", "_index", "_profiled")

    def __init__(self, profiles: Sequence[Profile | None]) -> None:
        self._bg = background() if any(p is not None for p in profiles) else {}
        self._profiled = tuple(i for i, p in enumerate(profiles) if p is not None)
        # term -> (candidate, frequency); weights are computed for a prompt's few terms only,
        # so that start-up with hundreds of profiles is a pass of dict inserts.
        self._index: dict[str, list[tuple[int, float]]] = {}
        index = self._index
        for i, p in enumerate(profiles):
            if p is None:
                continue
            for term, freq in p.terms.items():
                entries = index.get(term)
                if entries is None:
                    index[term] = [(i, freq)]
                else:
                    entries.append((i, freq))
        self._classes = _class_index(profiles)

    def __bool__(self) -> bool:
        return bool(self._profiled)

    def match(self, prompt: str) -> dict[int, ProfileMatch]:
        """Candidate index -> its profile match, for every candidate with a profile."""
        if not self._profiled:
            return {}
        terms = self._read_codes(prompt_terms(prompt))
        words = sum(1 for t in terms if " " not in t)
        n = max(words, MIN_DENOMINATOR)
        absent = {t: self._absent(t) for t in terms}
        unknown = sum(absent.values())
        found: dict[int, list[tuple[float, str]]] = {}
        by_class: set[tuple[int, str]] = set()  # (candidate, term) known through its class
        classes = word_classes() if self._classes else {}
        for t in terms:
            g = self._bg.get(t, 0.0)
            entries = self._index.get(t, ())
            for i, freq in entries:
                found.setdefault(i, []).append((term_weight(freq, g), t))
            members = self._classes.get(classes.get(t, ""), ())
            if members:
                direct = {i for i, _ in entries}
                for i, freq in members:
                    if i not in direct:  # "teal" for a profile that knows six other colours
                        found.setdefault(i, []).append((term_weight(freq, g), t))
                        by_class.add((i, t))
        out: dict[int, ProfileMatch] = {}
        empty = ProfileMatch(round(unknown / n, 6), len(terms), (), 0, n)
        for i in self._profiled:
            hits = found.get(i)
            if not hits:
                out[i] = empty
                continue
            deltas = tuple((t, w - absent[t]) for w, t in hits)
            total = unknown + sum(d for _, d in deltas)
            hits.sort(key=lambda wt: (-wt[0], wt[1]))
            shown = tuple(t for w, t in hits[:TOP_TERMS_SHOWN] if w > 0)
            # A class member is evidence, not a favoured term of its own: two of them must
            # not make a question about clothes read like the expert's training prompts.
            positive = sum(1 for w, t in hits if w > 0 and (i, t) not in by_class)
            via = sum(d for t, d in deltas if (i, t) in by_class) / n
            out[i] = ProfileMatch(
                round(total / n, 6), len(terms), shown, positive, n, deltas, round(via, 6)
            )
        return out

    def _read_codes(self, terms: tuple[str, ...]) -> tuple[str, ...]:
        """A size code no profile knows ("32w", "xl"), or a size word ("sz", "waist"), reads as
        the word "size", in pairs too: "beige chinos 32W" describes an item by its size."""
        if not any(SIZE_CODE.fullmatch(w) or w in _SIZE_WORDS for t in terms for w in t.split(" ")):
            return terms
        index = self._index

        def read(word: str) -> str:
            sized = SIZE_CODE.fullmatch(word) or word in _SIZE_WORDS  # "sz 6", "34 waist"
            return "size" if sized and word not in index else word

        return tuple(dict.fromkeys(" ".join(map(read, t.split(" "))) for t in terms))

    def _absent(self, term: str) -> float:
        """The weight of a prompt term a profile lacks: negative for a word general prompts
        use (it says "general request"), zero for a word neither has seen (a table name, a
        snippet), and zero for a missing pair of words (most pairs are new)."""
        if " " in term:
            return 0.0
        return term_weight(0.0, self._bg.get(term, 0.0))


def _class_index(profiles: Sequence[Profile | None]) -> dict[str, list[tuple[int, float]]]:
    """Class -> (candidate, frequency an unseen member counts with), for every profile that
    knows MIN_KNOWN members of the class: the mean frequency of those it knows, discounted."""
    classes = word_classes()
    out: dict[str, list[tuple[int, float]]] = {}
    for i, p in enumerate(profiles):
        if p is None:
            continue
        known: dict[str, list[float]] = {}
        for term, freq in p.terms.items():
            name = classes.get(term)
            if name is not None:
                known.setdefault(name, []).append(freq)
        for name, freqs in sorted(known.items()):
            if len(freqs) >= MIN_KNOWN:
                mean = sum(freqs) / len(freqs)
                out.setdefault(name, []).append((i, round(mean * CLASS_DISCOUNT, 6)))
    return out
