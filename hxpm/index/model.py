"""The Git index data model: one version line of one expert (docs/architecture.md §5).

``config.json`` is modelled in :mod:`hxpm.index.config`; field readers and value checks
live in :mod:`hxpm.index.model_checks`; a whole expert file (many lines) is read and written
by :mod:`hxpm.index.expert_file`, and the line ``hxpm publish`` makes of a manifest by
:mod:`hxpm.index.manifest_line`.
Pure values and strict parsing, no I/O (the format: docs/formats/index.md). Invariants:

- Every object here is valid: parsing checks every field, and the dataclasses check their
  own values on construction, so a value built in code is as sound as one read from Git.
- ``raw`` is the whole document as read, unknown fields included (forward compatibility);
  writing merges the typed fields back into it, so unknown fields survive a rewrite and a
  line read from an index is written back byte for byte (hxpm writes compact JSON).
- A variant's embedded signature must describe that very line: name, version, base model
  and digests. A line carrying another package's signature is refused as malformed, before
  any trust decision (which needs the user's keys and lives in :mod:`hxpm.trust_policy`).

The manifest model and signing are imported only where a line is checked or written: a
dry run rebuilds lines from the index cache's verified records (:mod:`hxpm.index.verified`)
and needs only these classes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from hxpm.core.manifest_values import (
    DEFAULT_LOAD_ORDER,
    DEFAULT_MAX_CHAIN,
    DEFAULT_PRIORITY,
    MAX_CHAIN_LIMIT,
)
from hxpm.core.names import NAME_EXPECTATION, base_slug, is_valid_name
from hxpm.core.versions import Requirement, Version
from hxpm.errors import HxpmError, IndexDataError
from hxpm.index import model_checks as ck
from hxpm.index.model_checks import MISSING, Fields, bad, relocate, render_requirement
from hxpm.index.routing_summary import SUMMARY_EXPECTATION, RoutingSummary, parse_routing_summary

if TYPE_CHECKING:
    from hxpm.core.manifest import Manifest
    from hxpm.package.signing import Statement

__all__ = [
    "LINE_VERSION",
    "SourceRef",
    "VariantEntry",
    "VersionLine",
    "line_doc",
    "shard_path",
]

LINE_VERSION = 1
MAX_LINE_BYTES = 1 << 20
VERSION_EXPECTATION = "a SemVer version in canonical form, such as 1.2.3 or 1.0.0-rc.1"


# Defaults of the optional line fields: a line that leaves them out is written back without
# them, so hand-written lines keep their text (see model_checks.merge).
_LINE_DEFAULTS: dict[str, Any] = {
    "description": "",
    "requires": [],
    "incompatible_with": [],
    "load_order": DEFAULT_LOAD_ORDER,
    "max_chain": DEFAULT_MAX_CHAIN,
    "capabilities": [],
    "routing": {"keywords": [], "exclude_keywords": [], "priority": DEFAULT_PRIORITY},
    "variants": ck.EachItem({"path": None, "url": None}),
    "yanked": False,
}


def shard_path(name: str) -> str:
    """Where an expert's file lives in an index: Cargo's tiers under ``experts/``.

    ``a`` -> ``experts/1/a``, ``ab`` -> ``experts/2/ab``, ``abc`` -> ``experts/3/a/abc``,
    ``expert-sql`` -> ``experts/ex/pe/expert-sql``.

    Raises:
        IndexDataError: ``name`` is not an expert name (it could escape the directory).
    """
    if not is_valid_name(name):
        raise bad("expert name", name, NAME_EXPECTATION, hint=None)
    if len(name) <= 2:
        return f"experts/{len(name)}/{name}"
    if len(name) == 3:
        return f"experts/3/{name[0]}/{name}"
    return f"experts/{name[:2]}/{name[2:4]}/{name}"


# --- small values --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a version was built from: repository, tag and the commit the tag named."""

    git: str
    tag: str
    commit: str  # 40 lower-case hex digits

    def __post_init__(self) -> None:
        ck.check_source(self.git, self.tag, self.commit)

    def to_dict(self) -> dict[str, str]:
        return {"git": self.git, "tag": self.tag, "commit": self.commit}


@dataclass(frozen=True, slots=True)
class VariantEntry:
    """One package of a version, for one base model, and where its bytes are.

    Exactly one of ``path`` (inside the source repository at the line's commit) and ``url``
    (HTTP(S)) is set. ``signature`` is the ``.sig`` file text; its statement must describe
    this variant (checked here) and the line's expert and version (checked by the line).
    """

    base_model: str
    base_sha256: str  # "" for a legacy build whose base digest is unknown
    path: str | None
    url: str | None
    size: int
    sha256: str
    tree_sha256: str
    signature: str
    # None only in a variant rebuilt from the index cache's verified record, where it is
    # parsed on first use (hxpm.index.verified).
    _statement: Statement | None = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        values = {name: getattr(self, name) for name in _VARIANT_FIELDS}
        object.__setattr__(self, "_statement", ck.check_variant(values))

    @property
    def statement(self) -> Statement:
        """The signed statement inside ``signature`` (parsed and checked on construction)."""
        statement = self._statement
        if statement is None:
            from hxpm.package.signing import parse_signature_file

            statement = parse_signature_file(self.signature).statement
            object.__setattr__(self, "_statement", statement)
        return statement

    @property
    def key_id(self) -> str:
        """The id of the key that made ``signature`` (whether it is trusted is not known)."""
        return self.statement.key_id

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _VARIANT_FIELDS}


