"""Build reproducible ``.expert`` packages from an expert directory (docs/architecture.md §3).

One package per base-model variant of the manifest, named ``package_filename(name, base,
version)``. Where the files of a variant come from:

- **Variant files** (``adapter_model.safetensors``, ``adapter_config.json``, tokenizer files,
  ``soft_prompts/*.safetensors``) come from ``<expert>/weights/<variant slug>/`` when that
  folder exists, else from the expert directory itself (the usual single-variant layout).
- **Shared files** (``README.md``, ``LICENSE``, ``grammar.gbnf``) come from the variant
  folder when it has them, else from the expert directory.
- ``manifest.json`` in the archive is the source manifest reduced to the variant, written
  back with every field, null and repeated comment key it had (``Manifest.to_json_bytes``).
- A soft prompt declared as a PyTorch pickle (``.pt``/``.bin``, as the older tool wrote them)
  is never packaged: the file, if present, stops the build with what to do (convert it to
  safetensors); if absent the package is built and the manifest's warning says the same.

Reproducible bytes: a PAX-format tar (which writes plain USTAR headers for our short ASCII
names), members in canonical order (manifest first, then sorted), mtime 0, uid/gid 0, empty
owner names, mode 0644, no directory entries, compressed as one zstd frame at a fixed level
with one thread. Files are streamed in 1 MiB chunks and hashed on the way through; the
archive is written to a temporary file in ``out_dir`` and renamed into place.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hxpm.core.digest import tree_digest
from hxpm.core.manifest import Manifest
from hxpm.core.manifest_checks import is_pickle_name, soft_prompt_pickle_message
from hxpm.core.manifest_values import BaseVariant
from hxpm.core.names import package_filename
from hxpm.core.strictjson import JsonError, read_json
from hxpm.errors import PackageBuildError, PackageFormatError, StoreError
from hxpm.package import compression
from hxpm.package.layout import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    DEFAULT_LIMITS,
    MANIFEST,
    ROUTING_PROFILE,
    SHARED_FILES,
    SOFT_PROMPT_DIR,
    SOFT_PROMPT_RE,
    SOFT_PROMPT_SUFFIX,
    VARIANT_FILES,
    canonical_order,
)
from hxpm.package.profile_source import routing_profile_member
from hxpm.package.safetensors_check import check_safetensors_file

CHUNK = 1 << 20
WEIGHTS_DIR = "weights"
_PICKLE_HINT = (
    "Pickle files run code when loaded. Convert weights to safetensors "
    "(safetensors.torch.save_file) and delete the pickle, or move it out of the folder."
)


@dataclass(frozen=True, slots=True)
class BuiltPackage:
    """One written ``.expert`` file and the digests that identify it."""

    path: Path
    name: str
    version: str
    base_model: str
    base_sha256: str
    sha256: str
    tree_sha256: str
    size: int
    members: tuple[tuple[str, int, str], ...]  # (path, size, sha256) in archive order
    warnings: tuple[str, ...] = ()  # what the manifest held that hxpm accepted with a warning


class _HashingReader:
    """Read-through wrapper that hashes what passes (tarfile copies from it)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.sha.update(data)
        self.count += len(data)
        return data


class _HashingWriter:
    """Write-through wrapper that hashes and counts the compressed archive bytes.

    Write failures (disk full, EFBIG) become :class:`StoreError` here, so that they are not
    mistaken for a source file that failed to read while tarfile copies it.
    """

    def __init__(self, raw: BinaryIO, target: Path) -> None:
        self._raw, self._target = raw, target
        self.sha = hashlib.sha256()
        self.count = 0

    def flush(self) -> None:
        try:
            self._raw.flush()
        except OSError as exc:
            raise _write_error(self._target, exc) from None

    def write(self, data: bytes) -> int:
        try:
            self._raw.write(data)
        except OSError as exc:
            raise _write_error(self._target, exc) from None
        self.sha.update(data)
        self.count += len(data)
        return len(data)


def _write_error(target: Path, exc: OSError) -> StoreError:
    return StoreError(
        f"could not write {target}: {exc.strerror or exc}",
        hint="Check free space and permissions of the output directory.",
    )


def variant_dir(expert_dir: Path, variant: BaseVariant) -> Path:
    """Where the variant files of ``variant`` live (see the module docstring)."""
    candidate = expert_dir / WEIGHTS_DIR / variant.slug
    return candidate if candidate.is_dir() else expert_dir


def _refuse_pickles(folder: Path) -> None:
    for sub in (folder, folder / SOFT_PROMPT_DIR):
        if not sub.is_dir():
            continue
        for entry in sorted(sub.iterdir()):
            if entry.is_file() and is_pickle_name(entry.name):
                if sub.name == SOFT_PROMPT_DIR:
                    raise PackageBuildError(
                        f"{entry}: {soft_prompt_pickle_message(f'{SOFT_PROMPT_DIR}/{entry.name}')}",
                        hint="Then delete the pickle or move it out of the folder.",
                    )
                raise PackageBuildError(
                    f"{entry}: pickle file in the weights folder", hint=_PICKLE_HINT
                )


