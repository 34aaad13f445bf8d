"""Local Git repositories for :mod:`hxpm.index.git`: opening one, reading its object graph,
and what ``hxpm index init``, ``publish`` and ``yank`` do in a working repository.

With :mod:`hxpm.index.git` and :mod:`hxpm.index._gitwire`, the only modules importing
dulwich. Nothing here touches the network. The working-repository functions are public
through :mod:`hxpm.index.git`; call them from there.
"""

from __future__ import annotations

import re
import stat
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO, Self

from dulwich.errors import NotGitRepository
from dulwich.index import IndexEntry
from dulwich.object_store import commit_tree_changes, tree_lookup_path
from dulwich.objects import Commit, ObjectID, Tag, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from hxpm.errors import NotFoundError, StoreError, UsageError
from hxpm.index.urls import validate_ref_name

DEFAULT_AUTHOR = "hxpm <hxpm@localhost>"
HEX40_RE = re.compile(r"^[0-9a-fA-F]{40}$")
_AUTHOR_RE = re.compile(r"^[^<>\n]+ <[^<>\n]*>$")
HEAD_REF = Ref(b"HEAD")
GITLINK_MODE = 0o160000  # a submodule entry: a commit of another repository, not a file


# --- opening repositories and checking paths -----------------------------------------------


@contextmanager
def open_repo(cache_dir: Path, *, create: bool = False) -> Iterator[Repo]:
    """Open the repository at ``cache_dir`` (a bare cache is created with ``create``).

    Raises:
        NotFoundError: No repository there.
        StoreError: It cannot be read (or created).
    """
    try:
        if create and not (cache_dir / "HEAD").exists():
            cache_dir.mkdir(parents=True, exist_ok=True)
            repo = Repo.init_bare(str(cache_dir), default_branch=b"main")
        else:
            repo = Repo(str(cache_dir))
    except NotGitRepository:
        raise NotFoundError(
            f"expected a Git repository at {cache_dir}, found none",
            hint="Check the path; a cache is filled by fetching (run without --offline).",
        ) from None
    except OSError as e:
        raise StoreError(f"opening the Git repository at {cache_dir}: {e}") from e
    with repo:
        yield repo


def check_rel_path(path: str, *, allow_empty: bool = False) -> bytes:
    """``path`` as tree-path bytes, refusing absolute paths and ``..``/empty segments."""
    clean = path.strip("/") if isinstance(path, str) else None
    if clean is None or (not clean and not allow_empty):
        raise UsageError(f"path: expected a relative file path, got {path!r}")
    if clean and (path.startswith("/") or any(s in ("", ".", "..") for s in clean.split("/"))):
        raise UsageError(f"path: expected a relative path without '..' or '//', got {path!r}")
    return clean.encode("utf-8", "surrogateescape")


# --- object helpers ------------------------------------------------------------------------


def check_sha(value: str, field: str) -> str:
    if not isinstance(value, str) or not HEX40_RE.match(value):
        raise UsageError(f"{field}: expected a 40-hex commit id, got {value!r}")
    return value.lower()


def is_commit(repo: Repo, sha: str) -> bool:
    key = ObjectID(sha.encode("ascii"))
    if key not in repo.object_store:
        return False
    return repo.object_store.get_raw(key)[0] == Commit.type_num


def get_commit(repo: Repo, sha: str) -> Commit:
    sha = check_sha(sha, "commit")
    try:
        obj = repo.object_store[ObjectID(sha.encode("ascii"))]
    except KeyError:
        raise NotFoundError(
            f"expected commit {sha} in the Git cache at {repo.path}, got none",
            hint="Fetch it first.",
        ) from None
    if not isinstance(obj, Commit):
        raise NotFoundError(f"expected {sha} to be a commit, got a {obj.type_name.decode()}")
    return obj


def lookup(repo: Repo, commit: str, rel: bytes) -> tuple[int, ObjectID]:
    tree = get_commit(repo, commit).tree
    try:
        mode, sha = tree_lookup_path(repo.object_store.__getitem__, tree, rel)
    except (KeyError, NotADirectoryError):
        raise NotFoundError(
            f"expected {rel.decode('utf-8', 'replace')!r} at commit {commit[:12]}, got nothing"
        ) from None
    return mode, sha


