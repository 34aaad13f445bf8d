"""``routing.profile`` of an index line: a short summary of the expert's routing profile.

``hxpm publish`` copies the most characteristic terms of the package's
``routing_profile.json`` (term -> fraction of training prompts that contain it) into the
line, so that ``hxpm search --prompt`` can score experts that are not installed with the
router's own formula. Optional: a line without it is as valid as before, and older hxpm
versions keep it as an unknown field. Strict: an object with exactly ``prompts`` (an integer
>= 1) and ``terms`` (at most :data:`MAX_SUMMARY_TERMS` entries, each a term of 1 to
:data:`MAX_TERM_CHARS` printable characters with no outer whitespace, mapped to a number in
(0, 1]). Plain values, no I/O (docs/formats/index.md §4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hxpm.errors import IndexDataError

MAX_SUMMARY_TERMS = 32
MAX_TERM_CHARS = 129  # a profile term: a word of at most 64 characters, or a pair of them
MAX_PROMPTS = 1 << 40
SUMMARY_EXPECTATION = (
    f'an object {{"prompts": N, "terms": {{term: fraction}}}}: N an integer >= 1, at most '
    f"{MAX_SUMMARY_TERMS} terms of 1-{MAX_TERM_CHARS} printable characters, each fraction "
    "a number in (0, 1]"
)


@dataclass(frozen=True, slots=True)
class RoutingSummary:
    """What an index line says of an expert's training prompts (a profile's top terms)."""

    prompts: int
    terms: tuple[tuple[str, float], ...]  # in the order the line lists them

    def __post_init__(self) -> None:
        problem = _problem(self.prompts, dict(self.terms), len(self.terms))
        if problem is not None:
            raise IndexDataError(f"routing.profile: {problem}; expected {SUMMARY_EXPECTATION}")

    def to_dict(self) -> dict[str, Any]:
        return {"prompts": self.prompts, "terms": dict(self.terms)}


def parse_routing_summary(value: object) -> RoutingSummary:
    """Check a decoded ``routing.profile`` value.

    Raises:
        IndexDataError: not the documented shape; the message names the first problem.
    """
    if not isinstance(value, dict):
        raise IndexDataError(f"expected {SUMMARY_EXPECTATION}, got {type(value).__name__}")
    extra = sorted(str(k) for k in set(value) - {"prompts", "terms"})
    if extra:
        raise IndexDataError(f"unexpected key(s) {', '.join(extra)}: {SUMMARY_EXPECTATION}")
    terms = value.get("terms")
    if not isinstance(terms, dict):
        raise IndexDataError(f"terms: expected an object, got {type(terms).__name__}")
    problem = _problem(value.get("prompts"), terms, len(terms))
    if problem is not None:
        raise IndexDataError(problem)
    return RoutingSummary(value["prompts"], tuple((t, float(f)) for t, f in terms.items()))


def _problem(prompts: object, terms: Mapping[Any, Any], count: int) -> str | None:
    if isinstance(prompts, bool) or not isinstance(prompts, int) or not 1 <= prompts <= MAX_PROMPTS:
        return f"prompts: expected an integer >= 1, got {prompts!r:.40}"
    if count > MAX_SUMMARY_TERMS or len(terms) != count:
        return f"terms: {count} entries, at most {MAX_SUMMARY_TERMS} distinct ones allowed"
    for term, freq in terms.items():
        if (
            not isinstance(term, str)
            or not 0 < len(term) <= MAX_TERM_CHARS
            or term != term.strip()
            or not term.isprintable()
        ):
            return f"terms: key {term!r:.80} is not a term (1-{MAX_TERM_CHARS} printable chars)"
        if isinstance(freq, bool) or not isinstance(freq, (int, float)) or not 0 < freq <= 1:
            return f"terms[{term!r}]: expected a number in (0, 1], got {freq!r:.40}"
    return None
