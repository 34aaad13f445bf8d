"""Author-side use cases: validate a manifest, build packages, inspect a package."""

from __future__ import annotations

from pathlib import Path

from hxpm.core.manifest import Manifest
from hxpm.errors import NotFoundError
from hxpm.package.build import BuiltPackage, build_packages
from hxpm.package.reader import PackageContents, read_package
from hxpm.services.grammars import check_expert_grammar
from hxpm.services.quality import check_quality_claims


def validate_manifest(target: Path) -> Manifest:
    """Validate ``DIR/manifest.json`` or a manifest file; raise ManifestError with all problems."""
    target = target.expanduser()
    path = target / "manifest.json" if target.is_dir() else target
    if not path.is_file():
        raise NotFoundError(f"no manifest at {path}")
    manifest = Manifest.load(path)
    # A grammar that does not compile is refused here, not at run time (docs/grammar.md).
    check_expert_grammar(path.parent, manifest.raw)
    return manifest


def package_directory(
    expert_dir: Path, *, base: str | None = None, out_dir: Path | None = None
) -> list[BuiltPackage]:
    expert_dir = expert_dir.expanduser().resolve()
    if not expert_dir.is_dir():
        raise NotFoundError(f"no expert directory at {expert_dir}")
    if (expert_dir / "manifest.json").is_file():
        raw = Manifest.load(expert_dir / "manifest.json").raw
        check_expert_grammar(expert_dir, raw)
        check_quality_claims(expert_dir, raw)  # scores measured on the shipped held-out set
    return build_packages(expert_dir, out_dir or expert_dir / "dist", base=base)


def inspect_package(package: Path) -> PackageContents:
    """Read and check a package without unpacking anything to disk."""
    package = package.expanduser()
    if not package.is_file():
        raise NotFoundError(f"no package file at {package}")
    return read_package(package)
