"""A learned reading of intent: does the prompt ask an expert for its output, or is it a
general prompt that happens to use an expert's words? (docs/routing.md, "The intent model").

A logistic regression over the prompt's words and word pairs. Every technology word (a
language or format name, an alias, an installed expert's keyword) is masked as ``<tech>``
first, so the model reads the frame of a request ("write a <tech> function that ...",
"is <tech> enough to get a junior job?") rather than its topic, and an expert on a topic the
model never saw is read by the same frames. Trained by ``scripts/train_intent_model.py`` on
the general and blind prompt sets of ``tests/fixtures/routing`` and the demo experts'
training prompts; shipped as ``intent_model.txt`` next to this module (one
``feature<TAB>weight`` a line). Plain Python, deterministic, no I/O at route time except
reading that file once, when a decision first needs it.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hxpm.routing.aliases import ALIASES
from hxpm.routing.artifacts import DATA_FORMATS
from hxpm.routing.languages import LANGUAGE_NAMES

TECH_MASK = "<tech>"
MODEL_FILE = "intent_model.txt"
_BIAS = "<bias>"
_EPOCHS = 16  # docs/routing.md, "The intent model": 8 passes caught fewer general prompts
_RATE = 0.1
_L2 = 1e-5
_KEEP = 0.2  # smaller weights change few decisions: not shipped (4,400 features, not 33,000)
_LENGTH_BUCKET = 5  # words per bucket of the prompt's length feature
_MAX_BUCKET = 6


class IntentModelError(ValueError):
    """An intent model file that does not have the documented shape."""


@dataclass(frozen=True, slots=True)
class IntentModel:
    """Weights of the logistic regression; :meth:`probability` is P(a request for an expert)."""

    bias: float
    weights: Mapping[str, float]

    def probability(self, words: Sequence[str], tech: frozenset[str]) -> float:
        z = self.bias + sum(self.weights.get(f, 0.0) for f in features(words, tech))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def static_tech_words() -> frozenset[str]:
    """Technology words hxpm knows without any expert: languages, formats, aliases."""
    names = {*ALIASES, *(a for names in ALIASES.values() for a in names if " " not in a)}
    return frozenset(names | set(LANGUAGE_NAMES) | set(DATA_FORMATS))


def features(words: Sequence[str], tech: frozenset[str]) -> list[str]:
    """The prompt's features, sorted: masked words, masked word pairs and a length bucket."""
    masked = [TECH_MASK if w in tech else w for w in words]
    found = {f"u:{w}" for w in masked}
    found.update(f"b:{a} {b}" for a, b in itertools.pairwise(masked))
    found.add(f"len:{min(len(masked) // _LENGTH_BUCKET, _MAX_BUCKET)}")
    return sorted(found)


def train(
    rows: Iterable[tuple[Sequence[str], bool]], tech: frozenset[str], *, seed: int = 0
) -> IntentModel:
    """Fit on (words, is a request for an expert) rows: class-balanced logistic regression by
    stochastic gradient descent, a fixed seed and sorted features, so the same rows give the
    same weights."""
    data = [(features(words, tech), 1.0 if asks else 0.0) for words, asks in rows]
    positives = sum(y for _, y in data)
    if not positives or positives == len(data):
        raise IntentModelError("training needs prompts of both kinds")
    balance = {1.0: len(data) / (2 * positives), 0.0: len(data) / (2 * (len(data) - positives))}
    weights: dict[str, float] = {}
    bias = 0.0
    order = random.Random(seed)
    for _ in range(_EPOCHS):
        order.shuffle(data)
        for feats, y in data:
            z = bias + sum(weights.get(f, 0.0) for f in feats)
            step = (1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))) - y) * balance[y]
            for f in feats:
                old = weights.get(f, 0.0)
                weights[f] = old - _RATE * (step + _L2 * old)
            bias -= _RATE * step
    kept = {f: round(w, 3) for f, w in sorted(weights.items()) if abs(w) >= _KEEP}
    return IntentModel(round(bias, 3), kept)


def dump(model: IntentModel, header: Sequence[str] = ()) -> str:
    """The model as the shipped text: comment lines, the bias, then one feature a line."""
    lines = [f"# {h}" for h in header]
    lines.append(f"{_BIAS}\t{model.bias}")
    lines += [f"{f}\t{w}" for f, w in sorted(model.weights.items())]
    return "\n".join(lines) + "\n"


def parse(text: str) -> IntentModel:
    """Read :func:`dump`'s text; an error names the first line that is not `feature<TAB>weight`."""
    bias: float | None = None
    weights: dict[str, float] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        feature, tab, value = line.rpartition("\t")
        try:
            weight = float(value)
        except ValueError:
            weight = math.nan
        if not tab or not feature or not math.isfinite(weight):
            raise IntentModelError(f"line {number}: expected 'feature<TAB>weight', got {line!r}")
        if feature == _BIAS:
            bias = weight
        else:
            weights[feature] = weight
    if bias is None:
        raise IntentModelError(f"no {_BIAS} line: expected one before the features")
    return IntentModel(bias, weights)


@lru_cache(maxsize=1)
def bundled() -> IntentModel:
    """The model shipped with hxpm (read once per process)."""
    path = Path(__file__).with_name(MODEL_FILE)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:  # an install without the file next to the module: the resources API
        from importlib import resources

        text = resources.files("hxpm.routing").joinpath(MODEL_FILE).read_text(encoding="utf-8")
    return parse(text)
