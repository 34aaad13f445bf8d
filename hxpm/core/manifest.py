"""The expert manifest (``manifest.json``, docs/architecture.md §2): schema 1.0 and 2.0.

hxpm reads both legacy layouts and keeps every field it does not model: ``Manifest.raw`` is
the whole parsed document, and ``to_dict``/``to_json_bytes`` write it back unchanged (the
original tool dropped unknown fields when it re-serialised). The typed fields are the ones
hxpm acts on; they are validated strictly, and validation reports every problem at once.
``docs/manifest.schema.json`` states the same rules as a JSON Schema.

What the older tool's manifests hold that hxpm accepts with a warning (``Manifest.warnings``)
and keeps verbatim: ``null`` for an optional field (read as absent), capabilities without a
namespace, a repeated comment key (``_comment`` twice in one object: ``to_json_bytes``
writes both back), and a soft prompt saved as a PyTorch pickle (never packaged or loaded).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hxpm.core import manifest_checks as mc
from hxpm.core.digest import is_sha256_hex
from hxpm.core.manifest_checks import MISSING, Problems, item_path, key_path
from hxpm.core.names import NAME_EXPECTATION, base_slug, is_valid_name
from hxpm.core.strictjson import DuplicateKey, dumps_document
from hxpm.core.versions import Requirement, Version
from hxpm.errors import HxpmError, ManifestError, NotFoundError

MAX_MANIFEST_BYTES = mc.MAX_MANIFEST_BYTES
SCHEMA_VERSIONS = ("1.0", "2.0")
ADAPTER_TYPES = ("lora", "dora", "ia3")
# Types the original schema lists that no runtime here can load: name them precisely.
UNSUPPORTED_ADAPTER_TYPES = ("lokr", "adalora", "lora-fa", "loha", "vera")
DEFAULT_PRIORITY = 0.5
DEFAULT_LOAD_ORDER = 0
DEFAULT_MAX_CHAIN = 10
MAX_CHAIN_LIMIT = 64
MAX_RANK = 256
VERSION_EXPECTATION = "a SemVer 2.0 version such as 1.2.3 or 1.0.0-rc.1"
ERROR_HINT = "See docs/formats/manifest.md for every manifest field and its rules."


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    type: str  # "lora" | "dora" | "ia3", lower-cased
    r: int | None
    alpha: float | None
    target_modules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BaseVariant:
    name: str
    sha256: str  # "" when the manifest has none (legacy manifests ship "")
    prompt_template: str | None
    adapters: tuple[AdapterSpec, ...]

    @property
    def slug(self) -> str:
        return base_slug(self.name)


@dataclass(frozen=True, slots=True)
class Routing:
    keywords: tuple[str, ...]
    exclude_keywords: tuple[str, ...]
    priority: float = DEFAULT_PRIORITY


@dataclass(frozen=True)
class Manifest:
    # The whole document, unknown fields included. Not in the hash: dicts are unhashable.
    raw: dict[str, Any] = field(repr=False, hash=False)
    name: str
    version: Version
    schema_version: str
    description: str
    license: str | None
    variants: tuple[BaseVariant, ...]
    requires: tuple[Requirement, ...]
    incompatible_with: tuple[Requirement, ...]
    load_order: int
    max_chain: int
    capabilities: tuple[str, ...]
    routing: Routing | None
    # What was accepted from the older tool's dialect, one line each; not part of equality.
    warnings: tuple[str, ...] = field(default=(), compare=False, hash=False)

    @classmethod
    def from_dict(cls, data: object, *, source: str = "manifest.json") -> Manifest:
        """Validate a parsed document; raise one ManifestError listing every problem."""
        return cls._validated(data, source, ())

    @classmethod
    def _validated(
        cls, data: object, source: str, duplicates: tuple[DuplicateKey, ...]
    ) -> Manifest:
        probs = Problems(null_is_absent=True)
        if not isinstance(data, dict):
            probs.add("$", data, "a JSON object")
            raise _manifest_error(source, probs)
        mc.check_json_values(data, "", probs)
        if probs:  # not JSON-shaped: the field checks below would only add noise
            raise _manifest_error(source, probs)
        # A private copy: later changes to the caller's dict must not reach a valid Manifest.
        raw: dict[str, Any] = copy.deepcopy(data)
        fields = _parse_fields(raw, probs)
        if probs:
            raise _manifest_error(source, probs)
        return cls(raw=raw, **fields, warnings=_warnings(probs, duplicates))

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "manifest.json") -> Manifest:
        """Parse UTF-8 JSON text (a BOM is tolerated) and validate it.

        Unlike ``from_dict`` this sees the text, so a repeated comment key is accepted
        (and kept for ``to_json_bytes``) with a warning naming its path.
        """
        value, duplicates = mc.decode_json(bytes(data), source, MAX_MANIFEST_BYTES)
        return cls._validated(value, source, duplicates)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        path = Path(path)
        try:
            with path.open("rb") as f:
                data = f.read(MAX_MANIFEST_BYTES + 1)  # one byte more tells "too big" apart
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"{path}: no such manifest file") from None
        except IsADirectoryError:
            raise NotFoundError(
                f"{path}: is a directory, expected a manifest.json file",
                hint=f"Pass {path / 'manifest.json'}.",
            ) from None
        except OSError as exc:
            raise ManifestError(f"{path}: cannot read the manifest: {exc.strerror}") from None
        return cls.from_bytes(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the document: unknown fields and ``_comment``s included."""
        return copy.deepcopy(self.raw)

    def to_json_bytes(self) -> bytes:
        """Deterministic text: 2-space indent, UTF-8, key order kept, trailing newline.

        Repeated comment keys read by ``from_bytes`` are written back, every copy in place.
        """
        return (dumps_document(self.raw) + "\n").encode("utf-8")

    def variant_for(self, base_name: str) -> BaseVariant:
        """The variant built for ``base_name``.

        An exact name wins; otherwise a variant whose slug equals the name's slug matches,
        so that a legacy manifest naming a local path (``F:/models/Qwen3-0.6B``) is found
        by the canonical id (``Qwen/Qwen3-0.6B``). Slugs are unique within a manifest, so
        this is never ambiguous; the base digest, not the name, is the safety check.
        """
        for variant in self.variants:
            if variant.name == base_name:
                return variant
        slug = _slug_or_none(base_name)
        if slug is not None:
            for variant in self.variants:
                if variant.slug == slug:
                    return variant
        have = ", ".join(repr(v.name) for v in self.variants)
        raise NotFoundError(
            f"{self.name} {self.version} has no variant for base model {base_name!r}; "
            f"it has: {have}",
            hint="Use one of those base models, or ask the publisher for a build for yours.",
        )

    def reduced_to(self, base_name: str) -> Manifest:
        """This manifest with only the variant for ``base_name`` (what a package ships)."""
        variant = self.variant_for(base_name)
        if self.schema_version == "1.0":
            return self  # a v1 manifest has exactly one variant already
        index = self.variants.index(variant)
        raw = copy.deepcopy(self.raw)
        raw["base_models"] = [raw["base_models"][index]]  # same key, so key order is kept
        return replace(self, raw=raw, variants=(variant,))


