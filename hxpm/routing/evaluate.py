"""Routing accuracy on labelled prompts: accuracy, per-expert precision/recall, confusions.

Pure: the caller reads the file and times nothing else. ``none`` (the bare base) is a class
like any expert.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hxpm.routing.router import Router

NONE = "none"
EVAL_SCHEMA = "hxpm.route-eval/1"
MAX_ERRORS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class LabelledPrompt:
    prompt: str
    expected: str  # an expert name or "none"
    where: str  # "file:line", for the misroutes list


@dataclass(frozen=True, slots=True)
class ClassStats:
    name: str
    support: int  # prompts expected here
    predicted: int  # prompts routed here
    correct: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.support if self.support else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "support": self.support,
            "predicted": self.predicted,
            "correct": self.correct,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass(frozen=True, slots=True)
class EvalReport:
    total: int
    correct: int
    classes: tuple[ClassStats, ...]  # sorted by name, "none" last
    confusion: tuple[tuple[str, str, int], ...]  # (expected, chosen, count), every pair seen
    errors: tuple[tuple[str, str, str, str], ...]  # (where, prompt, expected, chosen), first ones
    slowest_ms: float
    slowest_prompt: str
    mean_ms: float
    experts: int  # candidates the router had

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": EVAL_SCHEMA,
            "total": self.total,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "experts": self.experts,
            "classes": [c.to_dict() for c in self.classes],
            "confusion": [{"expected": e, "chosen": c, "count": n} for e, c, n in self.confusion],
            "errors": [
                {"where": w, "prompt": p, "expected": e, "chosen": c} for w, p, e, c in self.errors
            ],
            "slowest": {"ms": self.slowest_ms, "prompt": self.slowest_prompt},
            "mean_ms": self.mean_ms,
        }


def evaluate(router: Router, prompts: Sequence[LabelledPrompt]) -> EvalReport:
    """Route every prompt once and compare with its label."""
    pairs: Counter[tuple[str, str]] = Counter()
    errors: list[tuple[str, str, str, str]] = []
    slowest, slowest_prompt, total_s = 0.0, "", 0.0
    if prompts:  # one warm-up: the first decision of a process pays for lazy set-up
        router.route(prompts[0].prompt)
    for item in prompts:
        start = time.perf_counter()
        chosen = router.route(item.prompt).chosen or NONE
        took = time.perf_counter() - start
        total_s += took
        if took > slowest:
            slowest, slowest_prompt = took, item.prompt
        pairs[(item.expected, chosen)] += 1
        if chosen != item.expected and len(errors) < MAX_ERRORS_SHOWN:
            errors.append((item.where, item.prompt, item.expected, chosen))
    names = {n for pair in pairs for n in pair}
    classes = tuple(
        ClassStats(
            name,
            sum(n for (e, _), n in pairs.items() if e == name),
            sum(n for (_, c), n in pairs.items() if c == name),
            pairs.get((name, name), 0),
        )
        for name in sorted(names, key=lambda n: (n == NONE, n))
    )
    correct = sum(n for (e, c), n in pairs.items() if e == c)
    return EvalReport(
        total=len(prompts),
        correct=correct,
        classes=classes,
        confusion=tuple((e, c, n) for (e, c), n in sorted(pairs.items())),
        errors=tuple(errors),
        slowest_ms=round(slowest * 1000, 3),
        slowest_prompt=slowest_prompt,
        mean_ms=round(total_s * 1000 / len(prompts), 4) if prompts else 0.0,
        experts=len(router.candidates),
    )
