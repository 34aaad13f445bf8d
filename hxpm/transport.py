"""Plain HTTP(S) downloads (variant ``url``s) and the offline switch.

Every download has a timeout and a byte cap, is hashed while it streams, and lands in a
unique temp file that is renamed only once complete. ``HXPM_OFFLINE`` is read per call.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from hxpm.errors import NetworkError, NotFoundError, OfflineError, UsageError

CHUNK = 1 << 20
DEFAULT_TIMEOUT_S = 30.0


def is_offline() -> bool:
    return os.environ.get("HXPM_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def require_online(what: str) -> None:
    """Raise OfflineError (exit 6) naming what would have needed the network."""
    if is_offline():
        raise OfflineError(f"offline mode: {what} needs the network and is not in the cache")


def check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"expected an http(s):// URL, got {url!r}")
    return url


def download(url: str, dest: Path, *, max_bytes: int, timeout_s: float = DEFAULT_TIMEOUT_S
             ) -> str:
    """Stream ``url`` into ``dest`` (atomically) and return its SHA-256.

    Raises:
        OfflineError: offline mode is on.
        NotFoundError: the server answered 404/410.
        NetworkError: any other HTTP or connection failure, a timeout, or more than
            ``max_bytes`` bytes.
    """
    check_http_url(url)
    require_online(f"downloading {url}")
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.incomplete")
    try:
        digest = _stream_to(url, tmp, max_bytes=max_bytes, timeout_s=timeout_s)
        os.replace(tmp, dest)
        return digest
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _stream_to(url: str, tmp: Path, *, max_bytes: int, timeout_s: float) -> str:
    sha = hashlib.sha256()
    got = 0
    request = urllib.request.Request(url, headers={"User-Agent": "hxpm"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp, open(tmp, "xb") as out:
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise NetworkError(f"{url}: {declared} bytes is over the {max_bytes}-byte cap")
            while chunk := resp.read(CHUNK):
                got += len(chunk)
                if got > max_bytes:
                    raise NetworkError(f"{url}: more than the {max_bytes}-byte cap")
                sha.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as e:
        if e.code in (404, 410):
            raise NotFoundError(f"{url}: the server says {e.code} {e.reason}") from None
        raise NetworkError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        reason = getattr(e, "reason", e)
        raise NetworkError(f"{url}: {reason}", hint="Check the address and your network, "
                           "or use --offline to work from the cache.") from None
    return sha.hexdigest()