def peel(repo: Repo, sha: ObjectID) -> ObjectID:
    """The object a tag (chain) points at; ``sha`` itself for anything else."""
    obj = repo.object_store[sha]
    for _ in range(16):  # tags of tags are legal, loops are not possible but stay bounded
        if not isinstance(obj, Tag):
            break
        obj = repo.object_store[obj.object[1]]
    return obj.id


def local_parents(repo: Repo, sha: ObjectID) -> list[ObjectID]:
    """Parents of ``sha`` that the cache holds (KeyError when ``sha`` itself is missing)."""
    obj = repo.object_store[sha]
    if not isinstance(obj, Commit):
        return []
    return [p for p in obj.parents if p in repo.object_store]


def local_heads(repo: Repo) -> list[ObjectID]:
    """Commits the refs of ``repo`` point at (peeled): the haves of a fetch."""
    heads = set()
    for name, sha in repo.refs.as_dict().items():
        with suppress(KeyError):
            if name != b"HEAD" and sha in repo.object_store:
                heads.add(peel(repo, sha))
    return sorted(h for h in heads if is_commit(repo, h.decode("ascii")))


def object_size(repo: Repo, sha: ObjectID) -> int | None:
    """An object's size read from its header alone; None when that is not possible."""
    try:
        loose = Path(repo.controldir()) / "objects" / sha[:2].decode() / sha[2:].decode()
        if loose.is_file():
            with loose.open("rb") as f:
                head = zlib.decompressobj().decompress(f.read(512), 64)
            return int(head.split(b"\0", 1)[0].split(b" ")[1])
        for pack in repo.object_store.packs:
            if sha in pack:
                return _packed_size(str(pack.data.path), pack.index.object_offset(sha))
    except (OSError, ValueError, IndexError, KeyError, zlib.error):
        return None
    return None


class ObjectSizes:
    """:func:`object_size` for many objects of one repository: the pack list is read once
    and each pack file opened once (per object, that bookkeeping cost as much as reading
    the object itself). Close it (or use it in a ``with``) to close the files."""

    def __init__(self, repo: Repo) -> None:
        self._repo = repo
        self._packs: list[Any] | None = None
        self._files: dict[str, BinaryIO] = {}

    def __call__(self, sha: ObjectID) -> int | None:
        try:
            if self._packs is None:
                self._packs = list(self._repo.object_store.packs)
            for pack in self._packs:
                try:
                    offset = pack.index.object_offset(sha)
                except KeyError:
                    continue
                path = str(pack.data.path)
                if path not in self._files:
                    self._files[path] = open(path, "rb")  # noqa: SIM115 (closed in close())
                return _size_in(self._files[path], offset)
        except (OSError, ValueError, IndexError, KeyError, zlib.error):
            return None
        return object_size(self._repo, sha)  # a loose object

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _packed_size(pack_path: str, offset: int) -> int | None:
    with open(pack_path, "rb") as f:
        return _size_in(f, offset)


def _size_in(f: BinaryIO, offset: int) -> int | None:
    f.seek(offset)
    buf = f.read(1024)
    # Entry header: 3-bit type and a size whose low 4 bits come first, then 7 bits a byte.
    kind, size, shift, i = (buf[0] >> 4) & 7, buf[0] & 15, 4, 0
    while buf[i] & 0x80:
        i += 1
        size |= (buf[i] & 0x7F) << shift
        shift += 7
    i += 1
    if kind in (1, 2, 3, 4):  # commit, tree, blob, tag: the header holds the size
        return size
    if kind == 6:  # offset delta: skip the base offset
        while buf[i] & 0x80:
            i += 1
        i += 1
    elif kind == 7:  # reference delta: skip the base id
        i += 20
    else:
        return None
    # A delta starts with two varints: the base size, then the size of the result.
    delta = zlib.decompressobj().decompress(buf[i:], 32)
    _, j = _varint(delta, 0)
    return _varint(delta, j)[0]


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def walk_files(repo: Repo, tree_id: ObjectID, prefix: bytes) -> Iterator[str]:
    """Paths of all files below ``tree_id``, each prefixed with ``prefix``."""
    stack = [(tree_id, prefix)]
    while stack:
        tid, base = stack.pop()
        tree = repo.object_store[tid]
        if not isinstance(tree, Tree):
            continue
        for entry in tree.iteritems():
            full = base + b"/" + entry.path if base else entry.path
            if stat.S_ISDIR(entry.mode):
                stack.append((entry.sha, full))
            elif not stat.S_ISDIR(entry.mode) and entry.mode != GITLINK_MODE:
                yield full.decode("utf-8", "surrogateescape")


