"""Fetch sparse index files as resolution discovers names, like Cargo's sparse protocol.

Resolution asks for a name; for every sparse index whose accepted snapshot lists that name,
its file is fetched unless the cache already holds the very bytes the snapshot lists (then
no request at all: better than an ETag round trip). Fetched files pull in the names their
lines require, fetched in parallel waves (the requires closure), so a resolution of many
roots costs a few round trips, not one per name. Every file is checked against the accepted
snapshot's SHA-256 before it is parsed, stored or used.

A name the cache already holds is served from it even when the snapshot has expired or hxpm
is offline; fetching a new file refuses an expired snapshot (run `hxpm index update`) and
needs the network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hxpm.core.names import name_candidates
from hxpm.errors import IndexDataError, StoreError
from hxpm.index.cache import IndexCache
from hxpm.index.model import shard_path
from hxpm.index.model_checks import parse_requirement_cached
from hxpm.index.sparse import Snapshot, normalise_sparse_url
from hxpm.services.sparse_index import FetcherPool, disk_files, fetch_files, sparse_dir
from hxpm.services.sparse_state import CachedFile, SparseDir, SparseState
from hxpm.store.records import IndexRecord
from hxpm.store.store import Store
from hxpm.transport import require_online

_ARG_NAME_RE = re.compile(r"^(?:[a-z][a-z0-9-]{0,63}/)?([a-z][a-z0-9-]{0,63})(?:[@=<>~^!].*)?$")


@dataclass(frozen=True)
class _View:
    state: SparseState
    snapshot: Snapshot


class SparseFetcher:
    """On-demand loading of sparse index files into ``cache`` for one command."""

    def __init__(self, store: Store, cache: IndexCache) -> None:
        self._cache = cache
        self._records = [r for r in store.db.indexes() if r.url.startswith("sparse+")]
        self._folders = {r.name: sparse_dir(store, r.name) for r in self._records}
        self._views: dict[str, _View | None] = {}
        self._done: set[str] = set()
        self._http = FetcherPool()  # idle connections close when the command ends

    def prefetch_args(self, args: Iterable[str]) -> None:
        """Fetch what `hxpm install ARGS` will ask for first: each name and its short-name
        expansions (``sql`` -> ``expert-sql``), with their requires closure, in parallel."""
        names: list[str] = []
        for arg in args:
            m = _ARG_NAME_RE.match(arg.strip())
            if m:
                names.extend(name_candidates(m.group(1)))
        self.ensure(names)

    def ensure(self, names: Iterable[str]) -> None:
        """Make the cache hold, for every sparse index, the lines of ``names`` (and of the
        names they require) as the accepted snapshot lists them.

        Raises:
            OfflineError: a file must be fetched and hxpm is offline.
            IndexDataError: the accepted snapshot expired and a file must be fetched.
            IntegrityError, NetworkError, ...: as :func:`fetch_files`; nothing of that
                wave is stored.
        """
        todo = [n for n in dict.fromkeys(names) if n not in self._done]
        if not todo:
            return
        for record in self._records:
            self._ensure_in(record, todo)
        self._done.update(todo)

    def _view(self, index: str, *, fresh: bool = False) -> _View | None:
        if fresh or index not in self._views:
            folder = self._folders[index]
            state, signed = folder.state(), folder.snapshot()
            if state is None:
                self._views[index] = None  # never accepted: `index add` did not finish
            elif signed is None or signed.snapshot.serial != state.serial:
                raise StoreError(
                    f"index {index}: its cached snapshot is missing or does not match its state",
                    hint=f"Run `hxpm index update {index}`.",
                )
            else:
                self._views[index] = _View(state, signed.snapshot)
        return self._views[index]

    def _pending(self, view: _View, folder: SparseDir, names: Iterable[str]) -> list[str]:
        """Names the snapshot lists whose current file is not in the cache yet."""
        out = []
        for name in names:
            path = _path_of(name)
            want = view.snapshot.hash_of(path) if path else None
            known = view.state.files.get(path) if path else None
            if want is None or (
                known is not None
                and known.sha256 == want
                and (folder.root / "files" / (path or "")).is_file()
            ):
                continue
            out.append(name)
        return out

    def _ensure_in(self, record: IndexRecord, names: Sequence[str]) -> None:
        view = self._view(record.name)
        if view is None:
            return
        folder = self._folders[record.name]
        if self._cache.commit_of(record.name) == view.state.commit and not self._pending(
            view, folder, names
        ):
            return  # the warm path: no lock, no request
        with folder.locked():
            view = self._view(record.name, fresh=True)
            if view is None:
                return
            if self._cache.commit_of(record.name) != view.state.commit:
                self._reload_from_disk(folder, view)
            self._fetch_closure(record, folder, names)

    def _reload_from_disk(self, folder: SparseDir, view: _View) -> None:
        """The SQLite cache was rebuilt: put back every file still cached on disk."""
        self._cache.replace_index_files(
            folder.index, view.state.commit, disk_files(folder, view.state, {})
        )

    def _fetch_closure(self, record: IndexRecord, folder: SparseDir, names: Sequence[str]) -> None:
        seen: set[str] = set()
        wave = list(names)
        while wave:
            seen.update(wave)
            view = self._views[record.name]
            assert view is not None
            pending = self._pending(view, folder, wave)
            if not pending:
                return
            fetched = self._fetch_wave(record, folder, view, pending)
            wave = sorted(set().union(*map(_required_names, fetched)) - seen)

    def _fetch_wave(
        self, record: IndexRecord, folder: SparseDir, view: _View, names: Sequence[str]
    ) -> list[bytes]:
        snap = view.snapshot
        paths = [(shard_path(n), None) for n in names]
        require_online(
            f"reading {', '.join(names[:3])}{' …' if len(names) > 3 else ''} "
            f"from sparse index {record.name}"
        )
        if snap.expired():
            raise IndexDataError(
                f"index {record.name}: its snapshot (serial {snap.serial}) expired at "
                f"{snap.expires}, and {names[0]} is not cached yet",
                hint=f"Run `hxpm index update {record.name}`; experts already cached stay "
                "usable meanwhile.",
                details={"reason": "expired", "expires": snap.expires},
            )
        url = normalise_sparse_url(record.url)
        fetched = fetch_files(url, record.name, snap, paths, self._http)
        # Checked now, not on first read: the closure below reads the files' requirements.
        self._cache.update_index_files(
            record.name, view.state.commit, [(f.path, f.data) for f in fetched]
        )
        self._cache.check_names(record.name, names)
        folder.write_files({f.path: f.data for f in fetched})
        state = view.state.with_files(
            {f.path: CachedFile(snap.files[f.path], f.etag) for f in fetched}
        )
        folder.accept(state)
        self._views[record.name] = _View(state, snap)
        return [f.data for f in fetched]


def _required_names(data: bytes) -> set[str]:
    """Names the lines of a (verified) expert file require, for the prefetch closure."""
    out: set[str] = set()
    for text in data.split(b"\n"):
        if text.strip():
            doc = json.loads(text)
            for item in doc.get("requires", ()):
                req = parse_requirement_cached(item, "requires")
                if req.source is None:
                    out.add(req.name)
    return out


def _path_of(name: str) -> str | None:
    try:
        return shard_path(name)
    except IndexDataError:
        return None


def sparse_fetcher(store: Store, cache: IndexCache) -> SparseFetcher | None:
    """A fetcher when a sparse index is configured, else None."""
    if not any(r.url.startswith("sparse+") for r in store.db.indexes()):
        return None
    return SparseFetcher(store, cache)
