"""Install: verify first, stage, rename into place, then record in one transaction.

Order of checks for a package file (nothing is decompressed before the first two pass):
1. the detached signature: a key trusted for that expert signed a valid statement (or,
   without a signature, an explicit ``--unsafe-allow-unsigned``);
2. the archive's SHA-256, over the open file, equals the signed one;
3. unpack into private staging, hashing every member; the statement must match what the
   archive really holds (name, version, base, tree digest);
4. the variant must match a registered base (docs/store.md, "Base models"): by digest when
   the manifest states one, else by model id or last path part; the row records the
   registered base, the manifest's own base name and how it matched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hxpm.core.manifest import BaseVariant, Manifest
from hxpm.errors import (
    NotFoundError,
    PackageFormatError,
    SignatureError,
    StoreError,
    UnsignedPackageError,
    UsageError,
)
from hxpm.package.build import build_packages
from hxpm.package.reader import PackageContents, read_package
from hxpm.package.signing import SignatureEnvelope, parse_signature_file
from hxpm.services.basematch import BaseMatch, match_base
from hxpm.services.trust import trusted_keys
from hxpm.store.fsutil import fsync_dir, make_tree_read_only, new_staging_dir, remove_tree
from hxpm.store.records import InstalledExpert
from hxpm.store.state import utc_now
from hxpm.store.store import Store
from hxpm.trust import PackageFacts, VerifiedSignature, verify_signature

MAX_SIG_BYTES = 16 * 1024
ProgressFn = Callable[[str, int, int], None]
Action = Literal["installed", "reinstalled", "already-installed"]


@dataclass(frozen=True, slots=True)
class InstallOptions:
    unsafe_allow_unsigned: bool = False
    force_reinstall: bool = False


@dataclass(frozen=True, slots=True)
class InstallMeta:
    """Where an archive came from, recorded with the install."""

    source: str
    requested: bool = True  # False when only pulled in as a dependency
    index_name: str | None = None
    source_commit: str | None = None
    expected_sha256: str | None = None  # the digest an index line promises, if any
    base: str | None = None  # the registered base the caller chose (settles a tie)


@dataclass(frozen=True, slots=True)
class InstallResult:
    expert: InstalledExpert
    action: Action
    warnings: tuple[str, ...] = field(default=())


def install_package_file(
    store: Store,
    package: Path,
    *,
    signature: Path | None = None,
    options: InstallOptions = InstallOptions(),
    source: str | None = None,
    progress: ProgressFn | None = None,
    base: str | None = None,
) -> InstallResult:
    """Verify and install one ``.expert`` file (signature from ``PKG.sig`` by default).

    ``base`` names the registered base to use when the package's base matches several.
    """
    package = package.expanduser().resolve()
    if not package.is_file():
        raise NotFoundError(f"no package file at {package}")
    sig_path = signature or package.with_name(package.name + ".sig")
    envelope = _load_signature(sig_path, required=signature is not None)
    meta = InstallMeta(source or f"file:{package}", base=base)
    with store.writing():
        return install_archive_locked(store, package, envelope, options, meta, progress)


def install_directory(
    store: Store, expert_dir: Path, *, base: str | None = None,
    options: InstallOptions = InstallOptions(), progress: ProgressFn | None = None,
) -> InstallResult:
    """Package a local expert directory for one base variant, then install that package."""
    expert_dir = expert_dir.expanduser().resolve()
    manifest = Manifest.load(expert_dir / "manifest.json")
    chosen = choose_variant(store, manifest, base)
    with tempfile.TemporaryDirectory(prefix="hxpm-build-") as tmp:
        built = build_packages(expert_dir, Path(tmp), base=chosen.name)[0]
        return install_package_file(store, built.path, options=options,
                                    source=f"dir:{expert_dir}", progress=progress, base=base)


def choose_variant(store: Store, manifest: Manifest, base: str | None) -> BaseVariant:
    """``--base`` if given, else the default base when the expert has it, else the only one."""
    if base is not None:
        return manifest.variant_for(base)
    default = store.db.get_meta("default_base")
    names = [v.name for v in manifest.variants]
    if default in names:
        return manifest.variant_for(default)
    if len(manifest.variants) == 1:
        return manifest.variants[0]
    raise UsageError(
        f"{manifest.name} has {len(names)} base-model variants ({', '.join(names)}) and none "
        "is your default base",
        hint="Pick one with --base NAME, or set a default with `hxpm base default NAME`.",
    )


def _load_signature(path: Path, *, required: bool) -> SignatureEnvelope | None:
    if not path.is_file():
        if required:
            raise NotFoundError(f"no signature file at {path}")
        return None
    if path.stat().st_size > MAX_SIG_BYTES:
        raise SignatureError(f"{path.name}: expected a signature file under 16 KiB")
    return parse_signature_file(path.read_bytes())


def install_archive_locked(
    store: Store, package: Path, envelope: SignatureEnvelope | None,
    options: InstallOptions, meta: InstallMeta, progress: ProgressFn | None = None,
) -> InstallResult:
    """Verify and install one archive. The caller holds ``store.writing()``."""
    warnings: list[str] = []
    trusted = trusted_keys(store)
    expected = meta.expected_sha256
    if envelope is None:
        if not options.unsafe_allow_unsigned:
            raise UnsignedPackageError(
                f"{package.name} is not signed (no {package.name}.sig beside it); "
                "hxpm installs only packages signed by a key you trust"
            )
        warnings.append(f"{package.name} is UNSIGNED: installed only because you passed "
                        "--unsafe-allow-unsigned; nothing vouches for its contents")
    else:
        # Key trust and the signature itself are checked first (and the signed digest
        # against the one an index promised); read_package then holds the file to that
        # digest before it decompresses a single byte.
        st = envelope.statement
        expected = expected or st.sha256
        verify_signature(envelope, PackageFacts(st.name, st.version, st.base_model,
                                                st.base_sha256, st.tree_sha256, expected),
                         trusted)
    stage = new_staging_dir(store.paths.tmp, "install")
    try:
        contents = read_package(package, extract_to=stage, expected_sha256=expected,
                                progress=progress)
        warnings.extend(contents.warnings)  # legacy members skipped, older manifest dialect
        variant = _single_variant(contents)
        verified = None
        if envelope is not None:
            verified = verify_signature(envelope, _facts(contents, variant), trusted)
        match = _check_base(store, variant, meta.base, warnings)
        return _commit(store, contents, match, stage, verified, options, meta, warnings)
    except OSError as e:
        raise StoreError(f"could not write {package.name} into the store: {e}") from e
    finally:
        remove_tree(stage)


def _facts(contents: PackageContents, variant: BaseVariant) -> PackageFacts:
    m = contents.manifest
    return PackageFacts(m.name, str(m.version), variant.name, variant.sha256,
                        contents.tree_sha256, contents.sha256)


def _single_variant(contents: PackageContents) -> BaseVariant:
    variants = contents.manifest.variants
    if len(variants) != 1:
        raise PackageFormatError(
            f"a package must hold exactly one base-model variant, got {len(variants)}"
        )
    return variants[0]


def _check_base(store: Store, variant: BaseVariant, chosen: str | None,
                warnings: list[str]) -> BaseMatch:
    match = match_base(variant.name, variant.sha256, store.db.bases(), prefer=chosen)
    if match.base is None:
        warnings.append(f"base model {variant.name!r} is not registered; register it with "
                        "`hxpm base add MODEL-ID --path DIR` before running this expert "
                        "(installed experts are matched to it then)")
    elif not variant.sha256:
        warnings.append(f"the package does not state the digest of {variant.name!r}; "
                        f"matched to your registered {match.base.name} by "
                        f"{'model id' if match.kind == 'model-id' else 'last path part'}, "
                        "so its files cannot be checked against the package")
    return match


def _commit(
    store: Store, contents: PackageContents, match: BaseMatch, stage: Path,
    verified: VerifiedSignature | None, options: InstallOptions, meta: InstallMeta,
    warnings: list[str],
) -> InstallResult:
    m = contents.manifest
    version = str(m.version)
    variant = _single_variant(contents)
    existing = store.db.find_installed(m.name, version, match.name)
    # A copy recorded under the manifest's name before its base was registered is the same
    # install: replace that row rather than keep two.
    unmatched = (store.db.find_installed(m.name, version, variant.name)
                 if match.name != variant.name else None)
    existing = existing or unmatched
    if existing and existing.tree_sha256 == contents.tree_sha256 and existing.path.is_dir() \
            and existing.base_model == match.name:
        return InstallResult(existing, "already-installed", tuple(warnings))
    if existing and existing.tree_sha256 != contents.tree_sha256 and not options.force_reinstall:
        raise UsageError(
            f"{m.name} {version} for {variant.name} is already installed with other contents "
            f"(tree {existing.tree_sha256[:16]}…, new {contents.tree_sha256[:16]}…)",
            hint="Published versions should never change; pass --force-reinstall to replace it.",
        )
    final = store.paths.expert_dir(m.name, version, variant.slug, contents.tree_sha256)
    remove_tree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    make_tree_read_only(stage)
    os.replace(stage, final)
    fsync_dir(final.parent)
    record = InstalledExpert(
        name=m.name, version=version, base_model=match.name, base_slug=variant.slug,
        base_sha256=variant.sha256, sha256=contents.sha256, tree_sha256=contents.tree_sha256,
        size=contents.size, path=final,
        key_id=verified.key_id if verified else None,
        publisher=verified.publisher if verified else None,
        unsafe_unsigned=verified is None, source=meta.source, installed_at=utc_now(),
        manifest=m.to_dict(), members=tuple((x.path, x.size, x.sha256) for x in contents.members),
        requested=meta.requested or bool(existing and existing.requested),
        index_name=meta.index_name, source_commit=meta.source_commit,
        manifest_base=variant.name, base_match=match.kind,
    )
    with store.db.transaction() as conn:
        if unmatched is not None:
            store.db.delete_installed(conn, unmatched)
        store.db.put_installed(conn, record)
    for old in {e.path for e in (existing, unmatched) if e is not None} - {final}:
        remove_tree(old)
    return InstallResult(record, "reinstalled" if existing else "installed", tuple(warnings))