# --- parsing -------------------------------------------------------------------------------


def _parse_fields(raw: dict[str, Any], probs: Problems) -> dict[str, Any]:
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


# --- reporting -----------------------------------------------------------------------------


def _warnings(probs: Problems, duplicates: tuple[DuplicateKey, ...]) -> tuple[str, ...]:
    out = [
        f"{mc.printable(d.path)}: comment key repeated {d.count} times; accepted and every "
        "copy kept (the older expert-cli's authors repeat comment keys)"
        for d in duplicates
    ]
    if probs.nulls:
        out.append(
            "null read as absent (the older expert-cli writes null for unset optional "
            f"fields) and kept as written: {', '.join(map(mc.printable, probs.nulls))}"
        )
    out.extend(probs.warnings)
    return tuple(out)


def _manifest_error(source: str, probs: Problems) -> ManifestError:
    items = probs.items
    shown = "; ".join(p.describe() for p in items[:3])
    more = f" (and {len(items) - 3} more)" if len(items) > 3 else ""
    noun = "problem" if len(items) == 1 else "problems"
    return ManifestError(
        f"{source}: invalid manifest, {len(items)} {noun}: {shown}{more}",
        problems=probs.as_tuples(),
        hint=ERROR_HINT,
    )


def _slug_or_none(name: str) -> str | None:
    try:
        return base_slug(name)
    except HxpmError:
        return None
