"""Git indexes: add, update (with the rollback guard), list, remove; and `index init`.

An update fetches the index's HEAD into ``indexes/<name>/`` (a bare Git cache), refuses a
head that does not descend from the last accepted commit, stores every changed expert file
in the SQLite index cache (its place checked; its lines are checked on the first read of
its name, once, so a bad line breaks only its own expert), and only then records the new
commit. Reads (resolve, search) use that cache and never touch Git.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

from hxpm.errors import NotFoundError, RollbackError, UsageError
from hxpm.index import git
from hxpm.index.cache import IndexCache
from hxpm.index.config import IndexConfig
from hxpm.index.sparse import is_sparse_url, normalise_sparse_url
from hxpm.index.urls import GitURL, normalise_git_url
from hxpm.store.fsutil import remove_tree
from hxpm.store.records import IndexRecord
from hxpm.store.state import utc_now
from hxpm.store.store import Store
from hxpm.transport import require_online

INDEX_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
MAX_CONFIG_BYTES = 1 << 20
MAX_EXPERT_FILE_BYTES = 16 << 20
EXPERTS_DIR = "experts/"


@dataclass(frozen=True, slots=True)
class IndexUpdate:
    index: IndexRecord
    previous_commit: str | None
    changed: int  # expert files read in this update
    rewound: bool = False


def open_cache(store: Store) -> IndexCache:
    return IndexCache(store.paths.index_cache)


def validate_index_name(name: str) -> str:
    if not INDEX_NAME_RE.fullmatch(name):
        raise UsageError(
            f"index name: expected a lower-case name such as 'main' "
            f"(^[a-z][a-z0-9-]{{0,63}}$), got {name!r}"
        )
    return name


def add_index(
    store: Store,
    name: str,
    url: str,
    *,
    priority: int | None = None,
    trust_keys: bool = False,
    snapshot_key: str | None = None,
) -> IndexUpdate:
    """Register an index and fetch it; nothing is kept if the first update fails.

    Credentials in ``url`` are used for this first fetch only: the record keeps the
    canonical URL without them, and later updates read netrc (docs/network.md).
    ``sparse+https://`` URLs are sparse HTTP indexes (hxpm.services.sparse_index);
    ``snapshot_key`` pins the key that signs their snapshots.
    """
    validate_index_name(name)
    sparse = is_sparse_url(url)
    if snapshot_key is not None and not sparse:
        raise UsageError("--snapshot-key applies to sparse+https:// indexes only")
    git_url = None if sparse else normalise_git_url(url)
    canonical = normalise_sparse_url(url).url if sparse else git_url.url  # type: ignore[union-attr]
    with store.writing():
        if store.db.find_index(name):
            raise UsageError(
                f"an index named {name!r} already exists",
                hint=f"Remove it first with `hxpm index remove {name}`.",
            )
        existing = store.db.indexes()
        prio = priority if priority is not None else 10 * (len(existing) + 1)
        record = IndexRecord(name, canonical, prio, trust_keys, None, utc_now(), None)
        try:
            if sparse:
                from hxpm.services.sparse_index import update_sparse

                return update_sparse(store, record, url_text=url, snapshot_key=snapshot_key)
            return _update_locked(store, record, allow_rewind=False, url=git_url)
        except BaseException:
            _forget(store, name)
            raise


def update_indexes(
    store: Store, name: str | None = None, *, allow_rewind: bool = False
) -> list[IndexUpdate]:
    with store.writing():
        records = [_require(store, name)] if name else store.db.indexes()
        return [_update_locked(store, r, allow_rewind=allow_rewind) for r in records]


def list_indexes(store: Store) -> list[IndexRecord]:
    return store.db.indexes()


def remove_index(store: Store, name: str) -> IndexRecord:
    with store.writing():
        record = _require(store, name)
        _forget(store, name)
    return record


def _require(store: Store, name: str) -> IndexRecord:
    record = store.db.find_index(name)
    if record is None:
        known = ", ".join(i.name for i in store.db.indexes()) or "none"
        raise NotFoundError(
            f"no index named {name!r} (configured: {known})",
            hint="Add one with `hxpm index add NAME URL`.",
        )
    return record


def _forget(store: Store, name: str) -> None:
    with store.db.transaction() as conn:
        store.db.delete_index(conn, name)
        store.db.delete_trusted_keys_from(conn, f"index:{name}")
    cache = open_cache(store)
    try:
        cache.drop_index(name)
    finally:
        cache.close()
    remove_tree(store.paths.indexes / name)


def _update_locked(
    store: Store, record: IndexRecord, *, allow_rewind: bool, url: GitURL | None = None
) -> IndexUpdate:
    """Fetch and accept ``record``'s head; ``url`` (with this call's credentials) wins over
    the stored URL, which never holds any."""
    if is_sparse_url(record.url):
        from hxpm.services.sparse_index import update_sparse

        return update_sparse(store, record, allow_rewind=allow_rewind)
    require_online(f"updating index {record.name}")
    cache_dir = store.paths.indexes / record.name
    url = url or normalise_git_url(record.url)
    # Full history (indexes are small): the rollback guard must see the chain from the
    # last accepted commit to the new head.
    new = git.fetch(url, cache_dir, ref=None, depth=None)
    old = record.accepted_commit
    rewound = bool(old and old != new and not git.is_descendant(cache_dir, old, new))
    if rewound and not allow_rewind:
        raise RollbackError(
            f"index {record.name}: the new head {new[:12]} does not descend from "
            f"{old[:12] if old else ''}, the last commit hxpm accepted (history was rewritten, "
            "or someone serves you an older copy)"
        )
    config = IndexConfig.from_bytes(
        git.read_file(cache_dir, new, "config.json", max_bytes=MAX_CONFIG_BYTES),
        source=f"index {record.name}: config.json",
    )
    changed = _refresh_cache(store, record.name, cache_dir, old if not rewound else None, new)
    updated = replace(record, accepted_commit=new, updated_at=utc_now())
    with store.db.transaction() as conn:
        store.db.put_index(conn, updated)
        _refresh_index_keys(store, conn, updated, config)
    return IndexUpdate(updated, old, changed, rewound)


def _refresh_cache(store: Store, index: str, cache_dir: Path, old: str | None, new: str) -> int:
    """Bring the cache's copy of ``index`` to ``new``: only the changed expert files when
    the cache holds ``old``, else every file (the tree walked once). Each file's lines are
    checked once, on the first read of its name (IndexCache.replace_index_files)."""
    cache = open_cache(store)
    try:
        cached = cache.commit_of(index)
        if old == new and cached == new:
            return 0
        if old and cached == old:
            changed = git.iter_changed_files(
                cache_dir, old, new, EXPERTS_DIR, max_bytes=MAX_EXPERT_FILE_BYTES
            )
            return cache.update_index_files(index, new, changed)
        files = git.iter_files(cache_dir, new, EXPERTS_DIR, max_bytes=MAX_EXPERT_FILE_BYTES)
        return cache.replace_index_files(index, new, files)
    finally:
        cache.close()


def _refresh_index_keys(
    store: Store,
    conn: sqlite3.Connection,
    record: IndexRecord,
    config: IndexConfig,
) -> None:
    """Keys an index vouches for are trusted only when the user said so at `index add`."""
    source = f"index:{record.name}"
    store.db.delete_trusted_keys_from(conn, source)
    if not record.trust_keys:
        return
    for key in config.keys:
        store.db.put_trusted_key(
            conn,
            key.key_id,
            key.public_key,
            key.owner,
            list(key.experts) or ["*"],
            utc_now(),
            source,
        )


def init_index(directory: Path, *, name: str, description: str = "") -> str:
    """Create an index repository (config.json, experts/, README) with a first commit."""
    validate_index_name(name)
    directory = directory.expanduser().resolve()
    if (directory / "config.json").exists():
        raise UsageError(f"{directory} already holds an index (config.json exists)")
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / ".git").exists():
        git.init_repo(directory)
    (directory / "config.json").write_bytes(IndexConfig.new(name, description).to_bytes())
    (directory / "experts").mkdir(exist_ok=True)
    (directory / "experts" / ".keep").write_text("")
    (directory / "README.md").write_text(
        f"# {name}\n\nAn hxpm index. Add it with `hxpm index add {name} <git-url>`; "
        "publish into it with `hxpm publish --index <this checkout>`.\n"
    )
    return git.commit_files(
        directory, ["config.json", "experts/.keep", "README.md"], f"Create index {name}"
    )
