"""Compression for ``.expert`` archives; the only module that imports ``zstandard``.

New packages are one zstd frame at a fixed level, single-threaded, with a content checksum
and without a content size (we stream), so the same tar bytes always give the same archive.
Legacy packages are gzip; they are read, never written.

Why :func:`scan_zstd_frames` exists: ``zstandard``'s stream reader reports a cleanly cut-off
stream as a normal end of data, and only checks the content checksum when it reaches it. A
cheap pass over the frame and block headers (a few bytes per 128 KiB block) proves the file
holds complete frames and nothing else, and refuses oversized windows before any decoding.

The stream wrappers used by the reader live here too: :class:`CountingSource` (counts,
optionally hashes, and reports progress over compressed bytes) and :class:`LimitedStream`
(caps uncompressed size and ratio, and turns decompressor exceptions into
``PackageFormatError``).
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from collections.abc import Callable
from typing import IO, BinaryIO, Literal, Protocol, cast

import zstandard

from hxpm.errors import PackageFormatError
from hxpm.package.layout import ReadLimits

Compression = Literal["zstd", "gzip"]
# progress(phase, done_bytes, total_bytes); see CountingSource and reader.read_package.
Progress = Callable[[str, int, int], None]

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
# Level 10 packs 200 MB of fp32 weights in ~1 s; decoding speed barely depends on the level.
# Same bytes need the same libzstd too: across zstd releases only tree_sha256 is stable.
ZSTD_LEVEL = 10
READ_SIZE = 1 << 20
_SKIPPABLE_LOW, _SKIPPABLE_HIGH = 0x184D2A50, 0x184D2A5F  # RFC 8878 §3.1.2
_MAX_BLOCK = 128 * 1024


class Readable(Protocol):
    """Anything with ``read(n) -> bytes``: what decompressors and tarfile read from."""

    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    """Anything with ``write`` and ``flush``: what the zstd writer writes to."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


# Everything a decompressor can raise on hostile or damaged input.
DECOMPRESSION_ERRORS: tuple[type[BaseException], ...] = (
    zstandard.ZstdError,
    zlib.error,
    gzip.BadGzipFile,
    EOFError,
)


def sniff(head: bytes, *, source: str) -> Compression:
    """The compression of an archive from its first bytes.

    Raises:
        PackageFormatError: neither zstd nor gzip magic bytes.
    """
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    raise PackageFormatError(
        f"{source}: not an .expert package (expected zstd or gzip magic bytes, "
        f"got {head[:4].hex() or 'an empty file'})"
    )


def open_writer(fileobj: Writable) -> BinaryIO:
    """A write-only stream that zstd-compresses into ``fileobj`` (left open on close)."""
    compressor = zstandard.ZstdCompressor(
        level=ZSTD_LEVEL, threads=0, write_checksum=True, write_content_size=False
    )
    target = cast("IO[bytes]", fileobj)  # zstandard only calls write() and flush()
    return compressor.stream_writer(target, closefd=False, write_size=READ_SIZE)


def open_reader(source: Readable, compression: Compression, *, max_window: int) -> BinaryIO:
    """A read-only decompressing stream over ``source`` (which it never closes)."""
    if compression == "gzip":
        stream = gzip.GzipFile(fileobj=cast("IO[bytes]", source), mode="rb")
        return cast(BinaryIO, stream)
    decompressor = zstandard.ZstdDecompressor(max_window_size=max_window)
    # read_across_frames: concatenated frames are one stream (scan_zstd_frames vetted them).
    return decompressor.stream_reader(
        cast("IO[bytes]", source),  # zstandard only calls read()
        read_size=READ_SIZE,
        read_across_frames=True,
        closefd=False,
    )


def _window_size(header: bytes, single_segment: bool, fcs: int | None) -> int:
    if single_segment:
        return fcs or 0
    descriptor = header[0]
    window_log = 10 + (descriptor >> 3)
    base = 1 << window_log
    return base + (base >> 3) * (descriptor & 7)


def _scan_blocks(f: BinaryIO, end: int, where: str) -> None:
    while True:
        raw = f.read(3)
        if len(raw) != 3:
            raise PackageFormatError(f"{where}: archive is truncated (block header cut off)")
        (value,) = struct.unpack("<I", raw + b"\0")
        last, block_type, size = value & 1, (value >> 1) & 3, value >> 3
        if block_type == 3 or size > _MAX_BLOCK:
            raise PackageFormatError(f"{where}: archive is corrupt (invalid zstd block header)")
        skip = 1 if block_type == 1 else size  # an RLE block stores one byte
        if f.seek(skip, 1) > end:  # seeking past the end succeeds; the data is not there
            raise PackageFormatError(f"{where}: archive is truncated (block data cut off)")
        if last:
            return


