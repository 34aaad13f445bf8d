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

Local side: read files, list trees and compare commits in a cache (implemented in
:mod:`hxpm.index._gitread`), plus what ``hxpm index init``, ``publish`` and ``yank`` need on
a working repository (:mod:`hxpm.index._gitlocal`); both are re-exported here, the one
public door to Git: call them as ``git.read_file``, ``git.commit_files`` etc.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dulwich.objects import ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

from hxpm.errors import IntegrityError, NetworkError, NotFoundError, StoreError, UsageError
from hxpm.index._gitguard import WireGuard
from hxpm.index._gitlocal import (
    HEX40_RE,
    check_sha,
    commit_files,
    create_tag,
    head_commit,
    init_repo,
    is_commit,
    is_worktree_clean,
    local_heads,
    open_repo,
    peel,
    remote_url,
    tags_pointing_at,
)
from hxpm.index._gitpack import receive
from hxpm.index._gitread import (
    changed_paths,
    has_commit,
    is_descendant,
    iter_changed_files,
    iter_files,
    list_tree,
    local_ref_name,
    read_file,
    resolve_ref,
)
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
    "iter_changed_files",
    "iter_files",
    "list_tree",
    "ls_remote",
    "read_file",
    "remote_url",
    "resolve_ref",
    "tags_pointing_at",
]

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
    repo.refs[local_ref_name(None if commit else chosen.name, target)] = target
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