def walk_entries(
    repo: Repo, tree_id: ObjectID, prefix: bytes
) -> Iterator[tuple[bytes, int, ObjectID]]:
    """``(path, mode, sha)`` of every non-directory entry below ``tree_id`` (gitlinks
    excluded), in path order; each tree object is read once."""
    tree = repo.object_store[tree_id]
    if not isinstance(tree, Tree):
        return
    for entry in tree.iteritems(name_order=True):
        full = prefix + b"/" + entry.path if prefix else entry.path
        if stat.S_ISDIR(entry.mode):
            yield from walk_entries(repo, entry.sha, full)
        elif entry.mode != GITLINK_MODE:
            yield full, entry.mode, entry.sha


def in_tree(repo: Repo, tree: ObjectID, rel: bytes) -> bool:
    try:
        tree_lookup_path(repo.object_store.__getitem__, tree, rel)
    except (KeyError, NotADirectoryError):
        return False
    return True


# --- local working repositories ------------------------------------------------------------


def init_repo(path: Path, *, bare: bool = False) -> None:
    """Create a Git repository (branch ``main``) at ``path``, creating the folder.

    Raises:
        UsageError: ``path`` already holds a Git repository.
        StoreError: The folder cannot be created.
    """
    if (path / ".git").exists() or (path / "HEAD").is_file():
        raise UsageError(f"expected a folder without a Git repository, got {path}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        init = Repo.init_bare if bare else Repo.init
        init(str(path), default_branch=b"main").close()
    except OSError as e:
        raise StoreError(f"creating a Git repository at {path}: {e}") from e


def head_commit(repo: Path) -> str:
    """The commit HEAD points at.

    Raises:
        NotFoundError: Not a repository, or no commit yet.
    """
    with open_repo(repo) as r:
        try:
            return r.head().decode("ascii")
        except KeyError:
            raise NotFoundError(f"expected a commit in {repo}, got an empty repository") from None


def tags_pointing_at(repo: Path, commit: str) -> list[str]:
    """Names of the tags (lightweight, or annotated and peeled) that point at ``commit``.

    Raises:
        NotFoundError: Not a repository.
        UsageError: Malformed sha.
    """
    wanted = ObjectID(check_sha(commit, "commit").encode("ascii"))
    names: list[str] = []
    with open_repo(repo) as r:
        for name, sha in r.refs.as_dict(Ref(b"refs/tags")).items():
            if sha in r.object_store and peel(r, sha) == wanted:
                names.append(name.decode("utf-8", "replace"))
    return sorted(names)


def is_worktree_clean(repo: Path) -> bool:
    """True when tracked files have no staged or unstaged changes (untracked files ignored).

    Raises:
        NotFoundError: Not a working repository.
    """
    from dulwich import porcelain  # 25 ms to import; only `publish` needs it

    with open_repo(repo) as r:
        status = porcelain.status(r, untracked_files="no")
    return not any(status.staged.values()) and not status.unstaged


def remote_url(repo: Path, name: str = "origin") -> str | None:
    """The URL configured for remote ``name`` in the repository's Git config.

    Only the repository's own config is read (not the user's or the system's), as that is
    where ``git remote add`` writes; ``url.<base>.insteadOf`` rewrites are not applied.

    Returns:
        The URL as written in the config, or None when there is no such remote (or it has
        no URL).

    Raises:
        NotFoundError: Not a repository.
    """
    section = (b"remote", name.encode("utf-8"))
    with open_repo(repo) as r:
        config = r.get_config()
    # Check the section first: ConfigFile.get falls back from [remote "x"] to a bare [remote].
    if not config.has_section(section):
        return None
    try:
        value = config.get(section, b"url")
    except KeyError:
        return None
    return value.decode("utf-8", "surrogateescape")


def commit_files(
    repo: Path, paths: list[str], message: str, *, author: str = DEFAULT_AUTHOR
) -> str:
    """Commit exactly ``paths`` (as they are in the worktree) on the current branch.

    Other staged changes stay staged and out of this commit, like ``git commit -- PATHS``.
    A listed path missing from the worktree is committed as a deletion.

    Args:
        repo: Working repository.
        paths: Paths relative to the repository root.
        message: Commit message.
        author: ``Name <email>``, used as author and committer.

    Returns:
        The new commit sha.

    Raises:
        UsageError: A path is outside the repository or neither exists nor is tracked, or
            ``author`` is malformed.
        NotFoundError: Not a working repository.
        StoreError: The branch moved while committing.
    """
    if not _AUTHOR_RE.match(author):
        raise UsageError(f"author: expected 'Name <email>', got {author!r}")
    rels = [check_rel_path(p) for p in paths]
    if any(r.split(b"/")[0] == b".git" for r in rels):
        raise UsageError(f"paths: expected files outside .git, got {paths!r}")
    with open_repo(repo) as r:
        old_head = r.refs.follow(HEAD_REF)[1]
        base_tree = get_commit(r, old_head.decode()).tree if old_head else None
        worktree = Path(r.path)
        for rel in rels:  # check all before staging any
            known = base_tree is not None and in_tree(r, base_tree, rel)
            if not known and not (worktree / rel.decode("utf-8", "surrogateescape")).exists():
                raise UsageError(f"paths: expected {rel.decode()!r} to exist or be tracked")
        r.get_worktree().stage([p.decode("utf-8", "surrogateescape") for p in rels])
        index = r.open_index()
        changes: list[tuple[bytes, int | None, ObjectID | None]] = []
        for rel in rels:
            entry = index[rel] if rel in index else None  # noqa: SIM401 (no Index.get)
            if isinstance(entry, IndexEntry):
                changes.append((rel, entry.mode, entry.sha))
            elif entry is not None:
                raise UsageError(f"paths: expected {rel.decode()!r} without merge conflicts")
            elif base_tree is not None and in_tree(r, base_tree, rel):
                changes.append((rel, None, None))  # deleted from the worktree
        tree = commit_tree_changes(r.object_store, base_tree or Tree(), changes)
        return _write_commit(r, tree, old_head, message, author)


def _write_commit(
    repo: Repo, tree: ObjectID, parent: ObjectID | None, message: str, author: str
) -> str:
    commit = Commit()
    commit.tree = tree
    commit.parents = [parent] if parent else []
    commit.author = commit.committer = author.encode("utf-8")
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = (message.rstrip("\n") + "\n").encode("utf-8")
    repo.object_store.add_object(commit)
    if parent is None:
        repo.refs[HEAD_REF] = commit.id  # follows HEAD to the unborn branch
    elif not repo.refs.set_if_equals(HEAD_REF, parent, commit.id):
        raise StoreError(f"committing in {repo.path}: expected HEAD at {parent.decode()}, it moved")
    return commit.id.decode("ascii")


def create_tag(
    repo: Path, name: str, commit: str | None = None, *, message: str | None = None
) -> None:
    """Tag ``commit`` (default HEAD): lightweight, or annotated when ``message`` is given.

    Raises:
        UsageError: Bad or existing tag name, or malformed sha.
        NotFoundError: Not a repository, or no such commit.
    """
    validate_ref_name(name, field="tag")
    if HEX40_RE.match(name.lower()) or name.startswith("refs/"):
        raise UsageError(f"tag: expected a short tag name such as v1.0.0, got {name!r}")
    with open_repo(repo) as r:
        if commit is None and r.refs.follow(HEAD_REF)[1] is None:
            raise NotFoundError(f"expected a commit in {repo}, got an empty repository")
        target = get_commit(r, commit or r.head().decode("ascii")).id
        sha = target
        if message is not None:
            tag = Tag()
            tag.object = (Commit, target)
            tag.name = name.encode("utf-8")
            tag.tagger = DEFAULT_AUTHOR.encode("utf-8")
            tag.tag_time = int(time.time())
            tag.tag_timezone = 0
            tag.message = (message.rstrip("\n") + "\n").encode("utf-8")
            r.object_store.add_object(tag)
            sha = tag.id
        if not r.refs.add_if_new(Ref(b"refs/tags/" + name.encode("utf-8")), sha):
            raise UsageError(f"tag: expected a new tag name, got existing {name!r}")