def _scan_frame(f: BinaryIO, end: int, max_window: int, where: str) -> None:
    descriptor = f.read(1)
    if not descriptor:
        raise PackageFormatError(f"{where}: archive is truncated (frame header cut off)")
    d = descriptor[0]
    fcs_flag, single, checksum, dict_flag = d >> 6, bool(d & 0x20), bool(d & 4), d & 3
    if d & 0x08:
        raise PackageFormatError(f"{where}: archive is corrupt (reserved zstd header bit set)")
    window_len = 0 if single else 1
    dict_len = (0, 1, 2, 4)[dict_flag]
    fcs_len = (1 if single else 0, 2, 4, 8)[fcs_flag]
    rest = f.read(window_len + dict_len + fcs_len)
    if len(rest) != window_len + dict_len + fcs_len:
        raise PackageFormatError(f"{where}: archive is truncated (frame header cut off)")
    fcs = None
    if fcs_len:
        fcs = int.from_bytes(rest[window_len + dict_len :], "little") + (256 if fcs_len == 2 else 0)
    if dict_flag and int.from_bytes(rest[window_len : window_len + dict_len], "little"):
        raise PackageFormatError(f"{where}: zstd frames with a dictionary are not supported")
    window = _window_size(rest, single, fcs)
    if window > max_window:
        raise PackageFormatError(
            f"{where}: zstd window of {window} bytes exceeds the {max_window}-byte limit"
        )
    _scan_blocks(f, end, where)
    if checksum and len(f.read(4)) != 4:
        raise PackageFormatError(f"{where}: archive is truncated (checksum cut off)")


def scan_zstd_frames(f: BinaryIO, *, max_window: int, source: str) -> None:
    """Check that the seekable file ``f`` is whole zstd frames and nothing else.

    Reads only frame and block headers; leaves ``f`` at offset 0.

    Raises:
        PackageFormatError: truncation, trailing garbage, a reserved/invalid header, a
            dictionary frame, or a window larger than ``max_window``.
    """
    end = f.seek(0, 2)
    f.seek(0)
    frames = 0
    while f.tell() < end:
        magic = f.read(4)
        if len(magic) != 4:
            raise PackageFormatError(f"{source}: trailing data after the compressed archive")
        (number,) = struct.unpack("<I", magic)
        if _SKIPPABLE_LOW <= number <= _SKIPPABLE_HIGH:
            # hxpm writes none, and the format check refuses one in front of the first
            # frame: refused everywhere, so no position hides bytes the digest covers.
            raise PackageFormatError(
                f"{source}: zstd skippable frame at offset {f.tell() - 4}; an .expert "
                "archive holds only zstd data frames"
            )
        if magic != ZSTD_MAGIC:
            raise PackageFormatError(f"{source}: trailing data after the compressed archive")
        _scan_frame(f, end, max_window, source)
        frames += 1
    if frames == 0:
        raise PackageFormatError(f"{source}: archive holds no zstd frame")
    f.seek(0)


def archive_corrupt(source: str, detail: object) -> PackageFormatError:
    """The error for data a decompressor or tar parser could not make sense of."""
    return PackageFormatError(f"{source}: archive is truncated or corrupt ({detail})")


class ProgressCallbackError(Exception):
    """Carries an exception raised by a caller's progress callback out of the reader.

    The callback runs under decompression and tar parsing, whose handlers turn ValueError,
    EOFError and the like into ``PackageFormatError``; wrapped, the caller's own exception
    passes them untouched and ``read_package`` re-raises it as it was.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class CountingSource:
    """The compressed file as the decompressor sees it: counted and, when asked, hashed.

    With ``progress``, reports ``(phase, count, total)`` at most once per ``READ_SIZE`` bytes
    and once more from :meth:`drain` with done == total. It is called from whichever thread
    calls :meth:`read`; in the reader that is the reading thread, never the worker.
    """

    def __init__(
        self,
        raw: BinaryIO,
        *,
        hashing: bool,
        progress: Progress | None = None,
        phase: str = "",
        total: int = 0,
    ) -> None:
        self._raw = raw
        self.sha = hashlib.sha256() if hashing else None
        self.count = 0
        self._progress, self._phase, self._total = progress, phase, total
        self._next_report = READ_SIZE
        self._last_report = (-1, -1)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.count += len(data)
        if self.sha is not None:
            self.sha.update(data)
        # One comparison per read when nobody listens; gzip reads in small pieces, so
        # reports are throttled to one per READ_SIZE boundary crossed.
        if self._progress is not None and self.count >= self._next_report:
            self._next_report = (self.count // READ_SIZE + 1) * READ_SIZE
            self._report(self.count, self._total)
        return data

    def drain(self) -> None:
        """Read to the end so the digest covers the whole file; then report the end."""
        while self.read(READ_SIZE):
            pass
        # The total is the size when we started; if the file changed since, what was read
        # is the truth, and a progress bar must still end full.
        self._report(self.count, self.count)

    def _report(self, done: int, total: int) -> None:
        progress = self._progress
        if progress is None or (done, total) == self._last_report:
            return
        self._last_report = (done, total)
        try:
            progress(self._phase, done, total)
        except Exception as exc:  # noqa: BLE001 (carried to the caller, not handled)
            raise ProgressCallbackError(exc) from None


class LimitedStream:
    """Decompressed bytes, capped in total and in ratio to the compressed bytes consumed."""

    def __init__(
        self, inner: BinaryIO, source: CountingSource, limits: ReadLimits, name: str
    ) -> None:
        self._inner, self._source, self._limits, self._name = inner, source, limits, name
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._inner.read(n if n is not None and n >= 0 else READ_SIZE)
        except DECOMPRESSION_ERRORS as exc:
            raise archive_corrupt(self._name, exc) from None
        self.count += len(data)
        limits = self._limits
        if self.count > limits.max_stream_size:
            raise PackageFormatError(
                f"{self._name}: uncompressed archive exceeds {limits.max_stream_size} bytes"
            )
        if self.count > limits.ratio_grace and self.count > limits.max_ratio * max(
            self._source.count, 1
        ):
            raise PackageFormatError(
                f"{self._name}: {self._source.count} compressed bytes expanded to more than "
                f"{self.count} (over {limits.max_ratio}:1); refusing a decompression bomb"
            )
        return data
