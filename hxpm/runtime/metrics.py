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
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

METRICS = ("exact_match", "json_valid", "json_exact", "prefix_match", "regex", "label")
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


def scorer(metric: str, *, pattern: str | None = None) -> Callable[[str, str], bool]:
    """``score(output, expected) -> bool`` for ``metric``.

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
    if metric == "regex":
        if pattern is None or check_pattern(pattern) is not None:
            raise ValueError(f"the regex metric needs a valid pattern, got {pattern!r}")
        compiled = re.compile(pattern)
        return lambda out, exp: compiled.fullmatch(out.strip()) is not None
    raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")


def score(
    metric: str, outputs: Sequence[str], expected: Sequence[str], *, pattern: str | None = None
) -> tuple[float, tuple[bool, ...]]:
    """The fraction of items that count, and each item's verdict."""
    judge = scorer(metric, pattern=pattern)
    verdicts = tuple(judge(o, e) for o, e in zip(outputs, expected, strict=True))
    return (sum(verdicts) / len(verdicts) if verdicts else 0.0), verdicts


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
