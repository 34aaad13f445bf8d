"""Scoring a generated answer against the expected one (``evaluation.metric``).

Pure Python (no torch): ``hxpm eval`` checks the metric and the expected answers before it
loads a model. Each metric answers one question per item, true or false; a score is the
fraction of items answered true.

| metric | an item counts when |
|---|---|
| ``exact_match`` | output and expected are equal after stripping surrounding whitespace |
| ``json_valid`` | the output (stripped) parses as one JSON value |
| ``json_exact`` | the output parses as JSON equal to the expected JSON (types kept: 1 != true) |
| ``prefix_match`` | the output (leading whitespace stripped) starts with the stripped expected |
| ``regex`` | the stripped output fully matches ``evaluation.pattern`` |
| ``label`` | the first line, or the first word, of the output equals the expected label, |
|           | ignoring case, surrounding whitespace and trailing punctuation |

Two graded metrics give each item a value from 0 to 1 (the score is their mean):

* ``token_f1``: the harmonic mean of token precision and recall between output and expected,
  tokens being the lower-cased words after removing punctuation and the articles a/an/the
  (the SQuAD evaluation's normalisation; Rajpurkar et al., 2016).
* ``bleu``: sentence BLEU-4 on whitespace tokens: the geometric mean of the clipped 1- to
  4-gram precisions times the brevity penalty ``exp(1 - r/c)`` when the output is shorter
  (Papineni et al., 2002), each precision smoothed as ``(matches + 1) / (total + 1)`` for
  n > 1 (Lin & Och, 2004, "smoothing 1"), so one missing 4-gram does not zero a sentence.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

METRICS = (
    "exact_match",
    "json_valid",
    "json_exact",
    "prefix_match",
    "regex",
    "label",
    "token_f1",
    "bleu",
)
_PUNCTUATION = " \t.,;:!?\"'`"


def check_pattern(pattern: str) -> str | None:
    """None when ``pattern`` compiles, else the compiler's complaint."""
    try:
        re.compile(pattern)
    except re.error as e:
        return str(e)
    return None


def check_expected(metric: str, expected: str) -> str | None:
    """Why ``expected`` cannot be scored with ``metric`` (None: it can)."""
    if metric == "json_exact":
        ok, _ = _parse_json(expected)
        if not ok:
            return "the expected completion is not valid JSON, so json_exact cannot compare it"
    return None


def scorer(metric: str, *, pattern: str | None = None) -> Callable[[str, str], float]:
    """``score(output, expected) -> value in [0, 1]`` for ``metric`` (1/0 when pass/fail).

    Raises:
        ValueError: an unknown metric, or ``regex`` without a valid pattern (the recipe
            parser reports these with field names before this point).
    """
    if metric == "exact_match":
        return lambda out, exp: out.strip() == exp.strip()
    if metric == "json_valid":
        return lambda out, exp: _parse_json(out)[0]
    if metric == "json_exact":
        return _json_exact
    if metric == "prefix_match":
        return lambda out, exp: out.lstrip().startswith(exp.strip())
    if metric == "label":
        return _label
    if metric == "token_f1":
        return token_f1
    if metric == "bleu":
        return bleu
    if metric == "regex":
        if pattern is None or check_pattern(pattern) is not None:
            raise ValueError(f"the regex metric needs a valid pattern, got {pattern!r}")
        compiled = re.compile(pattern)
        return lambda out, exp: compiled.fullmatch(out.strip()) is not None
    raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")


def score(
    metric: str, outputs: Sequence[str], expected: Sequence[str], *, pattern: str | None = None
) -> tuple[float, tuple[float, ...]]:
    """The mean of the items' values, and each item's value (1.0/0.0 for pass/fail metrics)."""
    judge = scorer(metric, pattern=pattern)
    values = tuple(float(judge(o, e)) for o, e in zip(outputs, expected, strict=True))
    return (sum(values) / len(values) if values else 0.0), values


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = re.compile(r"[^\w\s]")


def _words(text: str) -> list[str]:
    return _ARTICLES.sub(" ", _PUNCT.sub(" ", text.casefold())).split()


def token_f1(output: str, expected: str) -> float:
    got, want = _words(output), _words(expected)
    if not got or not want:
        return float(got == want)
    common = sum((Counter(got) & Counter(want)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def bleu(output: str, expected: str) -> float:
    got, want = output.split(), expected.split()
    if not got or not want:
        return float(got == want)
    logs = 0.0
    for n in range(1, 5):
        grams = Counter(tuple(got[i : i + n]) for i in range(len(got) - n + 1))
        ref = Counter(tuple(want[i : i + n]) for i in range(len(want) - n + 1))
        matches, total = sum((grams & ref).values()), max(0, len(got) - n + 1)
        if n == 1 and matches == 0:
            return 0.0
        logs += math.log((matches + (n > 1)) / (total + (n > 1)))
    penalty = 1.0 if len(got) >= len(want) else math.exp(1 - len(want) / len(got))
    return penalty * math.exp(logs / 4)


@lru_cache(maxsize=4096)
def _parse_json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text.strip(), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return False, None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python accepts them, JSON does not


def _json_exact(output: str, expected: str) -> bool:
    ok_out, got = _parse_json(output)
    ok_exp, want = _parse_json(expected)
    return ok_out and ok_exp and json_equal(got, want)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: as ``==`` but booleans never equal numbers (Python's True == 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _label(output: str, expected: str) -> bool:
    want = expected.strip().strip(_PUNCTUATION).casefold()
    text = output.strip()
    if not want or not text:
        return not want and not text
    first_line = text.splitlines()[0].strip(_PUNCTUATION).casefold()
    first_word = text.split()[0].strip(_PUNCTUATION).casefold()
    return want in (first_line, first_word)
