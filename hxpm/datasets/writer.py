"""Write dataset files all-or-nothing, streaming.

Each output is written to a temporary file beside it; only when every output is complete
are they renamed into place. An error anywhere (a bad input line halfway, a full disk)
removes the temporaries: nothing is written. A ``.gz`` or ``.zst`` name is compressed.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from hxpm.errors import UsageError


class _Output:
    """One output file being written: the temp file and, if compressed, its compressor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.incomplete")
        self.file: BinaryIO = self.tmp.open("xb")
        self.stream: BinaryIO = self.file
        self.lines = 0
        if path.suffix == ".gz":
            # mtime=0 and no file name: the same lines give the same bytes.
            self.stream = gzip.GzipFile(filename="", fileobj=self.file, mode="wb", mtime=0)  # type: ignore[assignment]
        elif path.suffix == ".zst":
            from hxpm.package.compression import open_writer  # zstandard lives there

            self.stream = open_writer(self.file)

    def write_line(self, data: bytes) -> None:
        self.stream.write(data + b"\n")
        self.lines += 1

    def finish(self) -> None:
        if self.stream is not self.file:
            self.stream.close()  # flushes the compressed trailer; leaves self.file open
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink()


def check_outputs(paths: Sequence[Path], *, inputs: Sequence[Path], overwrite: bool) -> None:
    """Refuse an output that is an input, that repeats, or that exists (unless ``overwrite``).

    Raises:
        UsageError: naming the path.
    """
    seen: set[Path] = set()
    sources = {p.resolve() for p in inputs}
    for path in paths:
        real = path.resolve()
        if real in sources:
            raise UsageError(f"{path}: the output would replace the input; choose another path")
        if real in seen:
            raise UsageError(f"{path}: named twice as an output")
        seen.add(real)
        if path.is_dir():
            raise UsageError(f"{path}: is a directory; expected an output file path")
        if path.exists() and not overwrite:
            raise UsageError(f"{path}: exists", hint="Pass --force to replace it.")


@contextlib.contextmanager
def atomic_outputs(paths: Sequence[Path]) -> Iterator[list[_Output]]:
    """Writers for ``paths``; renamed into place together when the block ends without error."""
    outputs: list[_Output] = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            outputs.append(_Output(path))
        yield outputs
        for out in outputs:
            out.finish()
    except BaseException:
        for out in outputs:
            out.discard()
        raise
    for out in outputs:
        os.replace(out.tmp, out.path)
    for parent in {out.path.parent for out in outputs}:
        _fsync_dir(parent)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
