"""The lines of a JSONL dataset, plain, gzip or zstd, read in bounded chunks.

A dataset can be tens of thousands of lines and hundreds of MB: it is never read whole.
Each line is held only up to ``max_line_bytes``; a longer one is reported as soon as it passes
the cap, and its remaining bytes are skipped without being kept (a 50 MB line costs one chunk
of memory, not 50 MB). Line numbers count lines of the decompressed text, from 1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from hxpm.errors import DatasetError, NotFoundError

CHUNK = 1 << 20
MAX_LINE_BYTES = 16 << 20  # far above any max_seq_length; a longer line is refused
MAX_ZSTD_WINDOW = 1 << 27  # what the zstd CLI writes even with --long
_GZIP_MAGIC, _ZSTD_MAGIC = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
_BOM = b"\xef\xbb\xbf"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class TooLong:
    """A line passed the cap; its text was not kept."""

    cap: int


def compression_of(path: Path, head: bytes) -> str | None:
    """``"gzip"``, ``"zstd"`` or None, from the magic bytes; the name must agree.

    Raises:
        DatasetError: the name says compressed (``.gz``, ``.zst``) but the bytes are not.
    """
    found = "gzip" if head.startswith(_GZIP_MAGIC) else None
    found = "zstd" if head.startswith(_ZSTD_MAGIC) else found
    named = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}.get(path.suffix)
    if named and found != named:
        raise DatasetError(
            f"{path}: the name says {named} but the file does not start with {named} magic bytes",
            file=str(path),
            expected=f"a {named}-compressed JSONL file",
        )
    return found


@contextlib.contextmanager
def open_dataset(path: Path) -> Iterator[Readable]:
    """The decompressed bytes of ``path``.

    Raises:
        NotFoundError: no such file.
        DatasetError: a compressed file whose frames are cut off or damaged (zstd is checked
            before reading; gzip fails when the damage is reached).
    """
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such dataset file") from None
    except IsADirectoryError:
        raise NotFoundError(f"{path}: is a directory, not a dataset file") from None
    with raw:
        kind = compression_of(path, raw.read(4))
        raw.seek(0)
        if kind is None:
            yield raw
            return
        # Imported here: zstandard sits behind hxpm/package/compression.py, and plain
        # datasets (the light `dataset` commands) should not pay for it.
        from hxpm.errors import PackageFormatError
        from hxpm.package import compression

        if kind == "zstd":
            try:
                compression.scan_zstd_frames(raw, max_window=MAX_ZSTD_WINDOW, source=str(path))
            except PackageFormatError as exc:
                raise _damaged(path, exc.message) from None
        codec: compression.Compression = "zstd" if kind == "zstd" else "gzip"
        stream = compression.open_reader(raw, codec, max_window=MAX_ZSTD_WINDOW)
        with stream:
            yield _Checked(stream, path, compression.DECOMPRESSION_ERRORS)


def _damaged(path: Path, detail: object) -> DatasetError:
    return DatasetError(
        f"{path}: the compressed data is cut off or damaged ({detail})",
        file=str(path),
        expected="a whole gzip or zstd stream",
    )


class _Checked:
    """Turns a decompressor's own exceptions into :class:`DatasetError`."""

    def __init__(
        self, inner: BinaryIO, path: Path, errors: tuple[type[BaseException], ...]
    ) -> None:
        self._inner, self._path, self._errors = inner, path, errors

    def read(self, n: int = -1) -> bytes:
        try:
            return self._inner.read(n)
        except self._errors as exc:
            raise _damaged(self._path, exc) from None


def raw_lines(stream: Readable, max_line_bytes: int) -> Iterator[tuple[int, bytes | TooLong]]:
    """``(number, bytes)`` for each line (newline, a trailing CR and a first-line BOM
    removed), or ``(number, TooLong)`` as soon as a line passes ``max_line_bytes``."""
    buf = bytearray()
    number, skipping = 1, False
    while chunk := stream.read(CHUNK):
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not skipping:
                buf += piece
                if len(buf) > max_line_bytes:
                    buf.clear()
                    skipping = True
                    yield number, TooLong(max_line_bytes)
            if end < 0:
                break
            if not skipping:
                yield number, _clean(buf, number)
            buf.clear()
            number, skipping, start = number + 1, False, end + 1
    if buf and not skipping:
        yield number, _clean(buf, number)


def _clean(buf: bytearray, number: int) -> bytes:
    data = bytes(buf[:-1] if buf.endswith(b"\r") else buf)
    return data[len(_BOM) :] if number == 1 and data.startswith(_BOM) else data
