"""Git access for hxpm (docs/architecture.md §5, §11): with its private helpers
``hxpm/index/_git*.py``
(the network: :mod:`~hxpm.index._gitwire`, ``_gitguard``, ``_gitpack``, ``_githttp``; local
repositories: :mod:`~hxpm.index._gitlocal`), the only code importing dulwich; hxpm never
runs the ``git`` binary (an ssh command named by ``GIT_SSH_COMMAND`` may run it remotely).

Remote side: :func:`ls_remote` and :func:`fetch` into a bare *cache* repository.

- Every network read has a timeout, every operation an overall deadline, the ref
  advertisement a byte and count cap and every transfer a byte cap (:class:`FetchLimits`,
  read from the ``HXPM_NET_*`` / ``HXPM_MAX_*`` settings when not given).
- A fetch that fails for any reason leaves the cache exactly as it was: the pack is received
  into a temporary file under the cache, verified and only then added to the object store;
  the shallow list and refs change last. A cache created by a failed first fetch is removed.
- Fetches are shallow (``depth``) while the cache holds nothing to negotiate with; once it
  holds commits, fetches send them as haves and fill in the history back to them, so
  updates transfer only new objects and :func:`is_descendant` can see the chain.
- What a fetch resolved is recorded as a ref in the cache (``refs/tags/<tag>``,
  ``refs/remotes/origin/<branch>``, ``refs/remotes/origin/HEAD``,
  ``refs/hxpm/commits/<sha>``), so :func:`resolve_ref` works offline.
- dulwich, urllib3 and socket errors never leak: they become NotFoundError, NetworkError or
  IntegrityError naming the URL (password removed).

Local side: read files, list trees and compare commits in a cache, plus what
``hxpm index init``, ``publish`` and ``yank`` need on a working repository (implemented in
:mod:`hxpm.index._gitlocal`, re-exported here: call them as ``git.commit_files`` etc.).
"""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from dulwich.diff_tree import tree_changes
from dulwich.objects import Blob, ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

from hxpm.errors import IntegrityError, NetworkError, NotFoundError, StoreError, UsageError
from hxpm.index._gitguard import WireGuard
from hxpm.index._gitlocal import (
    GITLINK_MODE,
    HEAD_REF,
    HEX40_RE,
    ObjectSizes,
    check_rel_path,
    check_sha,
    commit_files,
    create_tag,
    get_commit,
    head_commit,
    init_repo,
    is_commit,
    is_worktree_clean,
    local_heads,
    local_parents,
    lookup,
    object_size,
    open_repo,
    peel,
    remote_url,
    tags_pointing_at,
    walk_entries,
    walk_files,
)
from hxpm.index._gitpack import receive
from hxpm.index._gitwire import (
    PEELED,
    WantsFn,
    guarded_client,
    peeled_local,
    pick_want,
    refused,
    transport_errors,
    want_all_missing,
)
from hxpm.index.urls import GitURL, apply_mirrors, validate_ref_name
from hxpm.netlimits import Deadline, NetLimits

__all__ = [
    "FetchLimits",
    "changed_paths",
    "commit_files",
    "create_tag",
    "fetch",
    "has_commit",
    "head_commit",
    "init_repo",
    "is_descendant",
    "is_worktree_clean",
    "list_tree",
    "ls_remote",
    "read_file",
    "remote_url",
    "resolve_ref",
    "tags_pointing_at",
]

_ORIGIN_HEAD = Ref(b"refs/remotes/origin/HEAD")
_UNSHALLOW = 2**31 - 1  # the depth `git fetch --unshallow` asks for


@dataclass(frozen=True, slots=True)
class FetchLimits(NetLimits):
    """Limits on one remote operation: :class:`~hxpm.netlimits.NetLimits` (timeouts, the
    overall deadline, ref-advertisement and pack caps; ``FetchLimits.from_env()`` reads the
    settings) plus:

    Attributes:
        max_file_bytes: Default cap for :func:`read_file` callers.
    """

    max_file_bytes: int = 8 * 1024**3


# --- remote operations ---------------------------------------------------------------------


