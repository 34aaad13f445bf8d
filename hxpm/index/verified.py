"""Rebuild a version line from the index cache's verified record, without re-checking it.

The cache stores a line only after :meth:`VersionLine.parse` accepted it (schema, values,
signature statement agreement; :mod:`hxpm.index.ingest`), so reading it back skips those
checks: the JSON is decoded by the C parser and the values are placed as stored. Versions
and requirements are parsed (memoised); a variant's signature statement is parsed on first
use (only the chosen candidates' are). A record that does not read back is a damaged cache
and raises :class:`IndexDataError` with the way to rebuild it.

Whether a signature is *trusted* is never decided here: that is checked, with the user's
keys, before anything is fetched (:mod:`hxpm.services.apply`).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from hxpm.errors import HxpmError, IndexDataError
from hxpm.index.model import _VARIANT_FIELDS, SourceRef, VariantEntry, VersionLine
from hxpm.index.model_checks import parse_requirement_cached, parse_version_cached
from hxpm.index.routing_summary import parse_routing_summary

__all__ = ["line_from_verified"]

_T = TypeVar("_T")
_HINT = (
    "The index cache is damaged: delete index-cache.sqlite in the hxpm home and run "
    "`hxpm index update` to rebuild it."
)


def line_from_verified(text: str, *, where: str) -> VersionLine:
    """The line whose verified JSON text is ``text``; ``where`` names it in errors.

    Raises:
        IndexDataError: ``text`` is not the record of a verified line (a damaged cache).
    """
    try:
        doc = json.loads(text)
        return _line(doc)
    except (KeyError, TypeError, ValueError, AttributeError, HxpmError) as exc:
        raise IndexDataError(
            f"{where}: the cached line does not read back ({type(exc).__name__}: {exc})"[:300],
            hint=_HINT,
        ) from None


def _line(doc: dict[str, Any]) -> VersionLine:
    routing = doc.get("routing") or {}
    values = {
        "name": _text(doc["name"]),
        "version": parse_version_cached(doc["version"]),
        "description": doc.get("description", ""),
        "source": _trusted(SourceRef, {k: doc["source"][k] for k in ("git", "tag", "commit")}),
        "requires": _requirements(doc.get("requires", []), "requires"),
        "incompatible_with": _requirements(doc.get("incompatible_with", []), "incompatible_with"),
        "load_order": doc["load_order"] if "load_order" in doc else _default("load_order"),
        "max_chain": doc["max_chain"] if "max_chain" in doc else _default("max_chain"),
        "capabilities": tuple(doc.get("capabilities", ())),
        "keywords": tuple(routing.get("keywords", ())),
        "exclude_keywords": tuple(routing.get("exclude_keywords", ())),
        "priority": float(routing.get("priority", _default("priority"))),
        "variants": tuple(_variant(v) for v in doc["variants"]),
        "yanked": bool(doc.get("yanked", False)),
        "raw": doc,
        "routing_profile": parse_routing_summary(routing["profile"])
        if "profile" in routing
        else None,
    }
    if not values["variants"]:
        raise ValueError("no variants")
    return _trusted(VersionLine, values)


def _variant(doc: dict[str, Any]) -> VariantEntry:
    values = {name: doc.get(name) for name in _VARIANT_FIELDS}
    values["_statement"] = None  # parsed on first use (VariantEntry.statement)
    for key in ("base_model", "base_sha256", "sha256", "tree_sha256", "signature"):
        _text(values[key])
    return _trusted(VariantEntry, values)


def _requirements(items: list[Any], field: str) -> tuple[Any, ...]:
    return tuple(parse_requirement_cached(item, f"{field}[{i}]") for i, item in enumerate(items))


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _default(name: str) -> Any:
    from hxpm.core.manifest_values import DEFAULT_LOAD_ORDER, DEFAULT_MAX_CHAIN, DEFAULT_PRIORITY

    return {
        "load_order": DEFAULT_LOAD_ORDER,
        "max_chain": DEFAULT_MAX_CHAIN,
        "priority": DEFAULT_PRIORITY,
    }[name]


def _trusted(cls: type[_T], values: dict[str, Any]) -> _T:
    """An instance of a frozen model dataclass with ``values`` placed as they are: the
    checks in its ``__post_init__`` ran when the record was stored."""
    obj: _T = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(obj, name, value)
    return obj
