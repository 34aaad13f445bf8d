"""Field checkers behind manifest validation (docs/architecture.md §2).

Each checker records what is wrong in a :class:`Problems` collector and returns a usable
default instead of raising, so that one pass over a manifest reports *every* problem.
``hxpm.core.manifest`` assembles the checked values into dataclasses; this module knows
nothing about them. Paths use JSON-path-like dotted notation: ``constraints.requires[1]``.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hxpm.core.strictjson import (
    DuplicateKey,
    DuplicateKeyError,
    JsonError,
    JsonObject,
    JsonTooLargeError,
    read_json_keeping_comments,
)
from hxpm.core.versions import Requirement, parse_requirement
from hxpm.errors import InvalidRequirementError, ManifestError

MAX_MANIFEST_BYTES = 1 << 20  # real manifests are a few KiB; the cap bounds parser work
# What a bare expectation names when the value is absent (kept apart from an explicit null).
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
# Manifests are a few KiB; a deeper document is hostile or broken, and deep nesting would
# otherwise hit Python's recursion limit in json/deepcopy instead of giving a clear error.
MAX_DEPTH = 64

CAPABILITY_RE = re.compile(r"[a-z][a-z0-9_-]*:\S+")
CAPABILITY_EXPECTATION = "a 'namespace:value' string such as tech:sql or format:json"
# The older tool's schema takes any string, and real manifests hold a few without a namespace
# (expert-typescript: "code-generation"). A manifest may keep them, with a warning.
BARE_CAPABILITY_RE = re.compile(r"[A-Za-z0-9][^\s:]*")
MANIFEST_CAPABILITY_EXPECTATION = (
    f"{CAPABILITY_EXPECTATION} (a bare word without ':', such as code-generation, is kept "
    "with a warning)"
)
# Suffixes of files written with torch.save / pickle: loading one runs code.
PICKLE_SUFFIXES: frozenset[str] = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"})
# The last path part of a base name must hold a letter or digit, or it has no slug (§3).
BASE_NAME_RE = re.compile(r"[A-Za-z0-9][^/\\]*[/\\]*$")
BASE_NAME_EXPECTATION = (
    "a base model name such as Qwen/Qwen3-0.6B (its last path part needs a letter or digit)"
)
REQUIREMENT_EXPECTATION = (
    "a requirement such as expert-sql, expert-sql@^1.2 or expert-sql@>=1.0,<2.0"
)
NON_EMPTY = "a non-empty string"


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    value: Any
    expected: str

    def describe(self) -> str:
        if self.value is MISSING:
            return f"{self.path}: missing; expected {self.expected}"
        return f"{self.path}: expected {self.expected}, got {_short_repr(self.value)}"


class Problems:
    """Collects problems in document order, and warnings about what was accepted anyway.

    With ``null_is_absent`` an optional field holding ``null`` counts as absent and its path
    is noted in ``nulls`` (the older expert-cli writes null for every unset optional field);
    without it, ``null`` is a wrong value like any other.
    """

    def __init__(self, *, null_is_absent: bool = False) -> None:
        self.items: list[Problem] = []
        self.null_is_absent = null_is_absent
        self.nulls: list[str] = []
        self.warnings: list[str] = []

    def add(self, path: str, value: Any, expected: str) -> None:
        self.items.append(Problem(path, value, expected))

    def absent_null(self, path: str, value: Any) -> bool:
        """True (and noted) when ``value`` is a null that counts as absent at ``path``."""
        if value is None and self.null_is_absent:
            self.nulls.append(path)
            return True
        return False

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def as_tuples(self) -> list[tuple[str, Any, str]]:
        """The ``ManifestError.problems`` shape; an absent value is reported as None."""
        return [(p.path, None if p.value is MISSING else p.value, p.expected) for p in self.items]


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(path: str) -> str:
    """A JSON path as is when it is plain text, else quoted with escapes (keys are data)."""
    return path if path.isprintable() else repr(path)


def key_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def item_path(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


# --- scalar predicates ---------------------------------------------------------------------


def is_integer(value: Any) -> bool:
    """JSON Schema's integer: bools are not integers, 3.0 is (JSON does not tell them apart)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def is_number(value: Any) -> bool:
    """A finite JSON number that also converts to a finite float (1e400 written as an
    integer is a Python int, but ``float()`` of it raises OverflowError)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -sys.float_info.max <= value <= sys.float_info.max
    return isinstance(value, float) and math.isfinite(value)


def is_nonblank(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


# --- typed getters: record a problem and return a default when the value is unusable ---------


def get_object(
    obj: dict[str, Any], key: str, parent: str, probs: Problems, *, required: bool = False
) -> dict[str, Any] | None:
    value = obj.get(key, MISSING)
    if value is MISSING:
        if required:
            probs.add(key_path(parent, key), MISSING, "an object")
        return None
    if not required and probs.absent_null(key_path(parent, key), value):
        return None
    if not isinstance(value, dict):
        probs.add(key_path(parent, key), value, "an object")
        return None
    return value


def get_string(
    obj: dict[str, Any],
    key: str,
    parent: str,
    probs: Problems,
    *,
    required: bool = False,
    check: Callable[[str], bool] | None = None,
    expected: str = "a string",
) -> str | None:
    value = obj.get(key, MISSING)
    if value is MISSING:
        if required:
            probs.add(key_path(parent, key), MISSING, expected)
        return None
    if not required and probs.absent_null(key_path(parent, key), value):
        return None
    if not isinstance(value, str) or (check is not None and not check(value)):
        probs.add(key_path(parent, key), value, expected)
        return None
    return value


def get_int(
    obj: dict[str, Any],
    key: str,
    parent: str,
    probs: Problems,
    *,
    lo: int,
    hi: int | None,
    default: int | None,
) -> int | None:
    """An integer in [lo, hi] (hi None: unbounded); ``default`` when absent."""
    value = obj.get(key, MISSING)
    if value is MISSING or probs.absent_null(key_path(parent, key), value):
        return default
    if not is_integer(value) or value < lo or (hi is not None and value > hi):
        bound = f"an integer from {lo} to {hi}" if hi is not None else f"an integer >= {lo}"
        probs.add(key_path(parent, key), value, bound)
        return default
    return int(value)


def get_number(
    obj: dict[str, Any],
    key: str,
    parent: str,
    probs: Problems,
    *,
    expected: str,
    check: Callable[[float], bool],
    default: float | None,
) -> float | None:
    value = obj.get(key, MISSING)
    if value is MISSING or probs.absent_null(key_path(parent, key), value):
        return default
    if not is_number(value) or not check(value):
        probs.add(key_path(parent, key), value, expected)
        return default
    return float(value)


def get_string_list(
    obj: dict[str, Any],
    key: str,
    parent: str,
    probs: Problems,
    *,
    required: bool = False,
    min_items: int = 0,
    check: Callable[[str], bool] = is_nonblank,
    item_expected: str = NON_EMPTY,
) -> tuple[str, ...]:
    """A list of strings each passing ``check``; every bad item is its own problem."""
    path = key_path(parent, key)
    value = obj.get(key, MISSING)
    expected = f"{'a non-empty list' if min_items else 'a list'} of strings, each {item_expected}"
    if value is MISSING:
        if required:
            probs.add(path, MISSING, expected)
        return ()
    if not required and probs.absent_null(path, value):
        return ()
    if not isinstance(value, list) or len(value) < min_items:
        probs.add(path, value, expected)
        return ()
    good: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, str) and check(item):
            good.append(item)
        else:
            probs.add(item_path(path, i), item, item_expected)
    return tuple(good)


def get_requirements(
    obj: dict[str, Any], key: str, parent: str, probs: Problems
) -> tuple[Requirement, ...]:
    """A list of requirement strings, each parsed with the one grammar hxpm uses (§1)."""
    path = key_path(parent, key)
    value = obj.get(key, MISSING)
    if value is MISSING or probs.absent_null(path, value):
        return ()
    if not isinstance(value, list):
        probs.add(path, value, f"a list of requirement strings ({REQUIREMENT_EXPECTATION})")
        return ()
    out: list[Requirement] = []
    for i, item in enumerate(value):
        at = item_path(path, i)
        if not isinstance(item, str):
            probs.add(at, item, REQUIREMENT_EXPECTATION)
            continue
        try:
            out.append(parse_requirement(item, field=at))
        except InvalidRequirementError as exc:
            # The parser's message says precisely what is wrong; keep it, minus the path.
            detail = exc.message.removeprefix(f"{at}: ")
            probs.add(at, item, f"{REQUIREMENT_EXPECTATION} ({detail})")
    return tuple(out)


def get_capabilities(obj: dict[str, Any], probs: Problems) -> tuple[str, ...]:
    """``capabilities``: namespace:value strings; bare words are kept with one warning."""
    caps = get_string_list(
        obj,
        "capabilities",
        "",
        probs,
        check=is_manifest_capability,
        item_expected=MANIFEST_CAPABILITY_EXPECTATION,
    )
    bare = [c for c in caps if not check_capability(c)]
    if bare:
        probs.warn(
            f"capabilities {', '.join(repr(c) for c in bare)}: no namespace (expected "
            "namespace:value such as task:code-generation); kept as written, and the "
            "router matches each whole, as it does a capability's value"
        )
    return caps


def is_pickle_name(name: str) -> bool:
    """True when ``name`` has a pickle-based suffix (``.bin``, ``.pt``, ``.pth``, ...)."""
    lowered = name.lower()
    return any(lowered.endswith(suffix) for suffix in PICKLE_SUFFIXES)


def soft_prompt_pickle_message(path: str) -> str:
    """What to do about a soft prompt saved with torch.save (the older tool's .pt/.bin)."""
    return (
        f"soft prompt {path!r} is a PyTorch pickle; hxpm loads soft prompts only as "
        "safetensors — convert it (e.g. with safetensors.torch.save_file on the loaded "
        "tensor, in a trusted environment) and point soft_prompts[].path at the "
        ".safetensors file"
    )


def check_soft_prompts(obj: dict[str, Any], probs: Problems) -> None:
    """Soft prompts are carried, not validated; a pickle path gets a warning saying what to do
    (packaging refuses the file itself, and an install never loads it)."""
    entries = obj.get("soft_prompts")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and is_pickle_name(path):
            probs.warn(f"soft_prompts[{i}].path: {soft_prompt_pickle_message(path)}")


# --- whole-document checks -----------------------------------------------------------------


def check_json_values(value: Any, path: str, probs: Problems, depth: int = 0) -> None:
    """Only JSON values (finite numbers, string keys), nested at most MAX_DEPTH deep.

    ``from_dict`` takes any Python object; what it keeps must serialise back to JSON.
    """
    if isinstance(value, str):
        if not _is_utf8(value):
            probs.add(path or "$", value, "text without lone surrogates (it must encode as UTF-8)")
        return
    if depth > MAX_DEPTH:
        probs.add(path or "$", "...", f"at most {MAX_DEPTH} levels of nesting")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str) or not _is_utf8(k):
                probs.add(path or "$", k, "object keys that are UTF-8 strings")
                continue
            check_json_values(v, key_path(path, k), probs, depth + 1)
        # Earlier copies of a repeated comment key are written back too: same limits.
        for k, copies in value.earlier.items() if isinstance(value, JsonObject) else ():
            for v in copies:
                check_json_values(v, key_path(path, k), probs, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_json_values(v, item_path(path, i), probs, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        probs.add(path or "$", value, "a finite number (JSON has no NaN or Infinity)")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        probs.add(path or "$", value, "a JSON value (object, array, string, number, bool, null)")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_training(data: dict[str, Any], probs: Problems) -> None:
    """``training`` is optional (installing needs no recipe); what is there must be sane."""
    training = get_object(data, "training", "", probs)
    if training is None:
        return
    config = get_object(training, "config", "training", probs)
    if config is None:
        return
    for key in ("epochs", "learning_rate"):
        get_number(
            config,
            key,
            "training.config",
            probs,
            expected="a number > 0",
            check=lambda v: v > 0,
            default=None,
        )


def check_capability(value: str) -> bool:
    return CAPABILITY_RE.fullmatch(value) is not None


def check_listed_capability(value: str) -> bool:
    """What an index line may carry: what a manifest may (a bare word from the older tool's
    manifests included), since `hxpm publish` copies the manifest's capabilities."""
    return check_capability(value) or BARE_CAPABILITY_RE.fullmatch(value) is not None


def is_manifest_capability(value: str) -> bool:
    return check_capability(value) or BARE_CAPABILITY_RE.fullmatch(value) is not None


def check_base_name(value: str) -> bool:
    return BASE_NAME_RE.search(value) is not None


# --- bytes to JSON --------------------------------------------------------------------------


def decode_json(
    data: bytes, source: str, max_bytes: int = MAX_MANIFEST_BYTES
) -> tuple[Any, tuple[DuplicateKey, ...]]:
    """Bytes -> (JSON value, repeated comment keys), or one ManifestError saying why the bytes
    are not a JSON document. Only comment keys (``_...``) may repeat in one object."""
    try:
        return read_json_keeping_comments(
            data, max_bytes=max_bytes, max_depth=MAX_DEPTH, bom=True
        )  # editors on Windows may add a BOM
    except DuplicateKeyError as exc:
        at = exc.path or exc.key
        raise ManifestError(
            f"{source}: duplicate key {exc.key!r} at {printable(at)}",
            problems=[
                (
                    at,
                    exc.key,
                    (
                        "each key at most once per JSON object (only comment "
                        "keys starting with '_' may repeat)"
                    ),
                )
            ],
        ) from None
    except JsonTooLargeError:
        raise ManifestError(
            f"{source}: larger than the {max_bytes} byte limit for a manifest",
            problems=[("$", f"{len(data)} bytes", f"at most {max_bytes} bytes")],
        ) from None
    except JsonError as exc:
        where = "" if exc.path == "$" else f" at {printable(exc.path)}"
        what = exc.reason if exc.reason.startswith("not ") else f"not valid JSON: {exc.reason}"
        raise ManifestError(
            f"{source}: {what}{where}",
            problems=[(exc.path, None, f"a JSON document ({exc.reason})")],
        ) from None
