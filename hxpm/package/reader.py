"""Read ``.expert`` packages safely: hash, stream, check and (optionally) extract
(docs/architecture.md §3).

Every archive is hostile until proven otherwise. The pipeline is::

    file --(hash, count)--> zstd|gzip --(ratio/size caps)--> tarfile "r|" --> per member:
        name rules -> type rules -> layout rules -> size caps -> hash (+ write) -> content checks

- ``expected_sha256`` is checked over the file bytes before any decompression.
- zstd archives are first scanned frame by frame (:func:`compression.scan_zstd_frames`), so
  truncation and trailing bytes are caught even where the decompressor would not notice.
- Decompression is streamed in 1 MiB chunks; the whole stream is capped by size and by
  compression ratio, so a bomb (KBs expanding to GBs) fails after ~16 MiB of output.
- tar headers are parsed by :mod:`tarfile` in stream mode through
  :class:`~hxpm.package.tarsafe.GuardedTarInfo`, which caps PAX/GNU long-name header sizes
  and refuses sparse files before tarfile buffers them.
- After the end-of-archive block only NUL padding may follow.
- Legacy (gzip) archives may hold ``signature.sig``, ``tests/...``, ``training_args.bin`` and
  ``*.sha256``: checked (name, type, size caps), then streamed past unread; they are not
  extracted, never unpickled, not in ``members`` and not in ``tree_sha256`` (see ``ignored``
  and the warning in ``warnings``). Any other pickle is refused (:mod:`hxpm.package.layout`).

With ``extract_to`` each member is written as it streams (``O_EXCL|O_NOFOLLOW``, mode 0644),
hashed on the way (a worker thread hashes and writes one 1 MiB chunk behind the decompressor;
see :mod:`hxpm.package.extract`); on any error everything written is removed before the error
propagates. Durability (fsync)
is the caller's business: the store syncs its staging tree before renaming it into place.
No tarfile, zstandard, gzip or json exception escapes: they become ``PackageFormatError``.
An optional ``progress`` callback sees the compressed bytes go by (phases ``"verify"`` and
``"unpack"``) from the reading thread; whatever it raises reaches the caller unchanged.
"""

from __future__ import annotations

import os
import tarfile
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from hxpm.core.digest import digests_equal, is_sha256_hex, tree_digest
from hxpm.core.manifest import Manifest
from hxpm.core.strictjson import JsonError, read_json
from hxpm.errors import IntegrityError, NotFoundError, PackageFormatError
from hxpm.package import compression
from hxpm.package.compression import (
    DECOMPRESSION_ERRORS,
    Compression,
    CountingSource,
    LimitedStream,
    Progress,
    ProgressCallbackError,
    archive_corrupt,
)
from hxpm.package.extract import Sink, StagingWriter, check_staging
from hxpm.package.layout import (
    DEFAULT_LIMITS,
    LEGACY_TESTS_DIR,
    MANIFEST,
    REQUIRED_MEMBERS,
    MemberKind,
    ReadLimits,
    check_member_type,
    classify_member,
    is_allowed_directory,
    legacy_skip_reason,
    normalise_member_name,
)
from hxpm.package.safetensors_check import check_safetensors_header
from hxpm.package.tarsafe import check_trailing, open_stream
from hxpm.routing.profile import MAX_BYTES as PROFILE_MAX_BYTES
from hxpm.routing.profile import ProfileError, parse_profile

