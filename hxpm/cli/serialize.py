"""Stable JSON shapes for what the services return."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: `hxpm list` must not pay for zstandard or PyNaCl imports
    from hxpm.package.build import BuiltPackage
    from hxpm.package.reader import PackageContents
    from hxpm.store.records import BaseModel, InstalledExpert
    from hxpm.trust_policy import TrustedKey


def expert_dict(e: InstalledExpert, *, is_default: bool | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": e.name,
        "version": e.version,
        "base_model": e.base_model,
        "manifest_base_model": e.manifest_base_name,  # legacy manifests: a local path
        "description": e.manifest.get("description", ""),
        "signed": e.signed,
        "publisher": e.publisher,
        "key_id": e.key_id,
        "unsafe_unsigned": e.unsafe_unsigned,
        "sha256": e.sha256,
        "tree_sha256": e.tree_sha256,
        "size": e.size,
        "path": str(e.path),
        "source": e.source,
        "installed_at": e.installed_at,
    }
    if is_default is not None:
        d["default"] = is_default
    return d


def base_dict(b: BaseModel) -> dict[str, Any]:
    return {
        "name": b.name,
        "path": str(b.path),
        "sha256": b.sha256,
        "default": b.is_default,
        "added_at": b.added_at,
        "source": b.source,
    }


def trusted_key_dict(k: TrustedKey) -> dict[str, Any]:
    return {
        "key_id": k.key_id,
        "public_key": k.public_key.text,
        "publisher": k.publisher,
        "experts": list(k.scopes),
        "added_at": k.added_at,
        "source": k.source,
    }


def contents_dict(c: PackageContents) -> dict[str, Any]:
    return {
        "name": c.manifest.name,
        "version": str(c.manifest.version),
        "base_models": [v.name for v in c.manifest.variants],
        "sha256": c.sha256,
        "tree_sha256": c.tree_sha256,
        "size": c.size,
        "compression": c.compression,
        "legacy": c.legacy,
        "members": [{"path": m.path, "size": m.size, "sha256": m.sha256} for m in c.members],
        "manifest": c.manifest.to_dict(),
    }


def built_dict(b: BuiltPackage) -> dict[str, Any]:
    return {
        "path": str(b.path),
        "name": b.name,
        "version": b.version,
        "base_model": b.base_model,
        "base_sha256": b.base_sha256,
        "sha256": b.sha256,
        "tree_sha256": b.tree_sha256,
        "size": b.size,
    }


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
