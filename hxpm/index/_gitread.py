"""Reading a Git cache offline (private to :mod:`hxpm.index.git`, which re-exports the
public functions: call them as ``git.read_file`` etc.): resolve what a fetch recorded, read
files and walk trees at a commit, compare commits and check ancestry. Every read is size
capped from the object header before a blob is loaded.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

from dulwich.diff_tree import tree_changes
from dulwich.objects import Blob, ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

from hxpm.errors import IntegrityError, NotFoundError
from hxpm.index._gitlocal import (
    GITLINK_MODE,
    HEAD_REF,
    HEX40_RE,
    ObjectSizes,
    check_rel_path,
    check_sha,
    get_commit,
    is_commit,
    local_parents,
    lookup,
    object_size,
    open_repo,
    walk_entries,
    walk_files,
)
from hxpm.index.urls import validate_ref_name

__all__ = [
    "ORIGIN_HEAD",
    "changed_paths",
    "has_commit",
    "is_descendant",
    "iter_changed_files",
    "iter_files",
    "list_tree",
    "local_ref_name",
    "read_file",
    "resolve_ref",
]

ORIGIN_HEAD = Ref(b"refs/remotes/origin/HEAD")


# --- the cache, offline --------------------------------------------------------------------


def resolve_ref(cache_dir: Path, ref: str | None) -> str:
    """What :func:`fetch` last recorded for ``ref`` (None: the remote HEAD), offline.

    Args:
        cache_dir: The cache repository.
        ref: As passed to :func:`fetch`, or a 40-hex commit present in the cache.

    Returns:
        The commit sha.

    Raises:
        NotFoundError: The cache does not exist or never fetched ``ref``.
        UsageError: ``ref`` is malformed.
    """
    if ref is not None:
        ref = validate_ref_name(ref)
    with open_repo(cache_dir) as repo:
        if ref is not None and HEX40_RE.match(ref):
            if is_commit(repo, ref):
                return ref
            candidates: list[Ref] = []
        elif ref is None:
            candidates = [ORIGIN_HEAD]
        elif ref.startswith("refs/"):
            candidates = [local_ref_name(Ref(ref.encode()), None)]
        else:  # as fetch looks names up: tags first, then branches
            candidates = [
                Ref(f"refs/tags/{ref}".encode()),
                Ref(f"refs/remotes/origin/{ref}".encode()),
            ]
        for name in candidates:
            if name in repo.refs:
                return repo.refs[name].decode("ascii")
    raise NotFoundError(
        f"expected ref {ref or 'HEAD'!r} in the Git cache at {cache_dir}, but it was never fetched",
        hint="Fetch it first (run without --offline).",
    )


def has_commit(cache_dir: Path, commit: str) -> bool:
    """Whether the cache holds ``commit`` (False when the cache does not exist).

    Raises:
        UsageError: ``commit`` is not 40 hex digits.
    """
    commit = check_sha(commit, "commit")
    if not (cache_dir / "HEAD").exists() and not (cache_dir / ".git").exists():
        return False
    with open_repo(cache_dir) as repo:
        return is_commit(repo, commit)


def read_file(cache_dir: Path, commit: str, path: str, *, max_bytes: int) -> bytes:
    """The bytes of ``path`` at ``commit``.

    Args:
        cache_dir: The cache (or any) repository.
        commit: 40-hex commit.
        path: Relative ``/``-separated path of a file.
        max_bytes: Largest size accepted; checked from the object header before loading.

    Raises:
        NotFoundError: No such commit, or no file at ``path``.
        IntegrityError: The file is larger than ``max_bytes``.
        UsageError: ``path`` is absolute or has ``..``/empty segments.
    """
    rel = check_rel_path(path)
    with open_repo(cache_dir) as repo:
        mode, sha = lookup(repo, commit, rel)
        if stat.S_ISDIR(mode):
            raise NotFoundError(f"expected a file at {path!r} in {commit}, got a directory or link")
        return _capped_blob(repo, commit, path, mode, sha, max_bytes, object_size(repo, sha))


def iter_files(
    cache_dir: Path, commit: str, prefix: str, *, max_bytes: int
) -> Iterator[tuple[str, bytes]]:
    """Every file under ``prefix`` at ``commit`` with its bytes, in path order: the tree is
    walked once and each blob read once (not one path lookup per file).

    Raises:
        NotFoundError: No such commit, or a link where a file was expected.
        IntegrityError: A file is larger than ``max_bytes``.
        UsageError: ``prefix`` is malformed.
    """
    rel = check_rel_path(prefix, allow_empty=True)
    with open_repo(cache_dir) as repo, ObjectSizes(repo) as sizes:
        root = _subtree(repo, commit, rel)
        if root is None:
            return
        for path, mode, sha in walk_entries(repo, root, rel):
            yield (
                _text_path(path),
                _blob_bytes(repo, commit, _text_path(path), mode, sha, max_bytes, sizes),
            )


def iter_changed_files(
    cache_dir: Path, old: str, new: str, prefix: str, *, max_bytes: int
) -> Iterator[tuple[str, bytes | None]]:
    """Files added, modified or deleted under ``prefix`` from ``old`` to ``new``, with
    their bytes at ``new`` (None: deleted), in path order; only changed blobs are read.

    Raises:
        NotFoundError: Either commit is not in the cache, or a link where a file was expected.
        IntegrityError: A changed file is larger than ``max_bytes``.
        UsageError: Malformed sha or prefix.
    """
    rel = check_rel_path(prefix, allow_empty=True)
    with open_repo(cache_dir) as repo, ObjectSizes(repo) as sizes:
        trees = [_subtree(repo, sha, rel) for sha in (old, new)]
        if trees[0] == trees[1]:
            return
        found: dict[bytes, tuple[int, ObjectID] | None] = {}
        for change in tree_changes(repo.object_store, trees[0], trees[1]):
            if change.old is not None and change.old.path is not None:
                found.setdefault(change.old.path, None)
            if change.new is not None and change.new.path is not None:
                found[change.new.path] = (change.new.mode, change.new.sha)
        for path in sorted(found):
            full = _text_path(rel + b"/" + path if rel else path)
            entry = found[path]
            yield (
                full,
                None if entry is None else _blob_bytes(repo, new, full, *entry, max_bytes, sizes),
            )


def _text_path(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


def _blob_bytes(
    repo: Repo, commit: str, path: str, mode: int, sha: ObjectID, max_bytes: int, sizes: ObjectSizes
) -> bytes:
    # The size from the object's header: a huge blob is refused before it is read.
    return _capped_blob(repo, commit, path, mode, sha, max_bytes, sizes(sha))


def _capped_blob(
    repo: Repo, commit: str, path: str, mode: int, sha: ObjectID, max_bytes: int, size: int | None
) -> bytes:
    if stat.S_ISLNK(mode) or mode == GITLINK_MODE:
        raise NotFoundError(f"expected a file at {path!r} in {commit}, got a directory or link")
    if size is not None and size > max_bytes:
        raise _too_big(path, commit, max_bytes, size)
    blob = repo.object_store[sha]
    data = blob.as_raw_string() if isinstance(blob, Blob) else b""
    if len(data) > max_bytes:
        raise _too_big(path, commit, max_bytes, len(data))
    return data


def _too_big(path: str, commit: str, limit: int, size: int) -> IntegrityError:
    return IntegrityError(
        f"{path} at {commit[:12]}: expected at most {limit} bytes, got {size}",
        hint="The repository holds a file larger than allowed.",
    )


def list_tree(cache_dir: Path, commit: str, prefix: str = "") -> list[str]:
    """All file paths (recursive, sorted) under ``prefix`` at ``commit``.

    Raises:
        NotFoundError: The commit is not in the cache.
        UsageError: ``prefix`` is malformed.
    """
    rel = check_rel_path(prefix, allow_empty=True)
    with open_repo(cache_dir) as repo:
        if not rel:
            root = get_commit(repo, commit).tree
        else:
            try:
                mode, root = lookup(repo, commit, rel)
            except NotFoundError:
                return []
            if not stat.S_ISDIR(mode):
                is_file = mode != GITLINK_MODE
                return [rel.decode("utf-8", "surrogateescape")] if is_file else []
        return sorted(walk_files(repo, root, rel))


def changed_paths(cache_dir: Path, old: str, new: str, prefix: str = "") -> list[str]:
    """Files added, modified or deleted between two commits under ``prefix`` (sorted).

    Raises:
        NotFoundError: Either commit is not in the cache.
        UsageError: Malformed sha or prefix.
    """
    rel = check_rel_path(prefix, allow_empty=True)
    with open_repo(cache_dir) as repo:
        trees = [_subtree(repo, sha, rel) for sha in (old, new)]
        if trees[0] == trees[1]:
            return []
        found: set[str] = set()
        for change in tree_changes(repo.object_store, trees[0], trees[1]):
            for side in (change.old, change.new):
                if side is not None and side.path is not None:
                    full = rel + b"/" + side.path if rel else side.path
                    found.add(full.decode("utf-8", "surrogateescape"))
        return sorted(found)


def _subtree(repo: Repo, commit: str, rel: bytes) -> ObjectID | None:
    if not rel:
        return ObjectID(get_commit(repo, commit).tree)
    try:
        mode, sha = lookup(repo, commit, rel)
    except NotFoundError:
        return None
    return sha if stat.S_ISDIR(mode) else None


def is_descendant(cache_dir: Path, old: str, new: str) -> bool:
    """True if ``old`` is ``new`` or one of its ancestors present in the cache.

    Parents are taken from the commit objects (their ids are part of the child's hash), so
    the walk is sound on shallow caches: it stops where parents are missing (the shallow
    boundary) or at a root, and not meeting ``old`` on the way means False.

    Raises:
        NotFoundError: ``new`` is not in the cache.
        UsageError: Malformed sha.
    """
    old_b = ObjectID(check_sha(old, "old commit").encode("ascii"))
    with open_repo(cache_dir) as repo:
        start = get_commit(repo, new).id
        seen, todo = {start}, [start]
        while todo:
            sha = todo.pop()
            if sha == old_b:
                return True
            for parent in local_parents(repo, sha):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
    return False


# --- small helpers -------------------------------------------------------------------------


def local_ref_name(remote_name: Ref | None, commit: ObjectID | None) -> Ref:
    """Where the cache records a fetched remote ref (or a commit fetched by id)."""
    if remote_name is None:
        return Ref(b"refs/hxpm/commits/" + (commit or b""))
    if remote_name == HEAD_REF:
        return ORIGIN_HEAD
    if remote_name.startswith(b"refs/tags/"):
        return remote_name
    if remote_name.startswith(b"refs/heads/"):
        return Ref(b"refs/remotes/origin/" + remote_name[len(b"refs/heads/") :])
    return Ref(b"refs/hxpm/remote/" + remote_name[len(b"refs/") :])
