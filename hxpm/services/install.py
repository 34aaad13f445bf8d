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

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hxpm.core.manifest import Manifest
from hxpm.core.manifest_values import BaseVariant
from hxpm.core.versions import Version
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
from hxpm.package.soft_prompt_check import check_soft_prompts
from hxpm.services.basematch import BaseMatch, match_base
from hxpm.services.trust import trusted_keys
from hxpm.store.fsutil import (
    DISK_HINT,
    fsync_dir,
    fsync_tree,
    make_tree_read_only,
    new_staging_dir,
    prune_empty_parents,
    remove_tree,
)
from hxpm.store.records import InstalledExpert
from hxpm.store.state import utc_now
from hxpm.store.store import Store
from hxpm.trust_policy import PackageFacts, VerifiedSignature, verify_signature

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
    replaces: tuple[str, ...] = ()  # versions of this name (same base) an upgrade removes


@dataclass(frozen=True, slots=True)
class InstallResult:
    expert: InstalledExpert
    action: Action
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class PlacedInstall:
    """A verified tree renamed into ``experts/`` whose row is not committed yet."""

    result: InstallResult
    drop: tuple[InstalledExpert, ...]  # rows deleted in the same transaction (replaced)
    placed: Path | None  # the tree this run renamed in (None: an installed tree is reused)
    old_trees: tuple[Path, ...]  # trees of the dropped rows, removed after the commit


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
    store: Store,
    expert_dir: Path,
    *,
    base: str | None = None,
    options: InstallOptions = InstallOptions(),
    progress: ProgressFn | None = None,
) -> InstallResult:
    """Package a local expert directory for one base variant, then install that package."""
    expert_dir = expert_dir.expanduser().resolve()
    manifest = Manifest.load(expert_dir / "manifest.json")
    chosen = choose_variant(store, manifest, base)
    with tempfile.TemporaryDirectory(prefix="hxpm-build-") as tmp:
        built = build_packages(expert_dir, Path(tmp), base=chosen.name)[0]
        return install_package_file(
            store,
            built.path,
            options=options,
            source=f"dir:{expert_dir}",
            progress=progress,
            base=base,
        )


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
    store: Store,
    package: Path,
    envelope: SignatureEnvelope | None,
    options: InstallOptions,
    meta: InstallMeta,
    progress: ProgressFn | None = None,
) -> InstallResult:
    """Verify and install one archive. The caller holds ``store.writing()``."""
    placed = place_archive_locked(store, package, envelope, options, meta, progress)
    record_installs_locked(store, [placed])
    return placed.result


def place_archive_locked(
    store: Store,
    package: Path,
    envelope: SignatureEnvelope | None,
    options: InstallOptions,
    meta: InstallMeta,
    progress: ProgressFn | None = None,
) -> PlacedInstall:
    """Verify one archive and rename its tree into ``experts/``, without recording it.

    Until :func:`record_installs_locked` commits it, the tree is an orphan (the next writer
    sweeps it after a crash). The caller holds ``store.writing()``.
    """
    warnings: list[str] = []
    trusted = trusted_keys(store)
    expected = meta.expected_sha256
    if envelope is None:
        if not options.unsafe_allow_unsigned:
            raise UnsignedPackageError(
                f"{package.name} is not signed (no {package.name}.sig beside it); "
                "hxpm installs only packages signed by a key you trust"
            )
        warnings.append(
            f"{package.name} is UNSIGNED: installed only because you passed "
            "--unsafe-allow-unsigned; nothing vouches for its contents"
        )
    else:
        # Key trust and the signature itself are checked first (and the signed digest
        # against the one an index promised); read_package then holds the file to that
        # digest before it decompresses a single byte.
        st = envelope.statement
        expected = expected or st.sha256
        verify_signature(
            envelope,
            PackageFacts(
                st.name, st.version, st.base_model, st.base_sha256, st.tree_sha256, expected
            ),
            trusted,
        )
    stage = new_staging_dir(store.paths.tmp, "install")
    try:
        contents = read_package(
            package, extract_to=stage, expected_sha256=expected, progress=progress
        )
        warnings.extend(contents.warnings)  # legacy members skipped, older manifest dialect
        variant = _single_variant(contents)
        verified = None
        if envelope is not None:
            verified = verify_signature(envelope, _facts(contents, variant), trusted)
        match = _check_base(store, variant, meta.base, warnings)
        if match.base is not None:  # soft prompts must fit the base they will run on
            check_soft_prompts(stage, contents.manifest.raw, match.base.path, match.base.name)
        return _place(store, contents, match, stage, verified, options, meta, warnings)
    except OSError as e:
        raise StoreError(
            f"could not write {package.name} into the store: {e}", hint=DISK_HINT
        ) from e
    except StoreError as e:
        if e.hint is not None:
            raise
        raise StoreError(e.message, hint=DISK_HINT, details=e.details) from e
    finally:
        remove_tree(stage)