def _soft_prompts(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    sub = folder / SOFT_PROMPT_DIR
    if not sub.is_dir():
        return found
    for entry in sorted(sub.iterdir()):
        if entry.is_file() and entry.name.endswith(SOFT_PROMPT_SUFFIX):
            name = f"{SOFT_PROMPT_DIR}/{entry.name}"
            if not SOFT_PROMPT_RE.match(name):
                raise PackageBuildError(
                    f"{entry}: soft prompt file name not allowed",
                    hint="Use 1-75 characters from A-Z a-z 0-9 . _ - before .safetensors.",
                )
            found[name] = entry
    return found


def collect_members(expert_dir: Path, variant: BaseVariant) -> dict[str, Path]:
    """Map archive member names (manifest excluded) to the source files of ``variant``.

    Raises:
        PackageBuildError: a pickle in the weights folder, a bad soft prompt name, or a
            missing ``adapter_model.safetensors`` / ``adapter_config.json``.
    """
    weights = variant_dir(expert_dir, variant)
    _refuse_pickles(weights)
    members: dict[str, Path] = {}
    for name in VARIANT_FILES:
        if (weights / name).is_file():
            members[name] = weights / name
    for name in SHARED_FILES:
        for folder in (weights, expert_dir):
            if (folder / name).is_file():
                members[name] = folder / name
                break
    members.update(_soft_prompts(weights))
    for required in (ADAPTER_WEIGHTS, ADAPTER_CONFIG):
        if required not in members:
            raise PackageBuildError(
                f"{weights / required}: missing for base model {variant.name!r}",
                hint=f"Put {required} in {expert_dir / WEIGHTS_DIR / variant.slug} "
                f"or, for a single-variant expert, in {expert_dir}.",
            )
    return members


def _check_declared_soft_prompts(
    manifest: Manifest, members: dict[str, Path], folders: tuple[Path, ...]
) -> None:
    declared = manifest.raw.get("soft_prompts")
    for index, entry in enumerate(declared if isinstance(declared, list) else []):
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str):
            continue
        where = f"manifest.json: soft_prompts[{index}].path {path!r}"
        if is_pickle_name(path):
            # Present: refuse to go on without it converted. Absent: nothing to ship or load;
            # the manifest's own warning already says what to do (the older packager also
            # skipped soft prompt files it did not find).
            if any(_is_file_inside(folder, path) for folder in folders):
                raise PackageBuildError(
                    f"{where}: {soft_prompt_pickle_message(path)}",
                    hint="Then delete the pickle or move it out of the expert folder.",
                )
            continue
        if path.removeprefix("./") not in members:
            raise PackageBuildError(
                f"{where}: no such soft prompt file to package",
                hint=f"Expected it as {SOFT_PROMPT_DIR}/<name>.safetensors in the weights folder.",
            )


def _is_file_inside(folder: Path, relative: str) -> bool:
    """``folder/relative`` is a file within ``folder`` (a declared path is only data)."""
    try:
        target = (folder / relative).resolve()
        return target.is_relative_to(folder.resolve()) and target.is_file()
    except (OSError, ValueError):
        return False


def _check_member_files(members: dict[str, Path]) -> None:
    limits = DEFAULT_LIMITS
    total = 0
    for name, path in members.items():
        size = path.stat().st_size
        total += size
        if size > limits.max_member_size:
            raise PackageBuildError(
                f"{path}: {size} bytes exceeds the {limits.max_member_size}-byte member limit"
            )
        if name == ADAPTER_CONFIG:
            _check_adapter_config(path, size)
        elif name.endswith(SOFT_PROMPT_SUFFIX):  # the adapter and every soft prompt
            try:
                check_safetensors_file(path, member=str(path))
            except PackageFormatError as exc:
                raise PackageBuildError(
                    exc.message,
                    hint="Re-save the file with the safetensors library; its header is damaged.",
                ) from None
    if total > limits.max_total_size:
        raise PackageBuildError(
            f"package content is {total} bytes, over the {limits.max_total_size}-byte limit"
        )


