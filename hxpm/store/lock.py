"""The store's write lock: one writer at a time, across processes.

Readers never take it (SQLite gives them a consistent snapshot). Correctness of files comes
from renames; the lock only keeps two installers from racing on the same rows and dirs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hxpm.errors import StoreLockedError, UsageError

DEFAULT_TIMEOUT_S = 600.0


def lock_timeout() -> float:
    """``HXPM_LOCK_TIMEOUT`` in seconds (default 600); 0 means do not wait.

    Raises:
        UsageError: not a finite number >= 0 (``nan``, ``-1`` and ``abc`` are refused, not
            read as "wait forever" or silently replaced by the default).
    """
    raw = os.environ.get("HXPM_LOCK_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise UsageError(
            f"HXPM_LOCK_TIMEOUT: expected a number of seconds >= 0, got {raw[:40]!r}",
            hint="Unset it for the default (600 s), or set e.g. HXPM_LOCK_TIMEOUT=30.",
        )
    return value


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
