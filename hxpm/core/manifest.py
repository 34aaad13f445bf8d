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
from hxpm.core.manifest_checks import Problems
from hxpm.core.manifest_parse import parse_fields
from hxpm.core.manifest_values import BaseVariant, Routing
from hxpm.core.names import base_slug
from hxpm.core.strictjson import DuplicateKey, dumps_document
from hxpm.core.versions import Requirement, Version
from hxpm.errors import HxpmError, ManifestError, NotFoundError

MAX_MANIFEST_BYTES = mc.MAX_MANIFEST_BYTES
ERROR_HINT = "See docs/formats/manifest.md for every manifest field and its rules."


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
        fields = parse_fields(raw, probs)
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
