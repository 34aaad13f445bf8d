"""The store's write lock: one writer at a time, across processes.

Readers never take it (SQLite gives them a consistent snapshot). Correctness of files comes
from renames; the lock only keeps two installers from racing on the same rows and dirs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hxpm.errors import StoreLockedError

DEFAULT_TIMEOUT_S = 600.0


def lock_timeout() -> float:
    raw = os.environ.get("HXPM_LOCK_TIMEOUT")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


@contextmanager
def store_lock(lock_file: Path) -> Iterator[None]:
    import filelock  # only writers pay for it

    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_file))
    timeout = lock_timeout()
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout:
        raise StoreLockedError(
            f"the store at {lock_file.parent} is locked by another hxpm process "
            f"(waited {timeout:.0f} s)"
        ) from None
    try:
        yield
    finally:
        lock.release()