_VARIANT_FIELDS = (
    "base_model",
    "base_sha256",
    "path",
    "url",
    "size",
    "sha256",
    "tree_sha256",
    "signature",
)


# --- version lines -------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionLine:
    """One published version of one expert: one line of ``experts/<shard>/<name>``."""

    name: str
    version: Version
    description: str
    source: SourceRef
    requires: tuple[Requirement, ...]
    incompatible_with: tuple[Requirement, ...]
    load_order: int
    max_chain: int
    capabilities: tuple[str, ...]
    keywords: tuple[str, ...]
    exclude_keywords: tuple[str, ...]
    priority: float
    variants: tuple[VariantEntry, ...]
    yanked: bool
    raw: dict[str, Any] = field(repr=False, hash=False)
    routing_profile: RoutingSummary | None = None  # optional routing.profile (search --prompt)

    def __post_init__(self) -> None:
        if not is_valid_name(self.name):
            raise bad("name", self.name, NAME_EXPECTATION)
        if not isinstance(self.version, Version):
            raise bad("version", self.version, VERSION_EXPECTATION)
        if not self.variants:
            raise bad("variants", [], "at least one variant")
        slugs: dict[str, int] = {}
        for i, variant in enumerate(self.variants):
            _check_variant_in_line(self, i, variant, slugs)

    @classmethod
    def parse(cls, text: str | bytes, *, where: str) -> VersionLine:
        """Parse one line strictly; ``where`` (file and line) starts every error message.

        Raises:
            IndexDataError: not JSON, not an object, an unknown ``v``, a missing or mistyped
                field, a bad name, version, requirement or digest, or a variant whose
                signature describes another package.
        """
        if len(text) > MAX_LINE_BYTES:
            raise bad(
                "", f"{len(text)} bytes", f"a line of at most {MAX_LINE_BYTES} bytes", where=where
            )
        return cls.from_doc(ck.decode_object(text, where, "a version line"), where)

    @classmethod
    def from_doc(cls, doc: dict[str, Any], where: str) -> VersionLine:
        """The line ``doc`` (a decoded JSON object) describes, checked as :meth:`parse`.

        Raises:
            IndexDataError: as :meth:`parse`.
        """
        from hxpm.core.manifest_checks import (
            MANIFEST_CAPABILITY_EXPECTATION,
            check_listed_capability,
        )

        f = Fields(doc, where)
        _check_line_format(f, LINE_VERSION)
        routing = f.child("routing", required=False)
        values: dict[str, Any] = {
            "name": f.string("name", check=is_valid_name, expected=NAME_EXPECTATION),
            "version": ck.read_version(f, VERSION_EXPECTATION),
            "description": f.string("description", default=""),
            "source": _parse_source(f.child("source")),
            "requires": ck.read_requirements(f, "requires"),
            "incompatible_with": ck.read_requirements(f, "incompatible_with"),
            "load_order": f.integer("load_order", lo=0, hi=None, default=DEFAULT_LOAD_ORDER),
            "max_chain": f.integer(
                "max_chain", lo=1, hi=MAX_CHAIN_LIMIT, default=DEFAULT_MAX_CHAIN
            ),
            "capabilities": f.strings(
                "capabilities",
                check=check_listed_capability,
                expected=MANIFEST_CAPABILITY_EXPECTATION,
            ),
            "keywords": routing.strings("keywords"),
            "exclude_keywords": routing.strings("exclude_keywords"),
            "priority": routing.number("priority", lo=0.0, hi=1.0, default=DEFAULT_PRIORITY),
            "variants": _parse_variants(f),
            "yanked": f.boolean("yanked", default=False),
            "routing_profile": _parse_routing_profile(routing),
        }
        try:
            return cls(raw=doc, **values)
        except IndexDataError as exc:
            raise relocate(exc, where, "") from None

    def to_json_line(self) -> str:
        """Compact JSON on one line, no trailing newline; unknown fields are kept."""
        doc = ck.merge(self.raw, self._typed_doc(), _LINE_DEFAULTS)
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)

    def _typed_doc(self) -> dict[str, Any]:
        return line_doc(
            self,
            self.source,
            self.keywords,
            self.exclude_keywords,
            self.priority,
            self.variants,
            self.yanked,
            self.routing_profile,
        )

    def with_yanked(self, yanked: bool) -> VersionLine:
        """The same line with ``yanked`` set: the only change a published line may get."""
        return replace(self, yanked=bool(yanked), raw={**self.raw, "yanked": bool(yanked)})

    def variant_for(self, base_model: str) -> VariantEntry | None:
        """The variant built for ``base_model``: exact name first, then the same slug (as
        :meth:`Manifest.variant_for`; slugs are unique within a line)."""
        for variant in self.variants:
            if variant.base_model == base_model:
                return variant
        try:
            slug = base_slug(base_model)
        except HxpmError:
            return None
        return next((v for v in self.variants if base_slug(v.base_model) == slug), None)


