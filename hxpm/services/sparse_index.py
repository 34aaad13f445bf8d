"""Sparse HTTP indexes: add and update (docs/formats/sparse-index.md).

An update fetches ``snapshot.json`` (If-None-Match: a 304 costs no download), checks its
signature against the pinned snapshot keys, its expiry and the rollback guard (the serial
never goes down), then re-fetches only the files already cached whose SHA-256 changed, and
checks each against the new snapshot. Only when everything verified are the files, the
SQLite index cache, the state and the store's index record changed: a lying server leaves
the previous good cache in use. Expert files nobody asked for are not fetched here; see
:mod:`hxpm.services.sparse_fetch`.
"""

from __future__ import annotations

import hashlib
import queue
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from hxpm import http
from hxpm.errors import IndexDataError, IntegrityError, RollbackError, UntrustedKeyError
from hxpm.index.config import MAX_CONFIG_BYTES, IndexConfig
from hxpm.index.expert_file import MAX_EXPERT_FILE_BYTES
from hxpm.index.sparse import (
    CONFIG_FILE,
    MAX_SNAPSHOT_BYTES,
    SNAPSHOT_FILE,
    SignedSnapshot,
    Snapshot,
    SparseURL,
    check_file,
    check_not_older,
    expert_of_path,
    keys_text,
    normalise_sparse_url,
    parse_snapshot,
    snapshot_keys_of,
    verify_snapshot,
)
from hxpm.package.signing import PublicKey, parse_public_key
from hxpm.services.indexes import IndexUpdate, _refresh_index_keys, open_cache
from hxpm.services.sparse_state import CachedFile, SparseDir, SparseState
from hxpm.store.records import IndexRecord
from hxpm.store.state import utc_now
from hxpm.store.store import Store
from hxpm.transport import require_online

MAX_PARALLEL = 16


@dataclass(frozen=True, slots=True)
class Fetched:
    path: str
    data: bytes
    etag: str | None


def sparse_dir(store: Store, index: str) -> SparseDir:
    return SparseDir(store.paths.indexes / index, index)


def update_sparse(
    store: Store,
    record: IndexRecord,
    *,
    allow_rewind: bool = False,
    url_text: str | None = None,
    snapshot_key: str | None = None,
) -> IndexUpdate:
    """Accept the server's current snapshot for ``record`` (the caller holds the store lock).

    ``url_text`` (with this call's credentials) wins over the stored URL; ``snapshot_key``
    pins the key that must sign snapshots (first add only; default: the keys config.json
    lists, trusted on first use).

    Raises:
        OfflineError, NetworkError, NotFoundError: fetching failed (exit 6 / 4).
        UntrustedKeyError, SignatureError: the snapshot is not signed by a pinned key.
        IndexDataError: expired snapshot, malformed file, snapshot of another index.
        RollbackError: a lower serial, or another snapshot with the accepted serial.
        IntegrityError: a file does not match the snapshot.
    """
    require_online(f"updating index {record.name}")
    url = normalise_sparse_url(url_text or record.url)
    folder = sparse_dir(store, record.name)
    with folder.locked():
        old = folder.state()
        old_raw = folder.snapshot_bytes() if old else None
        signed, etag = _fetch_snapshot(url, record.name, old, old_raw)
        config_data = _config_bytes(url, folder, signed.snapshot, old)
        config = IndexConfig.from_bytes(config_data, source=f"index {record.name}: config.json")
        trusted = _trusted_keys(record.name, old, config, snapshot_key)
        snap = verify_snapshot(signed, trusted, index=record.name)
        if snap.index != config.name:
            raise IndexDataError(
                f"index {record.name}: snapshot.json is for index "
                f"{snap.index!r}, config.json for {config.name!r}"
            )
        rewound = _rollback_guard(signed, old, old_raw, record.name, allow_rewind)
        changed = _changed_files(url, folder, snap, old)
        return _commit(
            store,
            record,
            folder,
            (signed, etag, config, config_data),
            old,
            trusted,
            changed,
            rewound,
        )