def record_installs_locked(store: Store, placed: Sequence[PlacedInstall]) -> None:
    """Record every placed install, and drop the rows they replace, in ONE transaction.

    So an upgrade is atomic: a crash leaves the old versions or the new ones. When the
    commit fails (a full disk), the placed trees are removed again before the error.
    """
    try:
        with store.db.transaction() as conn:
            for p in placed:
                for old in p.drop:
                    store.db.delete_installed(conn, old)
                if p.result.action != "already-installed":
                    store.db.put_installed(conn, p.result.expert)
    except BaseException:
        discard_placed(store, placed)
        raise
    # After the commit a crash leaves orphan trees, which the next writer sweeps.
    for p in placed:
        for tree in p.old_trees:
            remove_tree(tree)
            prune_empty_parents(tree.parent, store.paths.experts)


def discard_placed(store: Store, placed: Sequence[PlacedInstall]) -> None:
    """Remove trees renamed into place whose rows were never committed."""
    for p in placed:
        if p.placed is not None:
            with contextlib.suppress(OSError):
                remove_tree(p.placed)
                prune_empty_parents(p.placed.parent, store.paths.experts)


def _facts(contents: PackageContents, variant: BaseVariant) -> PackageFacts:
    m = contents.manifest
    return PackageFacts(
        m.name, str(m.version), variant.name, variant.sha256, contents.tree_sha256, contents.sha256
    )


def _single_variant(contents: PackageContents) -> BaseVariant:
    variants = contents.manifest.variants
    if len(variants) != 1:
        raise PackageFormatError(
            f"a package must hold exactly one base-model variant, got {len(variants)}"
        )
    return variants[0]


def _check_base(
    store: Store, variant: BaseVariant, chosen: str | None, warnings: list[str]
) -> BaseMatch:
    match = match_base(variant.name, variant.sha256, store.db.bases(), prefer=chosen)
    if match.base is None:
        warnings.append(
            f"base model {variant.name!r} is not registered; register it with "
            "`hxpm base add MODEL-ID --path DIR` before running this expert "
            "(installed experts are matched to it then)"
        )
    elif not variant.sha256:
        warnings.append(
            f"the package does not state the digest of {variant.name!r}; "
            f"matched to your registered {match.base.name} by "
            f"{'model id' if match.kind == 'model-id' else 'last path part'}, "
            "so its files cannot be checked against the package"
        )
    return match


def _same_version(store: Store, name: str, version: Version, base: str) -> InstalledExpert | None:
    """The installed row of ``name`` equal to ``version`` by SemVer precedence: build
    metadata (``1.0.0+build.5``) does not make another version (docs/formats/index.md)."""
    exact = store.db.find_installed(name, str(version), base)
    if exact is not None:
        return exact
    return next(
        (
            e
            for e in store.db.installed(name)
            if e.base_model == base and Version.parse(e.version) == version
        ),
        None,
    )


