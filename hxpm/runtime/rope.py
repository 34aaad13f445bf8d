"""A variant's ``rope_scaling``: parsed, compared, and applied to the base config at load.

Forms accepted (docs/runtime.md, "RoPE scaling"):

- transformers' own object: ``{"rope_type" | "type": "yarn", "factor": 4.0,
  "original_max_position_embeddings": 32768, ...}`` with any parameter transformers takes
  for that type (beta_fast, attention_factor, low_freq_factor, short_factor, ...);
- the older tool's object, as in every real manifest of its ecosystem: ``{"type":
  "ntk-by-parts", "factor": 8.0, "max_position_embeddings": 32768,
  "original_max_position_embeddings": 8192, "fine_grained": true, "_comment": "..."}``.
  ``max_position_embeddings`` there is the context the expert was made for, and
  ``ntk-by-parts`` is YaRN's frequency interpolation without its attention temperature, so it
  runs as transformers' ``yarn`` with ``attention_factor`` 1.0 (exactly NTK-by-parts);
- the older tool's string: ``"yarn-128k"`` (type and target context: the factor is the target
  over the base's own context), ``"linear-4x"`` (type and factor), or just ``"dynamic"``.

No torch here: services parse a manifest's value without loading the runtime.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hxpm.errors import InferenceError, ManifestError

# The older tool's names for transformers' types.
_ALIASES = {"ntk-by-parts": "yarn", "ntk": "dynamic", "dynamic-ntk": "dynamic"}
_NO_SCALING = ("", "none", "default")
# Keys of an object form that are not transformers parameters.
_OWN_KEYS = frozenset(
    {"type", "rope_type", "factor", "max_position_embeddings", "original_max_position_embeddings"}
)
_NUMBER_PARAMS = frozenset(
    {
        "attention_factor",
        "beta_fast",
        "beta_slow",
        "mscale",
        "mscale_all_dim",
        "low_freq_factor",
        "high_freq_factor",
    }
)
_LIST_PARAMS = frozenset({"short_factor", "long_factor"})
_STRING_RE = re.compile(
    r"^(?P<type>ntk-by-parts|dynamic-ntk|[a-z][a-z0-9_]*)"
    r"(?:-(?:(?P<ctx>\d+)(?P<unit>[km]?)|(?P<factor>\d+(?:\.\d+)?)x))?$"
)
_UNITS = {"": 1, "k": 1024, "m": 1024 * 1024}


@dataclass(frozen=True, slots=True)
class RopeScaling:
    """A RoPE scaling in transformers' terms; ``None`` fields are taken from the base."""

    rope_type: str
    factor: float | None = None
    context: int | None = None  # the context the expert declares (its max positions)
    original: int | None = None  # the pre-scaling context
    params: tuple[tuple[str, Any], ...] = ()  # further transformers parameters
    fine_grained: bool | None = None  # the older tool's flag (NTK-by-parts is fine-grained)

    def describe(self) -> str:
        parts = [self.rope_type]
        if self.factor is not None:
            parts.append(f"factor {self.factor:g}")
        if self.context is not None:
            parts.append(f"context {self.context}")
        if self.original is not None:
            parts.append(f"original {self.original}")
        parts += [f"{k} {v}" for k, v in self.params]
        return ", ".join(parts)