_TAR_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    ValueError,
    RecursionError,
    *DECOMPRESSION_ERRORS,
)


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """One extracted (or extractable) member: its path, size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class PackageContents:
    """What a package holds, as verified by :func:`read_package`."""

    manifest: Manifest
    manifest_bytes: bytes
    members: tuple[MemberInfo, ...]  # archive order, manifest.json included
    tree_sha256: str
    sha256: str  # of the archive file
    size: int  # of the archive file
    compression: Compression
    legacy: bool
    ignored: tuple[str, ...] = ()  # legacy-only members checked but not extracted
    # The manifest's warnings, then one naming the skipped members: for install and inspect.
    warnings: tuple[str, ...] = ()
    routing_profile: bytes | None = None  # routing_profile.json as checked (for publish)


def archive_sha256(path: Path) -> str:
    """SHA-256 hex of the archive file bytes.

    Raises:
        NotFoundError: ``path`` does not exist.
    """
    with _open_archive(Path(path)) as raw:
        return _hash_file(raw)


class _Extractor:
    """Per-call state: the rules seen so far, the digests, and what was written where."""

    def __init__(self, source: str, limits: ReadLimits, *, legacy: bool, dest: Path | None) -> None:
        self.source, self.limits, self.legacy = source, limits, legacy
        self.staging = StagingWriter(dest) if dest is not None else None
        self.entries = 0
        self.total = 0
        self.seen: set[str] = set()
        self.members: list[MemberInfo] = []
        self.ignored: list[str] = []
        self.manifest: Manifest | None = None
        self.manifest_bytes = b""
        self.routing_profile: bytes | None = None
        self.pool: Executor | None = None  # hashes and writes behind the reader (see Sink)

    def fail(self, name: str, what: str) -> PackageFormatError:
        return PackageFormatError(f"{self.source}: member {name!r}: {what}")

    # --- walking --------------------------------------------------------------------------

    def run(self, counted: CountingSource, kind: Compression) -> str | None:
        """Decompress and walk ``counted``; on any error remove what was written, re-raise.

        Returns the SHA-256 of the compressed bytes when ``counted`` hashes them, else None.
        """
        try:
            window = self.limits.max_zstd_window
            with ThreadPoolExecutor(1, thread_name_prefix="hxpm-extract") as pool:
                self.pool = pool
                with compression.open_reader(counted, kind, max_window=window) as stream:
                    self.walk(LimitedStream(stream, counted, self.limits, self.source))
            counted.drain()  # the digest must cover every byte of the file
        except BaseException:
            if self.staging is not None:
                self.staging.cleanup()
            raise
        finally:
            self.pool = None
        return counted.sha.hexdigest() if counted.sha is not None else None

    def walk(self, stream: LimitedStream) -> None:
        try:
            with open_stream(stream, self.limits) as tar:
                while (member := tar.next()) is not None:
                    self.member(tar, member)
                check_trailing(tar, self.source)
        except _TAR_ERRORS as exc:
            raise archive_corrupt(self.source, exc) from None
        except PackageFormatError as exc:
            if exc.message.startswith(f"{self.source}: "):
                raise
            # Rule checks deep in the walk know the member, not the file: name the file too.
            raise PackageFormatError(f"{self.source}: {exc.message}", hint=exc.hint) from None
        self.check_complete()

    def member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.entries += 1
        if self.entries > self.limits.max_members:
            raise PackageFormatError(
                f"{self.source}: more than {self.limits.max_members} entries in the archive"
            )
        name = normalise_member_name(member.name)
        if self.entries == 1 and not self.legacy and name != MANIFEST:
            raise self.fail(name, "manifest.json must be the first member")
        if member.isdir():
            if not is_allowed_directory(name, legacy=self.legacy):
                raise self.fail(name, "directories other than soft_prompts/ are not allowed")
            return
        check_member_type(member, name)
        kind = classify_member(name, legacy=self.legacy)
        key = name.casefold()  # a.txt and A.TXT collide on case-insensitive file systems
        if key in self.seen:
            raise self.fail(name, "duplicate member")
        self.seen.add(key)
        self.check_size(name, member.size, kind)
        if kind is MemberKind.LEGACY_IGNORED:
            self.ignored.append(name)  # tarfile skips its data on the next header read
            return
        src = tar.extractfile(member)
        assert src is not None  # a regular file always has a data stream
        digest = self.copy(src, name, member.size, kind)
        self.members.append(MemberInfo(name, member.size, digest))

    def check_size(self, name: str, size: int, kind: MemberKind) -> None:
        limits = self.limits
        cap = {
            MemberKind.MANIFEST: limits.max_manifest_size,
            MemberKind.ADAPTER_CONFIG: limits.max_json_size,
            MemberKind.ROUTING_PROFILE: PROFILE_MAX_BYTES,
        }.get(kind, limits.max_member_size)
        if size > cap:
            raise self.fail(name, f"{size} bytes exceeds the {cap}-byte limit")
        self.total += size
        if self.total > limits.max_total_size:
            raise PackageFormatError(
                f"{self.source}: members exceed the {limits.max_total_size}-byte total limit"
            )

    def check_complete(self) -> None:
        present = {m.path for m in self.members}
        missing = [name for name in REQUIRED_MEMBERS if name not in present]
        if missing:
            raise PackageFormatError(
                f"{self.source}: missing required member(s): {', '.join(missing)}"
            )
        assert self.manifest is not None
        if not self.legacy and len(self.manifest.variants) != 1:
            raise self.fail(
                MANIFEST,
                f"a package is built for one base model, the manifest "
                f"lists {len(self.manifest.variants)}",
            )

    # --- content --------------------------------------------------------------------------

    def copy(self, src: IO[bytes], name: str, size: int, kind: MemberKind) -> str:
        assert self.pool is not None
        out = self.staging.open(name) if self.staging is not None else None
        sink = Sink(src, out, self.pool)
        with sink:
            if kind is MemberKind.SAFETENSORS:
                check_safetensors_header(sink.read, size, member=f"{self.source}: {name}")
            elif kind in (MemberKind.MANIFEST, MemberKind.ADAPTER_CONFIG):
                self.parse_json(name, sink.read(size), kind)
            elif kind is MemberKind.ROUTING_PROFILE:
                try:
                    self.routing_profile = sink.read(size)
                    parse_profile(self.routing_profile)
                except ProfileError as exc:
                    raise self.fail(name, f"not a routing profile: {exc}") from None
            sink.pump()
        if sink.count != size:
            raise archive_corrupt(self.source, f"member {name!r}: {sink.count} of {size} bytes")
        return sink.sha.hexdigest()

    def parse_json(self, name: str, data: bytes, kind: MemberKind) -> None:
        if kind is MemberKind.MANIFEST:
            self.manifest = Manifest.from_bytes(data, source=f"{self.source}: {name}")
            self.manifest_bytes = data
            return
        try:
            value = read_json(data, max_bytes=self.limits.max_json_size)
        except JsonError as exc:
            raise self.fail(name, f"not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise self.fail(name, f"expected a JSON object, got {type(value).__name__}")


def _open_archive(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise NotFoundError(f"{path}: no such package file") from None


def _hash_file(raw: BinaryIO, progress: Progress | None = None) -> str:
    total = os.fstat(raw.fileno()).st_size if progress is not None else 0
    counted = CountingSource(raw, hashing=True, progress=progress, phase="verify", total=total)
    counted.drain()
    raw.seek(0)
    assert counted.sha is not None  # hashing=True
    return counted.sha.hexdigest()


def _check_digest(raw: BinaryIO, source: str, expected: str, progress: Progress | None) -> str:
    wanted = expected.lower()
    if not is_sha256_hex(wanted):
        raise IntegrityError(f"{source}: expected sha256 {expected!r} is not 64 hex digits")
    got = _hash_file(raw, progress)
    if not digests_equal(got, wanted):
        raise IntegrityError(
            f"{source}: archive sha256 mismatch: expected {wanted}, got {got}",
            details={"expected": wanted, "got": got},
        )
    return got


def read_package(
    path: Path,
    *,
    extract_to: Path | None = None,
    expected_sha256: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    progress: Progress | None = None,
) -> PackageContents:
    """Verify a package and return what it holds; extract it when ``extract_to`` is given.

    Args:
        path: the ``.expert`` file (zstd, or legacy gzip).
        extract_to: an existing, empty staging directory to write members into.
        expected_sha256: the archive digest to require before anything is decompressed.
        limits: caps on hostile input.
        progress: called as ``progress(phase, done_bytes, total_bytes)`` from the calling
            thread: phase ``"verify"`` while the file is hashed for ``expected_sha256``
            (only when given), then ``"unpack"`` while the decompressor consumes it (done
            is compressed bytes consumed, total the file size). At most once per MiB, plus
            a last call per phase with done == total. What it raises propagates unchanged,
            after anything extracted is removed: raise to cancel.

    Returns:
        The parsed manifest and its exact bytes, the members with their digests, the tree
        and archive digests, and how the archive was compressed.

    Raises:
        NotFoundError: ``path`` does not exist.
        IntegrityError: ``expected_sha256`` does not match the file.
        PackageFormatError: the archive is malformed, hostile or over a limit.
        ManifestError: ``manifest.json`` is not a valid manifest.
        StoreError: ``extract_to`` is unusable or a member cannot be written.
    """
    path = Path(path)
    dest = Path(extract_to) if extract_to is not None else None
    if dest is not None:
        check_staging(dest)
    try:
        return _read(path, dest, expected_sha256, limits, progress)
    except ProgressCallbackError as wrapped:
        error = wrapped.error
    raise error  # outside the handler, so our wrapper does not become the error's context


def _read(
    path: Path,
    dest: Path | None,
    expected_sha256: str | None,
    limits: ReadLimits,
    progress: Progress | None,
) -> PackageContents:
    source = path.name
    with _open_archive(path) as raw:
        # Hash through the same open file we then decompress: swapping the path between the
        # check and the read cannot smuggle in other bytes.
        known = None
        if expected_sha256 is not None:
            known = _check_digest(raw, source, expected_sha256, progress)
        size = os.fstat(raw.fileno()).st_size
        kind = compression.sniff(raw.read(4), source=source)
        raw.seek(0)
        if kind == "zstd":
            compression.scan_zstd_frames(raw, max_window=limits.max_zstd_window, source=source)
        state = _Extractor(source, limits, legacy=kind == "gzip", dest=dest)
        counted = CountingSource(
            raw, hashing=known is None, progress=progress, phase="unpack", total=size
        )
        streamed = state.run(counted, kind)
    assert state.manifest is not None
    warnings = state.manifest.warnings
    if state.ignored:
        warnings += (_skipped_warning(state.ignored),)
    return PackageContents(
        manifest=state.manifest,
        manifest_bytes=state.manifest_bytes,
        members=tuple(state.members),
        tree_sha256=tree_digest((m.path, m.sha256) for m in state.members),
        sha256=known or streamed or "",
        size=size,
        compression=kind,
        legacy=state.legacy,
        ignored=tuple(state.ignored),
        warnings=warnings,
        routing_profile=state.routing_profile,
    )


def _skipped_warning(ignored: list[str]) -> str:
    tests = [name for name in ignored if name.startswith(f"{LEGACY_TESTS_DIR}/")]
    shown = [f"{name} ({legacy_skip_reason(name)})" for name in ignored if name not in tests]
    if tests:
        shown.append(
            f"{LEGACY_TESTS_DIR}/ ({len(tests)} file{'s' if len(tests) > 1 else ''}, "
            f"{legacy_skip_reason(tests[0])})"
        )
    return (
        f"legacy package: skipped {len(ignored)} member(s) hxpm does not install (never "
        f"extracted or loaded, not in the tree digest): {', '.join(shown)}"
    )
