"""The writing side of :mod:`hxpm.package.reader`: member bytes to digests and files.

- :class:`Sink` reads one member's stream and hashes (and optionally writes) every byte
  exactly once, one chunk behind the decompressor on a worker thread.
- :class:`StagingWriter` creates member files in the staging directory (``O_EXCL|O_NOFOLLOW``,
  mode 0644 whatever the umask) and remembers them, so a failed read removes all it wrote.

The rules on names, types and sizes are the reader's; by the time a name gets here it has
passed them (one top-level directory at most, no ``..``, no duplicates).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import IO, BinaryIO, Self

from hxpm.errors import StoreError

CHUNK = 1 << 20
_OPEN_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def check_staging(extract_to: Path) -> None:
    """Refuse an extraction target that is not an existing, empty, real directory.

    Raises:
        StoreError: it is missing, a symlink, not a directory, not empty or unreadable.
    """
    try:
        if extract_to.is_symlink() or not extract_to.is_dir():
            raise StoreError(f"{extract_to}: extraction target must be an existing directory")
        if any(extract_to.iterdir()):
            raise StoreError(f"{extract_to}: extraction target must be empty")
    except OSError as exc:
        raise StoreError(f"{extract_to}: cannot use as extraction target: {exc}") from None


class StagingWriter:
    """Creates member files under ``dest`` and removes them again on :meth:`cleanup`."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.created: list[tuple[Path, bool]] = []  # (path, is_dir), in creation order

    def open(self, name: str) -> BinaryIO:
        """A new file for member ``name`` (its one parent directory created on first use).

        Raises:
            StoreError: the file (or directory) cannot be created, or already exists.
        """
        try:
            if "/" in name:
                parent = self.dest / name.split("/", 1)[0]
                if (parent, True) not in self.created:
                    os.mkdir(parent, 0o755)
                    self.created.append((parent, True))
            target = self.dest / name
            fd = os.open(target, _OPEN_FLAGS, 0o644)
            self.created.append((target, False))
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o644)  # the umask must not change what we record
            return os.fdopen(fd, "wb")
        except OSError as exc:
            raise StoreError(f"{self.dest}: cannot create {name}: {exc}") from None

    def cleanup(self) -> None:
        """Remove everything created so far, newest first."""
        for path, is_dir in reversed(self.created):
            # Best effort: the caller discards the staging directory anyway.
            with contextlib.suppress(OSError):
                os.rmdir(path) if is_dir else os.unlink(path)
        self.created.clear()


class Sink:
    """Reads a member stream; hashes and (optionally) writes every byte exactly once.

    Hashing and writing run on a worker thread one chunk behind the reader, so that
    decompression overlaps SHA-256 and the write (all three release the GIL). At most two
    chunks are alive at a time, and chunks are consumed in order.
    """

    def __init__(self, src: IO[bytes], out: BinaryIO | None, pool: Executor) -> None:
        self._src, self._out, self._pool = src, out, pool
        self._pending: Future[None] | None = None
        self.sha = hashlib.sha256()
        self.count = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if exc_type is None:
                self._wait()
            else:  # already failing: finish the worker's chunk, keep the original error
                with contextlib.suppress(Exception):
                    self._wait()
        finally:
            if self._out is not None:
                try:
                    self._out.close()
                except OSError as error:  # a deferred write error (ENOSPC, EIO) shows here
                    if exc_type is None:
                        raise StoreError(f"cannot write extracted file: {error}") from None

    def _consume(self, data: bytes) -> None:
        self.sha.update(data)
        if self._out is not None:
            self._out.write(data)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                pending.result()
            except OSError as exc:
                raise StoreError(f"cannot write extracted file: {exc}") from None

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of the member; they are hashed (and written) in order."""
        data = self._src.read(n)
        self.count += len(data)
        self._wait()
        if data:
            self._pending = self._pool.submit(self._consume, data)
        return data

    def pump(self) -> None:
        """Read the rest of the member."""
        while self.read(CHUNK):
            pass
