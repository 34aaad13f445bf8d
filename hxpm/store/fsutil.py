"""File-system primitives: atomic writes, read-only trees, safe removal, staging dirs."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# What to do when the disk is full or the store cannot be written (every such error says it).
DISK_HINT = (
    "Check free space and permissions where the store lives (HXPM_HOME); nothing was "
    "changed, and `hxpm verify --store` checks the store."
)


def names_existing_path(arg: str) -> bool:
    """True when the command-line word ``arg`` names an existing file or directory.

    A word no file system takes as a path (over NAME_MAX bytes, holding a NUL) names none:
    the caller parses it as something else and refuses it as such, not as an I/O error.
    """
    try:
        return Path(arg).expanduser().exists()
    except (OSError, ValueError):
        return False


def fsync_tree(root: Path) -> None:
    """Flush every file under ``root``, then each directory, to stable storage.

    A rename is atomic but not durable by itself: after a power loss the renamed tree could
    hold files whose data never reached the disk. Errors (EIO, ENOSPC) propagate.
    """
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a same-directory temp file, fsync and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # os.urandom, not uuid: importing uuid (and platform) costs every command ~3 ms.
    tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.incomplete")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def new_staging_dir(tmp_root: Path, prefix: str) -> Path:
    tmp_root.mkdir(parents=True, exist_ok=True)
    path = tmp_root / f"{prefix}-{os.urandom(6).hex()}"
    path.mkdir(mode=0o755)
    return path


def make_tree_read_only(root: Path) -> None:
    """Installed trees are read-only: files 0444, directories 0555."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o444)
        os.chmod(dirpath, 0o555)


def remove_tree(path: Path) -> None:
    """Remove a (possibly read-only) tree; missing is fine."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return

    def _make_writable_and_retry(func, p, _exc):  # type: ignore[no-untyped-def]
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            mode = os.lstat(p).st_mode
            if not stat.S_ISLNK(mode):
                os.chmod(p, 0o755 if stat.S_ISDIR(mode) else 0o644)
        func(p)

    import shutil  # here: most commands never remove a tree

    for dirpath, _dirnames, _filenames in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(dirpath, 0o755)
    shutil.rmtree(path, onerror=_make_writable_and_retry)


def prune_empty_parents(path: Path, stop: Path) -> None:
    """Remove empty directories from ``path`` up to (not including) ``stop``."""
    current = path
    while current != stop and stop in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


def entries_at_depth(root: Path, depth: int) -> list[Path]:
    """What ``root.glob("*/*/*/*")`` finds for ``depth`` 4, read without a lock: a directory
    a writer removes or renames while we look is skipped, where ``Path.glob`` raises
    FileNotFoundError from inside its walk."""
    level = [root]
    for k in range(depth):
        last = k == depth - 1
        level = [child for parent in level for child in _children(parent, dirs_only=not last)]
    return sorted(level)


def _children(path: Path, *, dirs_only: bool) -> list[Path]:
    try:
        with os.scandir(path) as entries:
            return [
                Path(e.path) for e in entries if not dirs_only or e.is_dir(follow_symlinks=False)
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []  # gone since its parent was read: an uninstall or an install in flight
