"""What hxpm keeps for one sparse index, under ``indexes/<name>/`` (docs/formats/sparse-index.md).

- ``snapshot.json``: the last snapshot accepted, byte for byte as served (its signature can
  be checked again; the rollback guard compares with it);
- ``files/<path>``: every index file fetched so far, each matching that snapshot;
- ``state.json``: the accepted serial and commit, the snapshot's ETag, the pinned snapshot
  keys, and the SHA-256 and ETag of each file in ``files/``.

Every write is atomic; a per-index lock file serialises writers (``index update`` and the
fetches resolution makes) without taking the store's lock, which an install may hold.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hxpm.errors import HxpmError, StoreError
from hxpm.index.sparse import SignedSnapshot, parse_snapshot
from hxpm.store.fsutil import atomic_write_bytes
from hxpm.store.lock import store_lock

STATE_FORMAT = "hxpm-sparse-state/1"


@dataclass(frozen=True, slots=True)
class CachedFile:
    sha256: str
    etag: str | None


@dataclass(frozen=True)
class SparseState:
    serial: int
    commit: str
    snapshot_etag: str | None
    keys: tuple[str, ...]  # pinned snapshot keys, "ed25519:<base64>"
    files: Mapping[str, CachedFile] = field(default_factory=dict)

    def with_files(self, files: Mapping[str, CachedFile]) -> SparseState:
        return replace(self, files={**self.files, **files})

    def to_bytes(self) -> bytes:
        doc = {
            "format": STATE_FORMAT,
            "serial": self.serial,
            "commit": self.commit,
            "snapshot_etag": self.snapshot_etag,
            "keys": list(self.keys),
            "files": {
                p: {"sha256": f.sha256, "etag": f.etag} for p, f in sorted(self.files.items())
            },
        }
        return (json.dumps(doc, indent=1) + "\n").encode()


class SparseDir:
    """The folder of one sparse index in the store."""

    def __init__(self, root: Path, index: str) -> None:
        self.root = root
        self.index = index

    @contextmanager
    def locked(self) -> Iterator[None]:
        with store_lock(self.root / "sparse.lock"):
            yield

    def state(self) -> SparseState | None:
        """The state, or None when nothing was accepted yet.

        Raises:
            StoreError: the file exists but is damaged (remove and re-add the index).
        """
        path = self.root / "state.json"
        try:
            doc = json.loads(path.read_bytes())
            files = {p: CachedFile(str(f["sha256"]), f["etag"]) for p, f in doc["files"].items()}
            if doc.get("format") != STATE_FORMAT:
                raise ValueError("format")
            return SparseState(
                int(doc["serial"]),
                str(doc["commit"]),
                doc["snapshot_etag"],
                tuple(doc["keys"]),
                files,
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(
                f"index {self.index}: {path} is damaged ({exc})",
                hint=f"Run `hxpm index remove {self.index}` and add it again.",
            ) from None

    def snapshot(self) -> SignedSnapshot | None:
        """The accepted snapshot, or None (never accepted, or the file is gone)."""
        raw = self.snapshot_bytes()
        if raw is None:
            return None
        try:
            return parse_snapshot(raw, where=f"index {self.index}: accepted snapshot.json")
        except HxpmError:
            return None

    def snapshot_bytes(self) -> bytes | None:
        try:
            return (self.root / "snapshot.json").read_bytes()
        except OSError:
            return None

    def read_file(self, path: str) -> bytes | None:
        try:
            return (self.root / "files" / path).read_bytes()
        except OSError:
            return None

    def write_files(self, files: Mapping[str, bytes]) -> None:
        """Each file whole or not at all; no fsync: a copy is used only after its SHA-256
        is checked again (or through the SQLite cache), so a lost write is refetched."""
        try:
            for path, data in files.items():
                target = self.root / "files" / path
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.incomplete")
                tmp.write_bytes(data)
                os.replace(tmp, target)
        except OSError as exc:
            raise StoreError(f"index {self.index}: cannot write its cache: {exc}") from None

    def accept(self, state: SparseState, snapshot_raw: bytes | None = None) -> None:
        """Record ``state`` (and the snapshot it belongs to): the commit point of a change."""
        try:
            if snapshot_raw is not None:
                atomic_write_bytes(self.root / "snapshot.json", snapshot_raw)
            atomic_write_bytes(self.root / "state.json", state.to_bytes())
        except OSError as exc:
            raise StoreError(f"index {self.index}: cannot write its state: {exc}") from None


def state_doc(state: SparseState) -> dict[str, Any]:
    """What `index list --json` may show about a sparse index."""
    return {"serial": state.serial, "files_cached": len(state.files)}