def _fetch_snapshot(
    url: SparseURL, index: str, old: SparseState | None, old_raw: bytes | None
) -> tuple[SignedSnapshot, str | None]:
    etag = old.snapshot_etag if old and old_raw else None
    got = http.get(url.file_url(SNAPSHOT_FILE), max_bytes=MAX_SNAPSHOT_BYTES, etag=etag)
    raw = old_raw if got.status == 304 and old_raw is not None else got.body
    return parse_snapshot(raw, where=f"index {index}: {SNAPSHOT_FILE}"), got.etag


def _config_bytes(
    url: SparseURL, folder: SparseDir, snap: Snapshot, old: SparseState | None
) -> bytes:
    cached = _cached_copy(folder, snap, CONFIG_FILE, old)
    if cached is not None:
        return cached
    got = http.get(url.file_url(CONFIG_FILE), max_bytes=MAX_CONFIG_BYTES)
    check_file(snap, CONFIG_FILE, got.body, index=folder.index)
    return got.body


def _cached_copy(
    folder: SparseDir, snap: Snapshot, path: str, old: SparseState | None
) -> bytes | None:
    """The file as cached, when the cache holds exactly what ``snap`` lists."""
    known = old.files.get(path) if old else None
    if known is None or known.sha256 != snap.hash_of(path):
        return None
    data = folder.read_file(path)
    if data is None:
        return None
    try:
        check_file(snap, path, data, index=folder.index)
    except IntegrityError:
        return None  # a damaged local copy is simply fetched again
    return data


def _trusted_keys(
    index: str, old: SparseState | None, config: IndexConfig, pinned: str | None
) -> tuple[PublicKey, ...]:
    if old is not None:
        return tuple(parse_public_key(k) for k in old.keys)
    if pinned is not None:
        return (parse_public_key(pinned),)
    keys = snapshot_keys_of(config.raw, where=f"index {index}: config.json")
    if not keys:
        raise UntrustedKeyError(
            f"index {index}: config.json lists no snapshot_keys, so nothing says who may sign "
            "its snapshots",
            hint="Pass --snapshot-key PUBKEY|FILE (the index owner's key), or ask the owner "
            "to export with `hxpm index export-sparse`, which lists it.",
            details={"reason": "untrusted-key"},
        )
    return keys


def _rollback_guard(
    signed: SignedSnapshot,
    old: SparseState | None,
    old_raw: bytes | None,
    index: str,
    allow_rewind: bool,
) -> bool:
    if old is None:
        return False
    try:
        check_not_older(signed, serial=old.serial, raw=old_raw, index=index)
    except RollbackError:
        if not allow_rewind:
            raise
        return True
    return False


def _changed_files(
    url: SparseURL, folder: SparseDir, snap: Snapshot, old: SparseState | None
) -> dict[str, Fetched | None]:
    """Files cached before that the new snapshot changes: path -> new bytes (None: gone)."""
    out: dict[str, Fetched | None] = {}
    stale: list[tuple[str, str | None]] = []
    for path, known in old.files.items() if old else ():
        want = snap.hash_of(path)
        if want is None:
            out[path] = None
        elif want != known.sha256 and path != CONFIG_FILE:
            stale.append((path, known.etag))
    for got in fetch_files(url, folder.index, snap, stale):
        out[got.path] = got
    return out


class FetcherPool:
    """HTTP fetchers lent to worker threads and kept between waves, so connections and the
    TLS context are set up once per command rather than once per file."""

    def __init__(self) -> None:
        self._idle: queue.SimpleQueue[http.Fetcher] = queue.SimpleQueue()
        self._all: list[http.Fetcher] = []

    def get(self, url: str, *, max_bytes: int) -> http.HttpResult:
        try:
            fetcher = self._idle.get_nowait()
        except queue.Empty:
            fetcher = http.default_fetcher()  # reused: connections and TLS set-up
            self._all.append(fetcher)
        try:
            return http.get(url, max_bytes=max_bytes, fetcher=fetcher)
        finally:
            self._idle.put(fetcher)

    def close(self) -> None:
        for f in self._all:
            close = getattr(f, "close", None)  # the default fetcher has one; the protocol not
            if close is not None:
                close()


