"""Verification without installing: a package file against the trust store, or the store."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hxpm.core.digest import sha256_file, tree_digest
from hxpm.errors import NotFoundError, SignatureError, UnsignedPackageError
from hxpm.package.reader import PackageContents, read_package
from hxpm.package.signing import parse_signature_file
from hxpm.services.trust import trusted_keys
from hxpm.store.lock import store_lock
from hxpm.store.store import Store
from hxpm.trust_policy import PackageFacts, VerifiedSignature, verify_signature

MAX_SIG_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class PackageVerification:
    package: Path
    contents: PackageContents
    signature: VerifiedSignature


def verify_package_file(
    store: Store, package: Path, signature: Path | None = None
) -> PackageVerification:
    """Raise a VerificationError unless ``package`` is signed by a key trusted for it."""
    package = package.expanduser().resolve()
    if not package.is_file():
        raise NotFoundError(f"no package file at {package}")
    sig_path = signature or package.with_name(package.name + ".sig")
    if not sig_path.is_file():
        raise UnsignedPackageError(f"{package.name} is not signed: {sig_path.name} not found")
    if sig_path.stat().st_size > MAX_SIG_BYTES:
        raise SignatureError(f"{sig_path.name}: expected a signature file under 16 KiB")
    envelope = parse_signature_file(sig_path.read_bytes())
    contents = read_package(package, expected_sha256=None)
    variant = contents.manifest.variants[0]
    m = contents.manifest
    facts = PackageFacts(
        m.name, str(m.version), variant.name, variant.sha256, contents.tree_sha256, contents.sha256
    )
    verified = verify_signature(envelope, facts, trusted_keys(store))
    return PackageVerification(package, contents, verified)


@dataclass(frozen=True, slots=True)
class StoreProblem:
    expert: str  # "name@version (base)" or a path for orphans
    problem: str


@dataclass(frozen=True, slots=True)
class StoreVerification:
    checked: int
    problems: tuple[StoreProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(store: Store) -> StoreVerification:
    """Re-hash every installed tree against the digests recorded at install time.

    Readers take no lock, so a writer may rename a tree in, or remove one, while we look:
    what the lock-free pass finds is checked once more under the write lock (no writer is
    then in flight) and only what is still wrong is reported. A healthy store is verified
    without ever taking the lock.
    """
    first = _scan(store)
    if first.ok:
        return first
    try:
        with store_lock(store.paths.lock_file):
            return _scan(store)
    except OSError:  # a read-only store: no lock file can be made; report what we saw
        return first


def _scan(store: Store) -> StoreVerification:
    problems: list[StoreProblem] = []
    experts = store.db.installed()  # one SELECT: one consistent snapshot
    for e in experts:
        label = f"{e.name}@{e.version} ({e.base_model})"
        problems.extend(
            StoreProblem(label, p) for p in _tree_problems(e.path, e.members, e.tree_sha256)
        )
    for orphan in store.orphan_dirs(known={e.path for e in experts}):
        problems.append(
            StoreProblem(
                str(orphan),
                "directory not recorded in the store "
                "(left by an interrupted install; the next install or "
                "uninstall removes it)",
            )
        )
    return StoreVerification(len(experts), tuple(problems))


def _tree_problems(root: Path, members: tuple[tuple[str, int, str], ...], tree: str) -> list[str]:
    if not root.is_dir():
        return [f"installed tree is missing: {root}"]
    recorded = {path: digest for path, _size, digest in members}
    on_disk: dict[str, str] = {}
    unreadable: dict[str, str] = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            full = Path(dirpath) / f
            rel = full.relative_to(root).as_posix()
            try:
                on_disk[rel] = sha256_file(full)
            except OSError as exc:  # removed under us, or the disk fails: a problem, not a crash
                unreadable[rel] = str(exc.strerror or exc)
    problems = [f"cannot read file {p}: {why}" for p, why in sorted(unreadable.items())]
    problems += [
        f"missing file {p}" for p in sorted(recorded.keys() - on_disk.keys() - unreadable.keys())
    ]
    problems += [f"unexpected file {p}" for p in sorted(on_disk.keys() - recorded.keys())]
    problems += [
        f"modified file {p}"
        for p in sorted(recorded.keys() & on_disk.keys())
        if recorded[p] != on_disk[p]
    ]
    if not problems and tree_digest(on_disk.items()) != tree:
        problems.append("tree digest differs from the recorded one")
    return problems
