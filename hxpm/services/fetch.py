"""Getting a variant's archive into the content-addressed blob store.

Bytes come from the expert's source repo at the pinned commit (``path``) or from a URL
(``url``). They land in ``blobs/sha256/<hex>`` only when their SHA-256 equals the one the
index line promises, so a blob's name is always its digest. A blob already present is reused:
that is what makes reinstalls and ``--offline`` work.

A URL download is resumable (:func:`hxpm.http.download`): its part file is
``blobs/partial/<hex>.part``, named by the digest it must reach, so an interrupted install
picks it up the next time, whichever process runs it; a per-digest lock keeps two processes
from appending to the same part.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from hxpm.core.manifest import Manifest
from hxpm.errors import IndexDataError, IntegrityError
from hxpm.http import DownloadProgress
from hxpm.index import git
from hxpm.index.model import VariantEntry, VersionLine
from hxpm.index.urls import normalise_git_url
from hxpm.store.lock import store_lock
from hxpm.store.paths import StorePaths
from hxpm.transport import download, require_online

MAX_MANIFEST_BYTES = 1 << 20
# Slack over the size an index line states: the line is checked against the digest anyway.
SIZE_SLACK = 1 << 10


def fetch_variant(
    paths: StorePaths,
    line: VersionLine,
    variant: VariantEntry,
    *,
    progress: DownloadProgress | None = None,
) -> Path:
    """Return the path of the verified blob for ``variant``, fetching it if needed.

    ``progress`` sees the bytes of a URL download as they arrive (see :func:`download`).
    """
    blob = paths.blob(variant.sha256)
    if blob.is_file():
        return blob
    paths.blobs.mkdir(parents=True, exist_ok=True)
    if variant.url:
        _download_variant(paths, line, variant, progress)
        return blob
    data = _read_from_repo(paths, line, variant)
    _check_digest(hashlib.sha256(data).hexdigest(), variant, line)
    _write_blob(blob, data)
    return blob


def partial_dir(paths: StorePaths) -> Path:
    """Where interrupted URL downloads wait to be resumed (beside the blobs, not in tmp/,
    which every writer clears)."""
    return paths.blobs.parent / "partial"


def _download_variant(
    paths: StorePaths, line: VersionLine, variant: VariantEntry, progress: DownloadProgress | None
) -> None:
    assert variant.url is not None
    blob, partial = paths.blob(variant.sha256), partial_dir(paths)
    dest = partial / variant.sha256
    with store_lock(partial / f"{variant.sha256}.lock"):
        if blob.is_file():
            return  # another process got it while this one waited
        try:
            download(
                variant.url,
                dest,
                max_bytes=variant.size + SIZE_SLACK,
                expected_sha256=variant.sha256,
                progress=progress,
            )
        except IntegrityError as e:
            _check_digest(str(e.details.get("got", "")), variant, line)  # the index's words
            raise
        os.replace(dest, blob)


class DownloadMeter:
    """One progress figure over several downloads running in parallel threads.

    ``report(phase, done, total)`` is the CLI's byte-progress hook (library code never draws);
    it is called with phase ``"download"``, the bytes all downloads hold so far (a resumed
    one counts what it resumed from) and the sum of their sizes.
    """

    def __init__(
        self, report: Callable[[str, int, int], None], variants: Sequence[VariantEntry]
    ) -> None:
        self._report = report
        self._total = sum(v.size for v in variants)
        self._done: dict[str, int] = {}
        self._lock = threading.Lock()

    def callback(self, variant: VariantEntry) -> DownloadProgress:
        key = variant.sha256

        def update(done: int, _total: int) -> None:
            with self._lock:
                self._done[key] = done
                self._report("download", sum(self._done.values()), self._total)

        return update


def _read_from_repo(paths: StorePaths, line: VersionLine, variant: VariantEntry) -> bytes:
    assert variant.path is not None
    url = normalise_git_url(line.source.git)
    cache = paths.repos / url.cache_key
    commit = line.source.commit
    # Two installs (threads or processes) may want the same repo: one fetch at a time.
    with store_lock(cache.with_name(cache.name + ".lock")):
        if not (cache.exists() and git.has_commit(cache, commit)):
            require_online(f"fetching {line.name} {line.version} from {url.display}")
            git.fetch(url, cache, commit=commit, depth=1)
    _check_repo_manifest(cache, line)
    return git.read_file(cache, commit, variant.path, max_bytes=variant.size + SIZE_SLACK)


def _check_repo_manifest(cache: Path, line: VersionLine) -> None:
    """The tagged commit must hold the expert the index line describes."""
    data = git.read_file(cache, line.source.commit, "manifest.json", max_bytes=MAX_MANIFEST_BYTES)
    m = Manifest.from_bytes(data, source=f"{line.source.git}@{line.source.commit[:12]}")
    if m.name != line.name or m.version != line.version:
        raise IndexDataError(
            f"the index says {line.source.git} at {line.source.tag} "
            f"({line.source.commit[:12]}) is {line.name} {line.version}, but its manifest "
            f"says {m.name} {m.version}",
            hint="The index line or the repository's tag is wrong; tell the index owner.",
        )


def _check_digest(got: str, variant: VariantEntry, line: VersionLine) -> None:
    if got != variant.sha256:
        raise IntegrityError(
            f"{line.name} {line.version}: the archive's sha256 is {got}, the index line says "
            f"{variant.sha256}",
            hint="The bytes were altered, or the index line is wrong.",
        )


def _write_blob(blob: Path, data: bytes) -> None:
    tmp = blob.with_name(f".{blob.name}.{uuid.uuid4().hex[:8]}.incomplete")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, blob)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def needs_network(paths: StorePaths, line: VersionLine, variant: VariantEntry) -> bool:
    if paths.blob(variant.sha256).is_file():
        return False
    if variant.url:
        return True
    url = normalise_git_url(line.source.git)
    cache = paths.repos / url.cache_key
    return not (cache.exists() and git.has_commit(cache, line.source.commit))