def ls_remote(url: GitURL, *, limits: NetLimits | None = None) -> dict[str, str]:
    """List a remote's refs.

    Args:
        url: The remote.
        limits: Timeouts and caps (None: from the environment, :meth:`NetLimits.from_env`).

    Returns:
        Ref name (``HEAD``, ``refs/heads/main``, ``refs/tags/v1.0.0``) -> 40-hex sha, with
        annotated tags peeled to the commit they tag.

    Raises:
        NotFoundError: No repository at ``url``.
        NetworkError: Connection failure, timeout, a limit hit or a malformed reply.
        UsageError: A limit setting in the environment is malformed.
    """
    url = apply_mirrors(url)
    guard = WireGuard(limits or NetLimits.from_env())
    with transport_errors(url, "listing refs of", guard):
        try:
            client, path = guarded_client(url, guard)
            try:
                result = client.get_refs(path.encode("utf-8"))
            finally:
                client.close()
        finally:
            guard.close()
        raw: dict[bytes, bytes] = {k: v for k, v in result.refs.items() if v is not None}
        if url.kind == "file":  # the local transport does not report peeled tags
            raw.update(peeled_local(path, raw))
    refs: dict[str, str] = {}
    for name, sha in raw.items():
        if not name.endswith(PEELED):
            refs[name.decode("utf-8", "replace")] = sha.decode("ascii")
    for name, sha in raw.items():  # then let peeled values win
        if name.endswith(PEELED) and name[: -len(PEELED)] in raw:
            refs[name[: -len(PEELED)].decode("utf-8", "replace")] = sha.decode("ascii")
    return refs