def fetch_files(
    url: SparseURL,
    index: str,
    snap: Snapshot,
    wanted: Sequence[tuple[str, str | None]],
    pool: FetcherPool | None = None,
) -> list[Fetched]:
    """Fetch ``(path, etag)`` in parallel; each must match ``snap`` (else IntegrityError)."""
    fetchers = pool or FetcherPool()

    def one(item: tuple[str, str | None]) -> Fetched:
        path, _etag = item
        cap = MAX_CONFIG_BYTES if path == CONFIG_FILE else MAX_EXPERT_FILE_BYTES
        # The old copy's ETag is not sent: its hash differs, so a 304 would be wrong.
        got = fetchers.get(url.file_url(path), max_bytes=cap)
        check_file(snap, path, got.body, index=index)
        return Fetched(path, got.body, got.etag)

    try:
        if len(wanted) <= 1:
            return [one(w) for w in wanted]
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(wanted))) as workers:
            return list(workers.map(one, wanted))
    finally:
        if pool is None:
            fetchers.close()


def _commit(
    store: Store,
    record: IndexRecord,
    folder: SparseDir,
    fetched: tuple[SignedSnapshot, str | None, IndexConfig, bytes],
    old: SparseState | None,
    trusted: Sequence[PublicKey],
    changed: Mapping[str, Fetched | None],
    rewound: bool,
) -> IndexUpdate:
    signed, etag, config, config_data = fetched
    snap = signed.snapshot
    # The SQLite cache first: it checks every line, and refuses the whole change if one
    # is bad. A failure after it is repaired from disk on the next read (its commit then
    # differs from the state's).
    _refresh_cache(store, folder, old, snap.commit, changed)
    files = {p: f.data for p, f in changed.items() if f is not None}
    files[CONFIG_FILE] = config_data
    folder.write_files(files)
    kept = {p: c for p, c in (old.files.items() if old else ()) if p not in changed}
    kept.update({p: CachedFile(snap.files[p], f.etag) for p, f in changed.items() if f})
    kept[CONFIG_FILE] = CachedFile(snap.files[CONFIG_FILE], None)
    # The owner rotates keys by listing new ones in a snapshot the pinned keys signed.
    rotated = snapshot_keys_of(config.raw, where=f"index {record.name}: config.json")
    state = SparseState(snap.serial, snap.commit, etag, tuple(keys_text(rotated or trusted)), kept)
    folder.accept(state, signed.raw)
    updated = replace(record, accepted_commit=snap.commit, updated_at=utc_now())
    with store.db.transaction() as conn:
        store.db.put_index(conn, updated)
        _refresh_index_keys(store, conn, updated, config)
    read = len([f for f in changed.values() if f is not None])
    return IndexUpdate(updated, record.accepted_commit, read, rewound)


def _refresh_cache(
    store: Store,
    folder: SparseDir,
    old: SparseState | None,
    commit: str,
    changed: Mapping[str, Fetched | None],
) -> None:
    experts = {p: (f.data if f else None) for p, f in changed.items() if expert_of_path(p)}
    cache = open_cache(store)
    try:
        if old is not None and cache.commit_of(folder.index) == old.commit:
            cache.update_index_files(folder.index, commit, experts.items())
        else:  # first add, or the SQLite cache was rebuilt: every file cached on disk
            cache.replace_index_files(folder.index, commit, disk_files(folder, old, experts))
    finally:
        cache.close()


def disk_files(
    folder: SparseDir, state: SparseState | None, newer: Mapping[str, bytes | None]
) -> list[tuple[str, bytes]]:
    """(path, bytes) of every expert file cached on disk that still matches ``state``,
    with ``newer`` (fetched now, None: deleted) taking precedence."""
    out = {p: d for p, d in newer.items() if d is not None}
    for path, known in state.files.items() if state else ():
        if path in newer or not expert_of_path(path):
            continue
        data = folder.read_file(path)
        if data is not None and hashlib.sha256(data).hexdigest() == known.sha256:
            out[path] = data
    return sorted(out.items())