def _check_variant_in_line(
    line: VersionLine, i: int, variant: VariantEntry, slugs: dict[str, int]
) -> None:
    at = f"variants[{i}]"
    if not isinstance(variant, VariantEntry):
        raise bad(at, variant, "a VariantEntry")
    slug = base_slug(variant.base_model)
    if slug in slugs:
        raise bad(
            f"{at}.base_model",
            variant.base_model,
            f"a base model whose slug differs from variants[{slugs[slug]}] "
            f"(both give {slug!r}, which names the package file)",
        )
    slugs[slug] = i
    signed = variant.statement
    if signed.name != line.name or signed.version != str(line.version):
        raise bad(
            f"{at}.signature",
            f"a signature for {signed.name} {signed.version}",
            f"a signature for {line.name} {line.version} (this line's expert and version)",
            hint="The index line carries another package's signature; do not use it.",
        )


def _check_line_format(f: Fields, current: int) -> None:
    """``v``: the line format; a newer one gets its own message (upgrade hxpm)."""
    v = f.doc.get("v", MISSING)
    if isinstance(v, int) and not isinstance(v, bool) and v > current:
        raise IndexDataError(
            f"{f.where}: index line format v={v} is newer than this hxpm understands; upgrade hxpm",
            hint="Upgrade hxpm to read this index.",
            details={"where": f.where, "field": "v", "value": v, "expected": f"v <= {current}"},
        )
    if not (isinstance(v, int) and not isinstance(v, bool) and v == current):  # not 1.0
        raise f.fail("v", v, f"the integer {current} (the version line format)")


def _parse_routing_profile(f: Fields) -> RoutingSummary | None:
    """``routing.profile``: optional, strict when present (hxpm.index.routing_summary)."""
    value = f.doc.get("profile", MISSING)
    if value is MISSING:
        return None
    try:
        return parse_routing_summary(value)
    except IndexDataError as exc:
        raise f.fail("profile", value, f"{SUMMARY_EXPECTATION} ({exc})") from None


def _parse_source(f: Fields) -> SourceRef:
    values = {
        "git": f.string("git", expected="the expert's Git repository URL"),
        "tag": f.string("tag", expected="the Git tag of this version"),
        "commit": f.string("commit", expected="40 lower-case hex digits"),
    }
    try:
        return SourceRef(**values)
    except IndexDataError as exc:
        raise relocate(exc, f.where, f.path) from None


def _parse_variants(f: Fields) -> tuple[VariantEntry, ...]:
    items = f.array("variants", required=True, what="variant objects")
    if not items:
        raise f.fail("variants", items, "a non-empty list of variant objects")
    out: list[VariantEntry] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad(f"variants[{i}]", item, "a variant object", where=f.where)
        v = Fields(item, f.where, f"variants[{i}]")
        values = {
            "base_model": v.string("base_model", expected="a base model name"),
            "base_sha256": v.string("base_sha256", expected="64 lower-case hex digits"),
            "path": v.doc.get("path"),
            "url": v.doc.get("url"),
            "size": v.get("size", expected=ck.SIZE_EXPECTATION),
            "sha256": v.string("sha256", expected="64 lower-case hex digits"),
            "tree_sha256": v.string("tree_sha256", expected="64 lower-case hex digits"),
            "signature": v.string("signature", expected="the package's .sig file text"),
        }
        try:
            out.append(VariantEntry(**values))
        except IndexDataError as exc:
            raise relocate(exc, f.where, v.path) from None
    return tuple(out)


def line_doc(
    what: VersionLine | Manifest,
    source: SourceRef,
    keywords: Sequence[str],
    exclude_keywords: Sequence[str],
    priority: float,
    variants: Sequence[VariantEntry],
    yanked: bool,
    routing_profile: RoutingSummary | None = None,
) -> dict[str, Any]:
    """A line's fields in their canonical order (a line's own, or a manifest's to publish)."""
    summary = {"profile": routing_profile.to_dict()} if routing_profile is not None else {}
    return {
        "v": LINE_VERSION,
        "name": what.name,
        "version": str(what.version),
        "description": what.description,
        "source": source.to_dict(),
        "requires": [render_requirement(r) for r in what.requires],
        "incompatible_with": [render_requirement(r) for r in what.incompatible_with],
        "load_order": what.load_order,
        "max_chain": what.max_chain,
        "capabilities": list(what.capabilities),
        "routing": {
            "keywords": list(keywords),
            "exclude_keywords": list(exclude_keywords),
            "priority": priority,
            **summary,
        },
        "variants": [v.to_dict() for v in variants],
        "yanked": yanked,
    }