def _place(
    store: Store,
    contents: PackageContents,
    match: BaseMatch,
    stage: Path,
    verified: VerifiedSignature | None,
    options: InstallOptions,
    meta: InstallMeta,
    warnings: list[str],
) -> PlacedInstall:
    m = contents.manifest
    version = str(m.version)
    variant = _single_variant(contents)
    existing = _same_version(store, m.name, m.version, match.name)
    # A copy recorded under the manifest's name before its base was registered is the same
    # install: replace that row rather than keep two.
    unmatched = (
        _same_version(store, m.name, m.version, variant.name)
        if match.name != variant.name
        else None
    )
    existing = existing or unmatched
    replaced = [
        e
        for v in meta.replaces
        if v != version
        if (e := store.db.find_installed(m.name, v, match.name)) is not None
    ]
    if (
        existing
        and existing.tree_sha256 == contents.tree_sha256
        and existing.path.is_dir()
        and existing.base_model == match.name
    ):
        return PlacedInstall(
            InstallResult(existing, "already-installed", tuple(warnings)),
            drop=tuple(replaced),
            placed=None,
            old_trees=tuple({e.path for e in replaced} - {existing.path}),
        )
    if existing and existing.tree_sha256 != contents.tree_sha256 and not options.force_reinstall:
        raise UsageError(
            f"{m.name} {existing.version} for {variant.name} is already installed with other "
            f"contents (tree {existing.tree_sha256[:16]}…, new {contents.tree_sha256[:16]}…)",
            hint="Published versions should never change; pass --force-reinstall to replace it.",
        )
    final = store.paths.expert_dir(m.name, version, variant.slug, contents.tree_sha256)
    reuse = (
        existing is not None
        and existing.path == final
        and final.is_dir()
        and existing.tree_sha256 == contents.tree_sha256
    )
    if not reuse:
        _move_into_place(stage, final)
    record = _record(contents, match, variant, final, verified, meta, existing)
    olds = [e for e in (existing, unmatched, *replaced) if e is not None]
    drop = tuple(e for e in olds if _key(e) != _key(record))
    action: Action = "reinstalled" if existing else "installed"
    return PlacedInstall(
        InstallResult(record, action, tuple(warnings)),
        drop=drop,
        placed=None if reuse else final,
        old_trees=tuple({e.path for e in olds} - {final}),
    )


def _key(e: InstalledExpert) -> tuple[str, str, str]:
    return (e.name, e.version, e.base_model)


def _move_into_place(stage: Path, final: Path) -> None:
    """Durable first (a power loss must not leave a renamed tree of empty files), read-only,
    then one rename; whatever sat at ``final`` is an orphan of a crashed writer."""
    remove_tree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fsync_tree(stage)
    make_tree_read_only(stage)
    os.replace(stage, final)
    fsync_dir(final.parent)


def _record(
    contents: PackageContents,
    match: BaseMatch,
    variant: BaseVariant,
    final: Path,
    verified: VerifiedSignature | None,
    meta: InstallMeta,
    existing: InstalledExpert | None,
) -> InstalledExpert:
    m = contents.manifest
    return InstalledExpert(
        name=m.name,
        version=str(m.version),
        base_model=match.name,
        base_slug=variant.slug,
        base_sha256=variant.sha256,
        sha256=contents.sha256,
        tree_sha256=contents.tree_sha256,
        size=contents.size,
        path=final,
        key_id=verified.key_id if verified else None,
        publisher=verified.publisher if verified else None,
        unsafe_unsigned=verified is None,
        source=meta.source,
        installed_at=utc_now(),
        manifest=m.to_dict(),
        members=tuple((x.path, x.size, x.sha256) for x in contents.members),
        requested=meta.requested or bool(existing and existing.requested),
        index_name=meta.index_name,
        source_commit=meta.source_commit,
        manifest_base=variant.name,
        base_match=match.kind,
    )
