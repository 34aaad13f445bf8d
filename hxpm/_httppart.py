"""The partial file of a resumable download (:func:`hxpm.http.download`).

``DEST.part`` holds the bytes received so far; ``DEST.part.json`` the URL they came from
and the server's validator for that version of the file (a strong ETag, else its
Last-Modified date), which the next request sends as ``If-Range``: the server then sends
the rest (206) only if the file is still the same, else the whole file (200). A part without
a usable record is deleted rather than trusted: bytes of unknown origin are never resumed.
The record is our own small JSON file, read with a size cap and strict types; anything
unexpected in it means "start over", never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any

MAX_RECORD_BYTES = 4096
MAX_VALIDATOR_CHARS = 256
_READ_CHUNK = 1 << 20


def safe_validator(value: str | None, *, strong_only: bool = False) -> str | None:
    """``value`` if it can go back to a server in a header (printable ASCII, short), else None.

    With ``strong_only``, a weak ETag (``W/"..."``) is None too: If-Range needs a strong one.
    """
    if value is None or not value or len(value) > MAX_VALIDATOR_CHARS:
        return None
    if any(not (0x20 <= ord(c) < 0x7F) for c in value):
        return None  # also keeps CR/LF (header injection) out
    if strong_only and value.startswith("W/"):
        return None
    return value


class PartFile:
    """The part file of one download: its bytes, their running SHA-256, and its record."""

    def __init__(self, dest: Path, url: str) -> None:
        self.path = dest.with_name(dest.name + ".part")
        self.record = dest.with_name(dest.name + ".part.json")
        self.url = url
        self.validator: str | None = None
        self.size = 0
        self._sha = hashlib.sha256()
        self._out: IO[bytes] | None = None

    @classmethod
    def open(cls, dest: Path, url: str) -> PartFile:
        """The part for ``dest``: what an earlier run left if it is resumable, else empty."""
        part = cls(dest, url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        validator = part._read_record()
        if validator is None:
            part.discard()
        else:
            part.validator = validator
            part._hash_existing()
        part._out = open(part.path, "ab")  # noqa: SIM115 -- closed by close()
        return part

    def _read_record(self) -> str | None:
        try:
            with open(self.record, "rb") as f:
                raw = f.read(MAX_RECORD_BYTES + 1)
            doc: Any = json.loads(raw) if len(raw) <= MAX_RECORD_BYTES else None
        except (OSError, ValueError):
            return None
        if not (
            isinstance(doc, dict)
            and doc.get("url") == self.url
            and isinstance(doc.get("validator"), str)
        ):
            return None  # another URL's bytes, or a record we did not write
        if not self.path.is_file():
            return None
        return safe_validator(doc["validator"])

    def _hash_existing(self) -> None:
        with open(self.path, "rb") as f:
            while chunk := f.read(_READ_CHUNK):
                self._sha.update(chunk)
                self.size += len(chunk)

    def set_validator(self, validator: str | None) -> None:
        """Record what the server said this version is (None: it cannot be resumed)."""
        if validator == self.validator:
            return
        self.validator = validator
        if validator is None:
            _unlink(self.record)
            return
        tmp = self.record.with_name(self.record.name + ".tmp")
        tmp.write_text(json.dumps({"url": self.url, "validator": validator}))
        os.replace(tmp, self.record)

    def append(self, data: bytes) -> None:
        assert self._out is not None
        self._out.write(data)
        self._sha.update(data)
        self.size += len(data)

    def reset(self) -> None:
        """Drop what arrived so far (the server is sending the whole file again)."""
        assert self._out is not None
        self._out.truncate(0)
        self._out.seek(0)
        self._sha = hashlib.sha256()
        self.size = 0
        self.set_validator(None)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()

    def finish(self, dest: Path) -> str:
        """Move the complete part to ``dest`` and return its SHA-256."""
        self.close()
        os.replace(self.path, dest)
        _unlink(self.record)
        return self.hexdigest()

    def discard(self) -> None:
        self.close()
        _unlink(self.path)
        _unlink(self.record)
        self.validator, self.size, self._sha = None, 0, hashlib.sha256()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