def fetch(
    url: GitURL,
    cache_dir: Path,
    *,
    ref: str | None = None,
    commit: str | None = None,
    depth: int | None = 1,
    limits: NetLimits | None = None,
) -> str:
    """Fetch a ref (or an exact commit) from ``url`` into the bare cache at ``cache_dir``.

    Args:
        url: The remote.
        cache_dir: Bare cache repository; created when missing.
        ref: Tag (``v1.0.0``), branch, full ref (``refs/tags/…``) or None for remote HEAD.
        commit: An exact 40-hex commit instead of ``ref``.
        depth: History depth for a first fetch into an empty cache (None: full history).
            Later fetches negotiate with what the cache has and fill in history back to it.
        limits: Timeouts and caps (None: from the environment); the overall deadline covers
            every request this fetch makes.

    Returns:
        The fetched commit (annotated tags peeled).

    Raises:
        UsageError: Both ``ref`` and ``commit`` given, or either malformed.
        NotFoundError: No repository at ``url``, or no such ref/commit there.
        NetworkError: Connection failure, timeout, a server that stops mid-pack, a limit
            hit (deadline, ref advertisement, pack size); the cache is left as it was.
        IntegrityError: The server sent a pack that does not verify.
    """
    if ref is not None and commit is not None:
        raise UsageError(f"expected either ref or commit, got both ({ref!r}, {commit!r})")
    if ref is not None and HEX40_RE.match(validate_ref_name(ref)):
        commit = ref.lower()
        ref = None
    if commit is not None:
        commit = check_sha(commit, "commit")
    if depth is not None and depth < 1:
        raise UsageError(f"depth: expected a positive integer or None, got {depth!r}")
    limits = limits or NetLimits.from_env()
    fresh = not (cache_dir / "HEAD").exists()
    existed = cache_dir.exists()
    if fresh and existed and any(cache_dir.iterdir()):
        raise StoreError(f"expected an empty folder or a Git cache at {cache_dir}, got other files")
    try:
        with open_repo(cache_dir, create=True) as repo:
            if commit is not None and is_commit(repo, commit):
                return commit
            wire = _Wire(limits, Deadline(limits.deadline_s, limits.min_rate))
            return _fetch_into(repo, apply_mirrors(url), ref, commit, depth, wire)
    except BaseException:
        if fresh:  # leave no half-made cache behind, and the folder as it was
            shutil.rmtree(cache_dir, ignore_errors=True)
            if existed:
                cache_dir.mkdir(parents=True, exist_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class _Wire:
    """The limits of one :func:`fetch` and its deadline, shared by all its requests."""

    limits: NetLimits
    deadline: Deadline


@dataclass(slots=True)
class _Choice:
    """What a fetch asked the server for: the remote ref (None: by id) and its sha."""

    name: Ref | None = None
    sha: ObjectID | None = None


def _fetch_into(
    repo: Repo,
    url: GitURL,
    ref: str | None,
    commit: str | None,
    depth: int | None,
    limits: _Wire,
) -> str:
    chosen = _Choice()

    def wants_one(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        chosen.name, chosen.sha = pick_want(refs, ref, commit, url)
        return [] if chosen.sha in repo.object_store else [chosen.sha]

    try:
        _receive_one(repo, url, wants_one, depth, limits)
    except NetworkError as e:
        if commit is None or chosen.name is not None or not refused(e):
            raise
        # The server refused a want that is no ref tip (many allow only tips): fetch its
        # branches and tags, with full history, and look for the commit there.
        unshallow = _UNSHALLOW if repo.get_shallow() else None
        _receive(repo, url, want_all_missing(repo), unshallow, limits)
        chosen = _Choice(None, ObjectID(commit.encode("ascii")))
    if chosen.sha is None or chosen.sha not in repo.object_store:
        raise NotFoundError(
            f"fetching {url.display}: expected commit {commit or chosen.sha!r} there, got none",
            hint="The commit may have been removed by a force-push.",
        )
    target = peel(repo, chosen.sha)
    if not is_commit(repo, target.decode("ascii")):
        raise NotFoundError(f"fetching {url.display}: {target.decode()} is not a commit")
    if commit is not None and target.decode("ascii") != commit:
        raise IntegrityError(f"fetching {url.display}: expected {commit}, got {target.decode()}")
    # A commit asked for by id is recorded by id, whatever tip happened to carry it.
    repo.refs[_local_ref_name(None if commit else chosen.name, target)] = target
    return target.decode("ascii")


def _receive_one(repo: Repo, url: GitURL, wants: WantsFn, depth: int | None, limits: _Wire) -> None:
    """Shallow into an empty cache; into one with commits, incrementally (haves)."""
    if not local_heads(repo):
        _receive(repo, url, wants, depth, limits)
        return
    try:
        _receive(repo, url, wants, None, limits)
    except NetworkError as e:
        if not repo.get_shallow() or not refused(e):
            raise
        # dulwich's own server refuses a shallow client that sends no deepen line (git's
        # does not): fetch at depth again. The content is complete; the history between the
        # old and new commits may not be, so keep caches that need it unshallow.
        _receive(repo, url, wants, depth or 1, limits)


def _receive(repo: Repo, url: GitURL, wants: WantsFn, depth: int | None, limits: _Wire) -> None:
    receive(repo, url, wants, depth, limits=limits.limits, deadline=limits.deadline)


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
            candidates = [_ORIGIN_HEAD]
        elif ref.startswith("refs/"):
            candidates = [_local_ref_name(Ref(ref.encode()), None)]
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
        if stat.S_ISDIR(mode) or stat.S_ISLNK(mode) or mode == GITLINK_MODE:
            raise NotFoundError(f"expected a file at {path!r} in {commit}, got a directory or link")
        size = object_size(repo, sha)
        if size is not None and size > max_bytes:
            raise _too_big(path, commit, max_bytes, size)
        blob = repo.object_store[sha]
        data = blob.as_raw_string() if isinstance(blob, Blob) else b""
        if len(data) > max_bytes:
            raise _too_big(path, commit, max_bytes, len(data))
        return data


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
    if stat.S_ISLNK(mode) or mode == GITLINK_MODE:
        raise NotFoundError(f"expected a file at {path!r} in {commit}, got a directory or link")
    size = sizes(sha)  # from the object's header: a huge blob is refused before it is read
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


def _local_ref_name(remote_name: Ref | None, commit: ObjectID | None) -> Ref:
    """Where the cache records a fetched remote ref (or a commit fetched by id)."""
    if remote_name is None:
        return Ref(b"refs/hxpm/commits/" + (commit or b""))
    if remote_name == HEAD_REF:
        return _ORIGIN_HEAD
    if remote_name.startswith(b"refs/tags/"):
        return remote_name
    if remote_name.startswith(b"refs/heads/"):
        return Ref(b"refs/remotes/origin/" + remote_name[len(b"refs/heads/") :])
    return Ref(b"refs/hxpm/remote/" + remote_name[len(b"refs/") :])
