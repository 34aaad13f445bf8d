"""Reading a manifest document's typed fields (docs/architecture.md §2, docs/formats/manifest.md).

``parse_fields`` turns the parsed JSON of a manifest into the keyword arguments of
``hxpm.core.manifest.Manifest`` (every field but ``raw``). It never raises: each problem goes
to the ``Problems`` collector, in field order, so that one error can list them all.
"""

from __future__ import annotations

from typing import Any

from hxpm.core import manifest_checks as mc
from hxpm.core.digest import is_sha256_hex
from hxpm.core.manifest_checks import MISSING, Problems, item_path, key_path
from hxpm.core.manifest_values import (
    ADAPTER_TYPES,
    DEFAULT_LOAD_ORDER,
    DEFAULT_MAX_CHAIN,
    DEFAULT_PRIORITY,
    MAX_CHAIN_LIMIT,
    MAX_RANK,
    SCHEMA_VERSIONS,
    UNSUPPORTED_ADAPTER_TYPES,
    AdapterSpec,
    BaseVariant,
    Routing,
)
from hxpm.core.names import NAME_EXPECTATION, is_valid_name
from hxpm.core.versions import Version
from hxpm.errors import HxpmError

VERSION_EXPECTATION = "a SemVer 2.0 version such as 1.2.3 or 1.0.0-rc.1"


def parse_fields(raw: dict[str, Any], probs: Problems) -> dict[str, Any]:
    """Every typed field of Manifest except ``raw``; problems go to ``probs`` in field order."""
    name = mc.get_string(
        raw, "name", "", probs, required=True, check=is_valid_name, expected=NAME_EXPECTATION
    )
    version = _parse_version(raw, probs)
    schema_version = _parse_schema_version(raw, probs)
    fields: dict[str, Any] = {
        "name": name or "",
        "version": version,
        "schema_version": schema_version,
        "description": mc.get_string(raw, "description", "", probs) or "",
        "license": mc.get_string(raw, "license", "", probs),
        "variants": _parse_variants(raw, schema_version, probs),
    }
    fields.update(_parse_constraints(raw, probs))
    fields["capabilities"] = mc.get_capabilities(raw, probs)
    fields["routing"] = _parse_routing(raw, probs)
    mc.check_training(raw, probs)
    mc.check_soft_prompts(raw, probs)
    return fields


def _parse_constraints(raw: dict[str, Any], probs: Problems) -> dict[str, Any]:
    c = "constraints"
    obj = mc.get_object(raw, c, "", probs) or {}
    return {
        "requires": mc.get_requirements(obj, "requires", c, probs),
        "incompatible_with": mc.get_requirements(obj, "incompatible_with", c, probs),
        "load_order": mc.get_int(
            obj, "load_order", c, probs, lo=0, hi=None, default=DEFAULT_LOAD_ORDER
        ),
        "max_chain": mc.get_int(
            obj, "max_chain", c, probs, lo=1, hi=MAX_CHAIN_LIMIT, default=DEFAULT_MAX_CHAIN
        ),
    }


def _parse_version(raw: dict[str, Any], probs: Problems) -> Version:
    fallback = Version.parse("0.0.0")
    text = mc.get_string(raw, "version", "", probs, required=True, expected=VERSION_EXPECTATION)
    if text is None:
        return fallback
    # Version.parse forgives surrounding spaces; the schema's pattern does not, nor do we.
    if text == text.strip():
        try:
            return Version.parse(text)
        except HxpmError:
            pass
    probs.add("version", text, VERSION_EXPECTATION)
    return fallback


def _parse_schema_version(raw: dict[str, Any], probs: Problems) -> str:
    """Declared, or inferred like the original: ``base_models`` means 2.0, else 1.0."""
    inferred = "2.0" if raw.get("base_models") is not None else "1.0"
    declared = raw.get("schema_version", MISSING)
    if declared is MISSING or probs.absent_null("schema_version", declared):
        return inferred
    if declared not in SCHEMA_VERSIONS:
        probs.add("schema_version", declared, 'the string "1.0" or "2.0"')
        return inferred
    return str(declared)


def _parse_variants(
    raw: dict[str, Any], schema_version: str, probs: Problems
) -> tuple[BaseVariant, ...]:
    if schema_version == "2.0":
        _forbid(
            raw, "base_model", "no base_model in schema 2.0 (list variants in base_models)", probs
        )
        return _parse_v2_variants(raw, probs)
    _forbid(
        raw,
        "base_models",
        'no base_models in schema 1.0 (set schema_version to "2.0" to use it)',
        probs,
    )
    return _parse_v1_variant(raw, probs)


def _forbid(raw: dict[str, Any], key: str, expected: str, probs: Problems) -> None:
    if key in raw and not probs.absent_null(key, raw[key]):
        probs.add(key, raw[key], expected)


def _parse_v1_variant(raw: dict[str, Any], probs: Problems) -> tuple[BaseVariant, ...]:
    base = raw.get("base_model", MISSING)
    if not isinstance(base, dict):
        probs.add(
            "base_model",
            base,
            "an object naming the base model (schema 1.0), or base_models[] (schema 2.0)",
        )
        base = None
    adapters = _parse_adapters(raw, "", probs)  # schema 1.0 keeps adapters at the root
    if base is None:
        return ()
    variant = _parse_variant_fields(base, "base_model", adapters, probs)
    return (variant,) if variant is not None else ()


