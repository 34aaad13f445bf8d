"""Author-side use cases: validate a manifest, build packages, inspect a package."""

from __future__ import annotations

from pathlib import Path

from hxpm.core.manifest import Manifest
from hxpm.errors import NotFoundError
from hxpm.package.build import BuiltPackage, build_packages
from hxpm.package.reader import PackageContents, read_package


def validate_manifest(target: Path) -> Manifest:
    """Validate ``DIR/manifest.json`` or a manifest file; raise ManifestError with all problems."""
    target = target.expanduser()
    path = target / "manifest.json" if target.is_dir() else target
    if not path.is_file():
        raise NotFoundError(f"no manifest at {path}")
    return Manifest.load(path)


def package_directory(
    expert_dir: Path, *, base: str | None = None, out_dir: Path | None = None
) -> list[BuiltPackage]:
    expert_dir = expert_dir.expanduser().resolve()
    if not expert_dir.is_dir():
        raise NotFoundError(f"no expert directory at {expert_dir}")
    return build_packages(expert_dir, out_dir or expert_dir / "dist", base=base)


def inspect_package(package: Path) -> PackageContents:
    """Read and check a package without unpacking anything to disk."""
    package = package.expanduser()
    if not package.is_file():
        raise NotFoundError(f"no package file at {package}")
    return read_package(package)