def _check_adapter_config(path: Path, size: int) -> None:
    if size > DEFAULT_LIMITS.max_json_size:
        raise PackageBuildError(f"{path}: {size} bytes is too large for a JSON config")
    try:
        value = read_json(path.read_bytes(), max_bytes=DEFAULT_LIMITS.max_json_size)
    except JsonError as exc:
        raise PackageBuildError(
            f"{path}: not valid JSON ({exc})",
            hint="adapter_config.json is the PEFT config saved with the adapter (save_pretrained).",
        ) from None
    if not isinstance(value, dict):
        raise PackageBuildError(f"{path}: expected a JSON object, got {type(value).__name__}")


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _write_archive(
    out: compression.Writable,
    manifest_bytes: bytes,
    members: dict[str, Path],
    generated: dict[str, bytes] | None = None,
) -> list[tuple[str, int, str]]:
    """Stream the tar into a zstd writer over ``out``; return (path, size, sha256) rows."""
    rows: list[tuple[str, int, str]] = []
    with (
        compression.open_writer(out) as zstream,
        tarfile.open(fileobj=zstream, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK) as tar,
    ):
        tar.copybufsize = CHUNK  # type: ignore[attr-defined]  # default: 16 KiB steps
        tar.addfile(_tarinfo(MANIFEST, len(manifest_bytes)), io.BytesIO(manifest_bytes))
        rows.append((MANIFEST, len(manifest_bytes), hashlib.sha256(manifest_bytes).hexdigest()))
        generated = generated or {}
        for name in canonical_order([*members, *generated]):
            if name in generated:  # written by hxpm (routing_profile.json), not a source file
                data = generated[name]
                tar.addfile(_tarinfo(name, len(data)), io.BytesIO(data))
                rows.append((name, len(data), hashlib.sha256(data).hexdigest()))
                continue
            try:
                with open(members[name], "rb") as src:
                    size = os.fstat(src.fileno()).st_size
                    reader = _HashingReader(src)
                    tar.addfile(_tarinfo(name, size), reader)
            except OSError as exc:  # output errors arrive as StoreError (_HashingWriter)
                raise PackageBuildError(
                    f"{members[name]}: could not read: {exc}",
                    hint="Did the file change while packaging?",
                ) from None
            rows.append((name, size, reader.sha.hexdigest()))
    return rows


def _build_one(
    expert_dir: Path, out_dir: Path, manifest: Manifest, variant: BaseVariant
) -> BuiltPackage:
    members = collect_members(expert_dir, variant)
    _check_declared_soft_prompts(manifest, members, (variant_dir(expert_dir, variant), expert_dir))
    _check_member_files(members)
    manifest_bytes = manifest.reduced_to(variant.name).to_json_bytes()
    profile = routing_profile_member(expert_dir, manifest)
    generated = {ROUTING_PROFILE: profile} if profile is not None else {}
    if len(manifest_bytes) > DEFAULT_LIMITS.max_manifest_size:
        raise PackageBuildError(
            f"manifest.json is {len(manifest_bytes)} bytes, over the "
            f"{DEFAULT_LIMITS.max_manifest_size}-byte limit"
        )
    version = str(manifest.version)
    filename = package_filename(manifest.name, variant.name, version)
    target = out_dir / filename
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".tmp", dir=out_dir)
    except OSError as exc:
        raise _write_error(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as raw:
            hashing = _HashingWriter(raw, target)
            rows = _write_archive(hashing, manifest_bytes, members, generated)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _write_error(target, exc) from None
        raise
    return BuiltPackage(
        path=target,
        name=manifest.name,
        version=version,
        base_model=variant.name,
        base_sha256=variant.sha256,
        sha256=hashing.sha.hexdigest(),
        tree_sha256=tree_digest((path, digest) for path, _, digest in rows),
        size=hashing.count,
        members=tuple(rows),
        warnings=manifest.warnings,
    )


def _load_manifest(expert_dir: Path) -> Manifest:
    path = expert_dir / MANIFEST
    if not path.is_file():
        raise PackageBuildError(
            f"{path}: no manifest.json in the expert directory",
            hint="Run `hxpm new` to create one, or point at the expert root.",
        )
    return Manifest.load(path)


def build_packages(
    expert_dir: Path, out_dir: Path, *, base: str | None = None
) -> list[BuiltPackage]:
    """Write one ``.expert`` per base-model variant (or only ``base``) into ``out_dir``.

    Args:
        expert_dir: the expert source folder (``manifest.json`` at its root).
        out_dir: where packages go; created when missing.
        base: build only the variant for this base model name.

    Returns:
        The packages written, in manifest variant order.

    Raises:
        PackageBuildError: missing files, pickles, invalid adapter config or safetensors,
            two variants with the same file name, or a source file that cannot be read.
        StoreError: the package cannot be written to ``out_dir`` (disk full, permissions).
        ManifestError: the manifest is invalid.
        NotFoundError: ``base`` is not a variant of the manifest.
    """
    expert_dir, out_dir = Path(expert_dir), Path(out_dir)
    manifest = _load_manifest(expert_dir)
    variants = [manifest.variant_for(base)] if base is not None else list(manifest.variants)
    version = str(manifest.version)
    seen: dict[str, str] = {}
    for variant in variants:
        filename = package_filename(manifest.name, variant.name, version)
        if filename in seen:
            raise PackageBuildError(
                f"base models {seen[filename]!r} and {variant.name!r} both package as {filename}",
                hint="Give the variants base model names with different final path parts.",
            )
        seen[filename] = variant.name
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(out_dir, exc) from None
    return [_build_one(expert_dir, out_dir, manifest, variant) for variant in variants]