def _parse_v2_variants(raw: dict[str, Any], probs: Problems) -> tuple[BaseVariant, ...]:
    entries = raw.get("base_models", MISSING)
    if not isinstance(entries, list) or not entries:
        probs.add("base_models", entries, "a non-empty list of base model variants")
        return ()
    out: list[BaseVariant] = []
    seen: dict[str, str] = {}  # slug -> first name with it
    for i, entry in enumerate(entries):
        path = item_path("base_models", i)
        if not isinstance(entry, dict):
            probs.add(path, entry, "an object with name and adapters")
            continue
        adapters = _parse_adapters(entry, path, probs)
        variant = _parse_variant_fields(entry, path, adapters, probs)
        if variant is not None and _is_new_variant(variant, path, seen, probs):
            out.append(variant)
    return tuple(out)


def _parse_variant_fields(
    obj: dict[str, Any], path: str, adapters: tuple[AdapterSpec, ...], probs: Problems
) -> BaseVariant | None:
    name = mc.get_string(
        obj,
        "name",
        path,
        probs,
        required=True,
        check=mc.check_base_name,
        expected=mc.BASE_NAME_EXPECTATION,
    )
    sha = mc.get_string(
        obj,
        "sha256",
        path,
        probs,
        check=lambda s: s == "" or is_sha256_hex(s),
        expected='"" or 64 lower-case hex digits (the base digest)',
    )
    template = mc.get_string(obj, "prompt_template", path, probs)
    if name is None:
        return None
    return BaseVariant(name, sha or "", template, adapters)


def _parse_adapters(obj: dict[str, Any], parent: str, probs: Problems) -> tuple[AdapterSpec, ...]:
    path = key_path(parent, "adapters")
    value = obj.get("adapters", MISSING)
    if not isinstance(value, list) or not value:
        probs.add(path, value, "a non-empty list of adapters (type, r, alpha, target_modules)")
        return ()
    out = (_parse_adapter(a, item_path(path, i), probs) for i, a in enumerate(value))
    return tuple(a for a in out if a is not None)


def _parse_adapter(obj: Any, path: str, probs: Problems) -> AdapterSpec | None:
    if not isinstance(obj, dict):
        probs.add(path, obj, "an adapter object with type and target_modules")
        return None
    kind = _parse_adapter_type(obj, path, probs)
    r: int | None = None
    alpha: float | None = None
    if kind == "ia3":
        for key in ("r", "alpha"):  # IA3 learns scaling vectors; a rank means a mistake
            if key in obj and not probs.absent_null(key_path(path, key), obj[key]):
                probs.add(key_path(path, key), obj[key], f"no {key} for an ia3 adapter")
    else:
        if obj.get("r") is not None:
            r = mc.get_int(obj, "r", path, probs, lo=1, hi=MAX_RANK, default=None)
        elif kind is not None:  # absent or null: a lora/dora rank is missing either way
            probs.add(
                key_path(path, "r"),
                obj.get("r", MISSING),
                f"an integer from 1 to {MAX_RANK} for {kind}",
            )
        alpha = mc.get_number(
            obj, "alpha", path, probs, expected="a number > 0", check=lambda v: v > 0, default=None
        )
    modules = mc.get_string_list(
        obj,
        "target_modules",
        path,
        probs,
        required=True,
        min_items=1,
        item_expected="a module name such as q_proj",
    )
    if kind is None:
        return None
    return AdapterSpec(kind, r, alpha, modules)


def _parse_adapter_type(obj: dict[str, Any], path: str, probs: Problems) -> str | None:
    value = obj.get("type", MISSING)
    kind = value.lower() if isinstance(value, str) else None
    if kind in ADAPTER_TYPES:
        return kind
    if kind in UNSUPPORTED_ADAPTER_TYPES:
        probs.add(
            key_path(path, "type"),
            value,
            f"a supported adapter type: {kind} is not supported (use lora, dora or ia3)",
        )
    else:
        probs.add(key_path(path, "type"), value, "one of lora, dora, ia3")
    return None


def _is_new_variant(variant: BaseVariant, path: str, seen: dict[str, str], probs: Problems) -> bool:
    """Names must be unique, and slugs too: a slug names the package file and the store
    directory of a variant (§3), so two variants sharing one would overwrite each other."""
    first = seen.get(variant.slug)
    if first is None:
        seen[variant.slug] = variant.name
        return True
    if first == variant.name:
        probs.add(key_path(path, "name"), variant.name, "a base model name not already listed")
    else:
        probs.add(
            key_path(path, "name"),
            variant.name,
            f"a base model whose slug differs from that of {first!r} (both give {variant.slug!r})",
        )
    return False


def _parse_routing(raw: dict[str, Any], probs: Problems) -> Routing | None:
    routing = mc.get_object(raw, "routing", "", probs)
    if routing is None:
        return None
    keywords = mc.get_string_list(routing, "keywords", "routing", probs)
    exclude = mc.get_string_list(routing, "exclude_keywords", "routing", probs)
    priority = mc.get_number(
        routing,
        "priority",
        "routing",
        probs,
        expected="a number from 0 to 1",
        check=lambda v: 0 <= v <= 1,
        default=DEFAULT_PRIORITY,
    )
    return Routing(keywords, exclude, DEFAULT_PRIORITY if priority is None else priority)
