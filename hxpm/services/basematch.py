"""Which registered base model a package's variant runs on (docs/store.md, "Base models").

Packages name their base in the manifest. New manifests use a model id and a digest
(``Qwen/Qwen3-0.6B`` + sha256); every manifest of the older ecosystem names a local path
(``F:/Node/hivellm/expert/models/Qwen3-0.6B``) and an empty digest. The rule, in order:

1. The variant states a digest: the registered base with that digest matches ("digest"),
   whatever its name. A base of the same name whose digest differs is a mismatch (refused).
2. No digest: a registered base whose full name equals the variant's, ignoring case
   ("model-id").
3. No digest: registered bases whose slug (last path part, lower-cased, ``.``/``_`` as
   ``-``) equals the variant's ("path-part").

Several candidates at the deciding step are ambiguous: refused, naming them, unless the
caller chose one (``--base``). No candidate: the expert is recorded under the manifest's own
name ("unregistered") and a later ``hxpm base add`` re-matches it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hxpm.core.names import base_slug
from hxpm.errors import BaseMismatchError, HxpmError, UsageError
from hxpm.store.records import BaseModel

MatchKind = Literal["digest", "model-id", "path-part", "unregistered"]
MATCH_KINDS: tuple[MatchKind, ...] = ("digest", "model-id", "path-part", "unregistered")


@dataclass(frozen=True, slots=True)
class BaseMatch:
    manifest_base: str  # the name the manifest gives, kept for display
    base: BaseModel | None  # None: no registered base matched
    kind: MatchKind

    @property
    def name(self) -> str:
        """The name the store records the expert under."""
        return self.base.name if self.base is not None else self.manifest_base


def _slug_or_none(name: str) -> str | None:
    try:
        return base_slug(name)
    except HxpmError:
        return None


def _name_candidates(
    variant_name: str, bases: Sequence[BaseModel]
) -> tuple[MatchKind, list[BaseModel]]:
    """The first step of rules 2-3 that finds anything, and what it found."""
    same_id = [b for b in bases if b.name.casefold() == variant_name.casefold()]
    if same_id:
        return "model-id", same_id
    slug = _slug_or_none(variant_name)
    return "path-part", [b for b in bases if slug is not None and _slug_or_none(b.name) == slug]


def match_base(
    variant_name: str, variant_sha256: str, bases: Sequence[BaseModel], *, prefer: str | None = None
) -> BaseMatch:
    """Apply the rule above. ``prefer`` (a ``--base`` NAME) settles a tie it is part of.

    Raises:
        BaseMismatchError: the variant states a digest that no registered base has, but a
            base of the same name or last path part is registered.
        UsageError: several registered bases match equally well and ``prefer`` is none of them.
    """
    digest = variant_sha256.lower()
    if digest:
        hits = [b for b in bases if b.sha256.lower() == digest]
        if hits:
            return BaseMatch(variant_name, _one(variant_name, hits, prefer, "digest"), "digest")
        kind, named = _name_candidates(variant_name, bases)
        if named:
            raise BaseMismatchError(
                f"the package was built for {variant_name} with digest {digest[:16]}…, but "
                f"your registered {named[0].name} has digest {named[0].sha256[:16]}…",
                hint="Install a variant built for your base, or register the matching base files.",
            )
        return BaseMatch(variant_name, None, "unregistered")
    kind, named = _name_candidates(variant_name, bases)
    if not named:
        return BaseMatch(variant_name, None, "unregistered")
    return BaseMatch(variant_name, _one(variant_name, named, prefer, kind), kind)


def _one(
    variant_name: str, hits: list[BaseModel], prefer: str | None, kind: MatchKind
) -> BaseModel:
    if len(hits) == 1:
        return hits[0]
    chosen = [b for b in hits if b.name == prefer]
    if chosen:
        return chosen[0]
    exact = [b for b in hits if b.name == variant_name]
    if exact:  # the same digest registered twice: the one with the manifest's name
        return exact[0]
    names = sorted(b.name for b in hits)
    raise UsageError(
        f"the package's base {variant_name!r} matches {len(names)} registered base models "
        f"({describe_kind(kind)}): {', '.join(names)}",
        hint=f"Choose one with --base NAME (e.g. --base {names[0]}), or remove the one you "
        "do not use with `hxpm base remove NAME`.",
        details={"manifest_base": variant_name, "candidates": names},
    )


def matching_bases(
    variant_name: str, variant_sha256: str, bases: Sequence[BaseModel]
) -> list[BaseModel]:
    """Every registered base the rule could pick: one, several when it is ambiguous (the
    chosen base then decides), none when nothing matches or a stated digest differs."""
    if variant_sha256:
        return [b for b in bases if b.sha256.lower() == variant_sha256.lower()]
    return _name_candidates(variant_name, bases)[1]


def describe_kind(kind: str) -> str:
    return {
        "digest": "same digest",
        "model-id": "same model id, ignoring case; the manifest states no digest",
        "path-part": "same last path part, ignoring case; the manifest states no digest",
        "unregistered": "no registered base matched",
    }.get(kind, kind)


def describe_match(
    manifest_base: str, recorded_base: str, kind: str | None, registered: bool
) -> str:
    """One line for `hxpm info`: which registered base an expert runs on, and why."""
    if kind is None:  # installed before hxpm recorded how bases match
        if registered:
            return f"{recorded_base} (registered)"
        return f"{recorded_base} is not registered"
    if kind == "unregistered" or not registered:
        return (
            f"none: no registered base matches {manifest_base!r}; `hxpm base add "
            f"MODEL-ID --path DIR` re-matches installed experts"
        )
    if manifest_base == recorded_base:
        return f"{recorded_base} ({describe_kind(kind)})"
    return f"{recorded_base}, for the manifest's {manifest_base!r} ({describe_kind(kind)})"
