"""What `hxpm train` and `hxpm eval` both resolve before a model loads.

The expert's variant for the registered base (built for its digest), the ``requires`` closure
over installed experts, the folder its adapter files go to, and the runtime module itself.
Everything here is refused without torch, so that a bad request fails in milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from hxpm.core.digest import digests_equal
from hxpm.core.manifest import Manifest
from hxpm.core.manifest_values import BaseVariant
from hxpm.errors import BaseMismatchError, NotFoundError, RuntimeMissingError, UsageError
from hxpm.package.build import WEIGHTS_DIR
from hxpm.services.expertset import installed_set
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store

MANIFEST = "manifest.json"


def weights_dir(expert_dir: Path, manifest: Manifest, variant: BaseVariant) -> Path:
    """Where a variant's adapter files go: ``weights/<base-slug>/`` when the manifest has
    several variants (or that folder exists already: packaging prefers it), else the root."""
    folder = expert_dir / WEIGHTS_DIR / variant.slug
    return folder if len(manifest.variants) > 1 or folder.is_dir() else expert_dir


def variant_for_base(manifest: Manifest, base: BaseModel) -> BaseVariant:
    """The manifest's variant for ``base``, built for its registered digest ("" accepted)."""
    try:
        variant = manifest.variant_for(base.name)
    except NotFoundError as e:
        raise BaseMismatchError(
            e.message,
            hint=f"Add a base_models entry for {base.name} "
            "(sha256: the digest `hxpm base list` shows), or use --base.",
            details={"expert": manifest.name, "base": base.name},
        ) from None
    if variant.sha256 and not digests_equal(variant.sha256.lower(), base.sha256.lower()):
        raise BaseMismatchError(
            f"{manifest.name}: its variant for {base.name} was built for base digest "
            f"{variant.sha256[:12]}…, but the registered {base.name} is {base.sha256[:12]}…",
            hint="Set the variant's sha256 to the registered digest (hxpm base list), or "
            "register the base it names.",
            details={"expert": manifest.name, "expected": variant.sha256, "base": base.sha256},
        )
    return variant


def requires_closure(
    store: Store, manifest: Manifest, base: BaseModel
) -> tuple[InstalledExpert, ...]:
    """The installed experts the manifest requires (transitively), in load order."""
    specs = (manifest.raw.get("constraints") or {}).get("requires") or []
    if not specs:
        return ()
    found = installed_set(store, [str(s) for s in specs], base=base.name).experts
    if any(e.name == manifest.name for e in found):
        raise UsageError(
            f"{manifest.name} requires itself (through its requires closure)",
            hint="Remove the cycle from constraints.requires.",
        )
    return found


def runtime_module(module: str) -> ModuleType:
    """``hxpm.runtime.<module>``, or RuntimeMissingError naming what is missing."""
    import importlib

    try:
        return importlib.import_module(f"hxpm.runtime.{module}")
    except ImportError as e:
        raise RuntimeMissingError(
            f"this command needs the hxpm runtime ({e.name} is not installed)"
        ) from None
