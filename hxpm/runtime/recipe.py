"""The training recipe of a manifest (``training``, ``evaluation``) and its datasets.

Plain values and validation only: no torch here, so that ``hxpm train`` refuses a bad recipe
or a malformed dataset before it loads a model. Every problem names its field
(``training.config.rank``) and what was expected; all of them are reported at once, in the
same shape as manifest validation (``ManifestError.problems``).

A dataset is JSON Lines, one ``{"prompt": str, "completion": str}`` object per line (blank
lines are skipped). See docs/training.md for every field and its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hxpm.core import manifest_checks as mc
from hxpm.core.manifest_checks import MISSING, Problems
from hxpm.core.strictjson import JsonError, read_json
from hxpm.errors import ManifestError, NotFoundError, UsageError

from .metrics import METRICS, check_pattern
from .train_config import TrainConfig, one_of, parse_config
from .train_dpo_config import DpoConfig, dpo_config, parse_dpo

# training.dataset.format: a container ("jsonl"/"auto": the record format is detected), a
# record format (docs/datasets.md), or an alias of one that older manifests use.
DATASET_FORMATS = (
    "auto",
    "jsonl",
    "text",
    "prompt_completion",
    "prompt-completion",
    "messages",
    "instruction",
    "preference",
    "chatml",
    "alpaca",
    "chat",
    "dpo",
)
DEFAULT_MAX_NEW_TOKENS = 128
MAX_DATASET_BYTES = 1 << 30
MAX_EXAMPLE_BYTES = 64 << 20  # one dataset line
HINT = "See docs/training.md for the recipe fields, their types and defaults."
__all__ = ["TrainConfig", "dataset_file", "parse_evaluation", "parse_recipe", "read_examples"]


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    path: str  # relative to the expert directory (or absolute)
    heldout: str | None
    format: str = "auto"  # "auto"/"jsonl": detected from the lines
    validation_path: str | None = None  # the loss measured every eval_steps
    test_path: str | None = None
    field_mapping: tuple[tuple[str, str], ...] = ()  # (our field, the file's field)
    preference_path: str | None = None  # DPO pairs when the method is dpo (else: path)
    preference_validation_path: str | None = None


@dataclass(frozen=True, slots=True)
class Decoding:
    """``training.decoding``: how the expert is run (and evaluated, always greedy)."""

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recipe:
    dataset: DatasetSpec
    config: TrainConfig
    decoding: Decoding
    warnings: tuple[str, ...] = ()  # ignored keys, disagreements with the manifest variant
    dpo: DpoConfig = field(default_factory=DpoConfig)  # training.dpo

    def config_for(self, method: str) -> TrainConfig:
        """The hyper-parameters of a ``method`` run (DPO: ``training.dpo`` applied)."""
        if method == "dpo":
            return dpo_config(self.config, self.dpo)
        return replace(self.config, method=method)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str = "exact_match"
    pattern: str | None = None  # regex only


@dataclass(frozen=True, slots=True)
class Example:
    """A prompt (rendered with the expert's prompt template) and the completion to learn."""

    prompt: str
    completion: str


@dataclass(frozen=True, slots=True)
class TextExample:
    """Raw text; loss on ``spans`` (character ranges; the assistant turns of ChatML text)."""

    text: str
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class ChatExample:
    """A conversation ((role, content), ...), rendered with the base's chat template; loss
    on the assistant messages."""

    messages: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class PreferenceExample:
    """A DPO pair: ``chosen`` is preferred to ``rejected`` as the completion of ``prompt``."""

    prompt: str
    chosen: str
    rejected: str


SftExample = Example | TextExample | ChatExample


def _recipe_error(source: str, probs: Problems, what: str = "training recipe") -> ManifestError:
    items = probs.items
    shown = "; ".join(p.describe() for p in items[:3])
    more = f" (and {len(items) - 3} more)" if len(items) > 3 else ""
    noun = "problem" if len(items) == 1 else "problems"
    return ManifestError(
        f"{source}: invalid {what}, {len(items)} {noun}: {shown}{more}",
        problems=probs.as_tuples(),
        hint=HINT,
    )


# --- training ------------------------------------------------------------------------------


def parse_recipe(
    manifest: Mapping[str, Any], *, variant_adapter: Any = None, source: str = "manifest.json"
) -> Recipe:
    """The manifest's ``training`` section, validated, with defaults filled in.

    ``variant_adapter`` (an ``hxpm.core.manifest_values.AdapterSpec``, optional) supplies
    defaults for the adapter type, rank, alpha and target modules the recipe leaves out.

    Raises:
        ManifestError: no ``training`` section, or fields of the wrong type or range; every
            problem names its field.
    """
    probs = Problems()
    training = manifest.get("training", MISSING)
    if not isinstance(training, dict):
        probs.add("training", training, "an object with dataset and config (the recipe)")
        raise _recipe_error(source, probs)
    warnings: list[str] = []
    dataset = _parse_dataset(training, probs)
    config_obj = mc.get_object(training, "config", "training", probs) or {}
    config = parse_config(config_obj, variant_adapter, probs, warnings)
    decoding = parse_decoding(training, probs)
    dpo = parse_dpo(training, probs, warnings)
    if probs:
        raise _recipe_error(source, probs)
    return Recipe(dataset, config, decoding, tuple(warnings), dpo)


def _parse_dataset(training: dict[str, Any], probs: Problems) -> DatasetSpec:
    parent = "training.dataset"
    obj = mc.get_object(training, "dataset", "training", probs, required=True) or {}
    expected = "a path to a JSONL file"
    path = mc.get_string(
        obj,
        "path",
        parent,
        probs,
        required=bool(obj) or "dataset" in training,
        check=mc.is_nonblank,
        expected=expected,
    )
    splits = {
        key: mc.get_string(obj, key, parent, probs, check=mc.is_nonblank, expected=expected)
        for key in (
            "heldout",
            "validation_path",
            "test_path",
            "preference_path",
            "preference_validation_path",
        )
    }
    fmt = mc.get_string(
        obj,
        "format",
        parent,
        probs,
        check=lambda v: v in DATASET_FORMATS,
        expected=one_of(DATASET_FORMATS),
    )
    mapping = mc.get_object(obj, "field_mapping", parent, probs) or {}
    bad = [k for k, v in mapping.items() if not isinstance(v, str) or not v]
    for key in bad:
        probs.add(f"{parent}.field_mapping.{key}", mapping[key], "the name of a field in the file")
    return DatasetSpec(
        path or "",
        splits["heldout"],
        fmt or "auto",
        splits["validation_path"],
        splits["test_path"],
        tuple(sorted((k, v) for k, v in mapping.items() if k not in bad)),
        splits["preference_path"],
        splits["preference_validation_path"],
    )


# (key, expected, check, default) of the number fields of training.decoding
_DECODING_NUMBERS: tuple[tuple[str, str, Any, float], ...] = (
    ("temperature", "a number >= 0", lambda v: v >= 0, 0.0),
    ("top_p", "a number in (0, 1]", lambda v: 0 < v <= 1, 1.0),
)


def parse_decoding(training: Mapping[str, Any], probs: Problems | None = None) -> Decoding:
    """``training.decoding`` (absent: greedy, 128 new tokens, no stop sequences)."""
    own = probs is None
    probs = Problems() if probs is None else probs
    p = "training.decoding"
    obj = mc.get_object(dict(training), "decoding", "training", probs) or {}
    stop = mc.get_string_list(
        obj, "stop_sequences", p, probs, check=lambda s: s != "", item_expected="a non-empty string"
    )
    numbers = {
        key: mc.get_number(obj, key, p, probs, expected=exp, check=check, default=default)
        for key, exp, check, default in _DECODING_NUMBERS
    }
    decoding = Decoding(
        max_new_tokens=mc.get_int(
            obj, "max_new_tokens", p, probs, lo=1, hi=1 << 16, default=DEFAULT_MAX_NEW_TOKENS
        )
        or DEFAULT_MAX_NEW_TOKENS,
        top_k=mc.get_int(obj, "top_k", p, probs, lo=0, hi=None, default=0) or 0,
        stop=stop,
        **{k: v for k, v in numbers.items() if v is not None},
    )
    if own and probs:
        raise _recipe_error("manifest.json", probs)
    return decoding


def decoding_of(manifest: Mapping[str, Any]) -> Decoding:
    """The decoding settings of a manifest; defaults when it has no (valid) recipe."""
    training = manifest.get("training")
    if not isinstance(training, dict):
        return Decoding()
    return parse_decoding(training)


# --- evaluation ----------------------------------------------------------------------------


def parse_evaluation(manifest: Mapping[str, Any], *, source: str = "manifest.json") -> MetricSpec:
    """``evaluation`` (absent: exact_match).

    Raises:
        ManifestError: an unknown metric, or a regex metric without a valid ``pattern``.
    """
    probs = Problems()
    obj = mc.get_object(dict(manifest), "evaluation", "", probs) or {}
    name = (
        mc.get_string(
            obj,
            "metric",
            "evaluation",
            probs,
            check=lambda v: v in METRICS,
            expected=one_of(METRICS),
        )
        or "exact_match"
    )
    pattern = None
    if name == "regex":
        pattern = mc.get_string(
            obj,
            "pattern",
            "evaluation",
            probs,
            required=True,
            expected="a regular expression the whole output must match",
        )
        problem = check_pattern(pattern) if pattern is not None else None
        if problem:
            probs.add("evaluation.pattern", pattern, f"a valid regular expression ({problem})")
    elif "pattern" in obj:
        probs.add("evaluation.pattern", obj["pattern"], 'no value unless metric is "regex"')
    if probs:
        raise _recipe_error(source, probs, "evaluation section")
    return MetricSpec(name, pattern)


# --- datasets ------------------------------------------------------------------------------


def dataset_file(root: Path, relative: str, field: str) -> Path:
    """``relative`` resolved against the expert directory ``root``; it must be a file.

    Raises:
        NotFoundError: no such file (the message names the recipe field).
    """
    path = (root / relative).expanduser()
    if not path.is_file():
        raise NotFoundError(
            f"{field}: no such dataset file {path}",
            hint="Generate the dataset first, or fix the path (it is relative "
            "to the expert directory).",
        )
    return path


def read_examples(path: Path, *, limit: int | None = None) -> tuple[Example, ...]:
    """The ``{"prompt", "completion"}`` objects of a JSONL file, in file order.

    Raises:
        NotFoundError: the file does not exist.
        UsageError: a line is not such an object (the message names the file and line), or
            the file holds no example.
    """
    try:
        size = path.stat().st_size
        if size > MAX_DATASET_BYTES:
            raise UsageError(
                f"{path}: {size} bytes, over the {MAX_DATASET_BYTES} byte limit for a dataset"
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such dataset file") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (invalid byte at offset {e.start})") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read it: {e.strerror}") from None
    examples: list[Example] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        examples.append(_example(path, number, line))
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        raise UsageError(
            f"{path}: no examples (expected one JSON object per line)",
            hint='Each line: {"prompt": "...", "completion": "..."}',
        )
    return tuple(examples)


def _example(path: Path, number: int, line: str) -> Example:
    where = f"{path} line {number}"
    expected = 'a JSON object {"prompt": string, "completion": string}'
    try:
        obj = read_json(line, max_bytes=MAX_EXAMPLE_BYTES, max_depth=16)
    except JsonError as e:
        raise UsageError(f"{where}: not valid JSON ({e}); expected {expected}") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: expected {expected}, got {type(obj).__name__}")
    bad = [k for k in ("prompt", "completion") if not isinstance(obj.get(k), str)]
    if bad:
        got = ", ".join(f"{k}={obj.get(k, '<missing>')!r}"[:60] for k in bad)
        raise UsageError(f"{where}: expected {expected}; {got}")
    if not obj["prompt"].strip():
        raise UsageError(f"{where}: the prompt is empty")
    return Example(obj["prompt"], obj["completion"])