def parse_rope_scaling(value: object, label: str) -> RopeScaling | None:
    """A manifest's ``rope_scaling`` value as a :class:`RopeScaling` (None: no scaling).

    Raises:
        ManifestError: a value of the wrong shape, naming the key and what was expected.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in _NO_SCALING):
        return None
    if isinstance(value, str):
        return _parse_string(value.strip().lower(), label)
    if isinstance(value, Mapping):
        return _parse_object(value, label)
    raise ManifestError(
        f"{label}: rope_scaling must be a string such as 'yarn-128k' or an object with a "
        f"'type', got {type(value).__name__}"
    )


def _parse_string(text: str, label: str) -> RopeScaling | None:
    match = _STRING_RE.match(text)
    if match is None:
        raise ManifestError(
            f"{label}: rope_scaling {text!r} is not TYPE, TYPE-<context>[k|m] or TYPE-<factor>x",
            hint="For example 'yarn-128k', 'linear-4x' or 'dynamic'.",
        )
    rope_type = _ALIASES.get(match["type"], match["type"])
    if rope_type in _NO_SCALING:
        return None
    context = int(match["ctx"]) * _UNITS[match["unit"]] if match["ctx"] else None
    factor = float(match["factor"]) if match["factor"] else None
    params = (("attention_factor", 1.0),) if match["type"] == "ntk-by-parts" else ()
    return RopeScaling(rope_type, factor=factor, context=context, params=params)


def _parse_object(value: Mapping[Any, Any], label: str) -> RopeScaling | None:
    where = f"{label}: rope_scaling"
    raw_type = value.get("rope_type", value.get("type"))
    if not isinstance(raw_type, str):
        raise ManifestError(f"{where} needs a 'type' (or 'rope_type') string")
    rope_type = _ALIASES.get(raw_type.lower(), raw_type.lower())
    if rope_type in _NO_SCALING:
        return None
    params: dict[str, Any] = {}
    if raw_type.lower() == "ntk-by-parts":
        params["attention_factor"] = 1.0
    fine_grained = value.get("fine_grained")
    if fine_grained is not None and not isinstance(fine_grained, bool):
        raise ManifestError(f"{where}.fine_grained must be true or false")
    unknown = []
    for key, item in value.items():
        if not isinstance(key, str) or key.startswith("_") or key in _OWN_KEYS:
            continue
        if key in _NUMBER_PARAMS:
            params[key] = _number(item, f"{where}.{key}", minimum=0.0)
        elif key in _LIST_PARAMS:
            if not isinstance(item, list) or not item:
                raise ManifestError(f"{where}.{key} must be a non-empty list of numbers")
            params[key] = tuple(_number(x, f"{where}.{key}[]", minimum=0.0) for x in item)
        elif key == "truncate":
            params[key] = bool(item)
        elif key != "fine_grained":
            unknown.append(key)
    if unknown:
        raise ManifestError(
            f"{where} has keys hxpm does not know: {', '.join(sorted(unknown))}",
            hint="Known: type, factor, max_position_embeddings, original_max_position_embeddings, "
            f"fine_grained, {', '.join(sorted(_NUMBER_PARAMS | _LIST_PARAMS))}, truncate.",
        )
    factor = value.get("factor")
    return RopeScaling(
        rope_type,
        factor=None if factor is None else _number(factor, f"{where}.factor", minimum=1.0),
        context=_positions(
            value.get("max_position_embeddings"), f"{where}.max_position_embeddings"
        ),
        original=_positions(
            value.get("original_max_position_embeddings"),
            f"{where}.original_max_position_embeddings",
        ),
        params=tuple(sorted(params.items())),
        fine_grained=fine_grained,
    )


def _number(value: object, where: str, *, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ManifestError(f"{where} must be a number, got {value!r}")
    if value < minimum:
        raise ManifestError(f"{where} must be at least {minimum:g}, got {value!r}")
    return float(value)


def _positions(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 1 << 24:
        raise ManifestError(f"{where} must be a whole number of positions, got {value!r}")
    return value


def same_scaling(
    scalings: Mapping[str, RopeScaling | None],
) -> RopeScaling | None:
    """The one scaling a set of experts asks for (None: none asks for one).

    Raises:
        InferenceError: two experts ask for different scalings; they cannot share one base.
    """
    asked = {name: s for name, s in scalings.items() if s is not None}
    distinct = set(asked.values())
    if len(distinct) > 1:
        listing = "; ".join(f"{name}: {s.describe()}" for name, s in sorted(asked.items()))
        raise InferenceError(
            f"these experts need different RoPE scalings and cannot be stacked: {listing}",
            hint="Run them in separate commands; one loaded base has one position encoding.",
            details={"rope_scaling": {n: s.describe() for n, s in asked.items()}},
        )
    return next(iter(distinct), None)


def supported_types() -> tuple[str, ...]:
    """The RoPE types this transformers computes (its ``ROPE_INIT_FUNCTIONS``)."""
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    return tuple(sorted(ROPE_INIT_FUNCTIONS))


def apply_rope_scaling(config: Any, scaling: RopeScaling, base_name: str) -> int:
    """Write ``scaling`` into a transformers model ``config``; return the effective context.

    ``config.max_position_embeddings`` is left as the base has it: dynamic scaling reads it
    as the pre-scaling length, and YaRN compares it with ``original_max_position_embeddings``.

    Raises:
        InferenceError: a type this transformers does not implement, a base without RoPE, or
            a scaling missing what its type needs.
    """
    if scaling.rope_type not in supported_types() or scaling.rope_type == "default":
        raise InferenceError(
            f"RoPE scaling type {scaling.rope_type!r} is not supported by this "
            "transformers (it knows "
            f"{', '.join(t for t in supported_types() if t != 'default')})",
            hint="Use linear, dynamic or yarn, or upgrade transformers.",
        )
    base_context = int(getattr(config, "max_position_embeddings", 0) or 0)
    current = _rope_dict(config)
    if current is None or not base_context:
        raise InferenceError(
            f"base model {base_name} has no rotary position settings to scale "
            f"({type(config).__name__})"
        )
    original = scaling.original or base_context
    factor = scaling.factor
    if factor is None:
        if scaling.context is None:
            raise InferenceError(
                f"RoPE scaling {scaling.describe()} gives neither a factor nor a target context"
            )
        factor = max(1.0, scaling.context / original)
    if scaling.rope_type == "longrope" and not dict(scaling.params).get("short_factor"):
        raise InferenceError("RoPE scaling longrope needs short_factor and long_factor lists")
    params: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in scaling.params}
    params.update(rope_type=scaling.rope_type, factor=factor)
    if scaling.rope_type in ("yarn", "longrope", "llama3") or scaling.original is not None:
        params["original_max_position_embeddings"] = original
    _set_rope_dict(config, {**current, **params})
    return scaling.context or int(original * factor)


def _rope_dict(config: Any) -> dict[str, Any] | None:
    """The config's RoPE settings: ``rope_parameters`` (transformers 5) or ``rope_scaling``."""
    if hasattr(config, "rope_parameters"):
        value = config.rope_parameters
        return dict(value) if isinstance(value, Mapping) else None
    if hasattr(config, "rope_theta"):  # transformers 4.x keeps theta apart from the scaling
        return dict(getattr(config, "rope_scaling", None) or {})
    return None


def _set_rope_dict(config: Any, values: dict[str, Any]) -> None:
    if hasattr(config, "rope_parameters"):
        config.rope_parameters = values
    else:
        config.rope_scaling = values
