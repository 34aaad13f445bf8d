"""Receiving a pack (private to the Git layer): into a temporary file under the cache,
counted against the pack cap, verified, and only then added to the object store.

Every read of the server's reply goes through a :class:`~hxpm.index._gitguard.WireGuard`
(deadline, ref-advertisement caps); a failure anywhere leaves the repository as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from dulwich.client import FetchPackResult
from dulwich.errors import GitProtocolError
from dulwich.object_store import ObjectStoreGraphWalker
from dulwich.objects import ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

from hxpm.errors import IntegrityError, StoreError
from hxpm.index._gitguard import WireGuard
from hxpm.index._gitlocal import local_heads, local_parents
from hxpm.index._gitwire import WantsFn, guarded_client, short, transport_errors
from hxpm.index.urls import GitURL
from hxpm.netlimits import ENV_MAX_PACK_BYTES, Deadline, NetLimits, too_many

if TYPE_CHECKING:
    from dulwich.client import DetermineWantsFunc


def receive(
    repo: Repo,
    url: GitURL,
    determine_wants: WantsFn,
    depth: int | None,
    *,
    limits: NetLimits,
    deadline: Deadline | None = None,
) -> None:
    """Run one fetch: pack into a temp file, verify and add it, then update shallow.

    The shallow list changes only after the pack is in, and refs are the caller's last step,
    so a failure anywhere leaves the repository as it was (the temp file is always removed).
    Every read is under ``limits``; ``deadline`` is the whole operation's when it spans
    several fetches.
    """
    recorded: list[tuple[set[ObjectID] | None, set[ObjectID] | None]] = []
    walker = ObjectStoreGraphWalker(
        local_heads(repo),
        lambda sha: local_parents(repo, sha),
        shallow=repo.get_shallow(),
        update_shallow=lambda new, gone: recorded.append((new, gone)),
    )
    guard = WireGuard(limits, deadline)
    fd, tmp_name = tempfile.mkstemp(prefix="incoming-", suffix=".pack", dir=repo.controldir())
    try:
        with os.fdopen(fd, "w+b") as sink, transport_errors(url, "fetching", guard):
            counter = _Counter(sink, limits.max_pack_bytes)
            try:
                result = _fetch_pack(url, guard, determine_wants, walker, counter, depth)
            finally:
                guard.close()
            if counter.pack_bytes:
                sink.seek(0)
                _add_pack(repo, sink, url)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp_name)
    recorded.append((result.new_shallow, result.new_unshallow))
    for new, gone in recorded:
        if new or gone:
            repo.update_shallow(new, gone)


def _fetch_pack(
    url: GitURL,
    guard: WireGuard,
    determine_wants: WantsFn,
    walker: ObjectStoreGraphWalker,
    counter: _Counter,
    depth: int | None,
) -> FetchPackResult:
    def wants_after_refs(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        guard.refs_done()  # what the server sends from now on counts against the pack cap
        return determine_wants(refs, depth)

    try:
        return _fetch_once(url, guard, wants_after_refs, walker, counter, depth)
    except GitProtocolError as e:
        # A server without the shallow capability still serves a full fetch.
        if depth is None or "shallow capability" not in str(e) or counter.total:
            raise
    guard.refs_again()
    return _fetch_once(url, guard, wants_after_refs, walker, counter, None)


def _fetch_once(
    url: GitURL,
    guard: WireGuard,
    determine_wants: WantsFn,
    walker: ObjectStoreGraphWalker,
    counter: _Counter,
    depth: int | None,
) -> FetchPackResult:
    client, path = guarded_client(url, guard)
    wants = cast("DetermineWantsFunc", determine_wants)
    try:
        return client.fetch_pack(
            path, wants, walker, counter.pack, progress=counter.progress, depth=depth
        )
    finally:
        client.close()


class _Counter:
    """Writes pack bytes to the temp file and aborts once the transfer passes the cap."""

    def __init__(self, sink: BinaryIO, limit: int) -> None:
        self.sink, self.limit = sink, limit
        self.pack_bytes = 0
        self.total = 0

    def _count(self, n: int) -> None:
        self.total += n
        if self.total > self.limit:
            raise too_many("bytes of pack data", self.limit, ENV_MAX_PACK_BYTES)

    def pack(self, data: bytes) -> int:
        self._count(len(data))
        self.pack_bytes += len(data)
        self.sink.write(data)
        return len(data)

    def progress(self, data: bytes) -> None:
        self._count(len(data))  # progress chatter is bounded too


def _add_pack(repo: Repo, sink: BinaryIO, url: GitURL) -> None:
    """Verify the received pack and move it into the object store, or leave no trace."""
    header = sink.read(12)
    if len(header) < 12 or not header.startswith(b"PACK"):
        raise IntegrityError(f"fetching {url.display}: expected a Git pack, got other data")
    if int.from_bytes(header[8:12], "big") == 0:
        return
    sink.seek(0)
    objects = Path(repo.controldir()) / "objects"
    # dulwich copies the pack to objects/tmp_pack_* and renames it in only once it verifies;
    # on failure that copy is left behind, so remove it.
    before = set(objects.glob("tmp_pack_*"))
    try:
        repo.object_store.add_thin_pack(sink.read, None)
    except Exception as e:
        for leftover in set(objects.glob("tmp_pack_*")) - before:
            with suppress(OSError):
                leftover.unlink()
        if isinstance(e, OSError):  # the disk, not the data
            raise StoreError(f"fetching {url.display}: writing the Git cache: {e}") from e
        raise IntegrityError(
            f"fetching {url.display}: the pack does not verify ({type(e).__name__}: "
            f"{short(str(e))})",
            hint="The server sent corrupt data; retry, and report it if it persists.",
        ) from None
