"""The version line ``hxpm publish`` appends for a manifest (docs/formats/index.md).

Kept apart from :mod:`hxpm.index.model` so that reading lines never imports the manifest
model: only publishing (and a Git source's candidate) needs it.
"""

from __future__ import annotations

from collections.abc import Sequence

from hxpm.core.manifest import Manifest
from hxpm.core.manifest_values import DEFAULT_PRIORITY
from hxpm.index.model import SourceRef, VariantEntry, VersionLine, line_doc
from hxpm.index.model_checks import bad
from hxpm.index.routing_summary import RoutingSummary

__all__ = ["line_from_manifest"]


def line_from_manifest(
    manifest: Manifest,
    source: SourceRef,
    variants: Sequence[VariantEntry],
    routing_profile: RoutingSummary | None = None,
) -> VersionLine:
    """The line ``hxpm publish`` appends for ``manifest`` built at ``source``
    (``routing_profile``: the summary of the packages' routing profile, if they have one).

    Raises:
        IndexDataError: no variants, a variant for a base model the manifest does not list
            (or with another base digest), or a signature that is not for this version.
    """
    where = f"{manifest.name} {manifest.version}"
    for i, variant in enumerate(variants):
        _check_against_manifest(manifest, i, variant, where)
    routing = manifest.routing
    doc = line_doc(
        manifest,
        source,
        routing.keywords if routing else (),
        routing.exclude_keywords if routing else (),
        routing.priority if routing else DEFAULT_PRIORITY,
        variants,
        False,
        routing_profile,
    )
    return VersionLine.from_doc(doc, where)


def _check_against_manifest(manifest: Manifest, i: int, variant: VariantEntry, where: str) -> None:
    """A published variant must be one the manifest lists, with the same base digest."""
    listed = {v.name: v for v in manifest.variants}
    base = listed.get(variant.base_model)
    at = f"variants[{i}].base_model"
    if base is None:
        raise bad(
            at,
            variant.base_model,
            f"a base model the manifest lists ({', '.join(map(repr, listed))})",
            where=where,
            hint=None,
        )
    if base.sha256 and base.sha256 != variant.base_sha256:
        raise bad(
            f"variants[{i}].base_sha256",
            variant.base_sha256,
            f"{base.sha256} (the manifest's digest for {base.name})",
            where=where,
            hint=None,
        )
