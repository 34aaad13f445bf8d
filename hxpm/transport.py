"""Plain HTTP(S) downloads (variant ``url``s) and the offline switch.

Every download has an inactivity timeout (``HXPM_NET_TIMEOUT``), an overall deadline
(``HXPM_NET_DEADLINE`` plus ``HXPM_NET_MIN_RATE``, see :mod:`hxpm.netlimits`) and a byte
cap, is hashed while it streams, and lands in a unique temp file that is renamed only once
complete. ``HXPM_OFFLINE`` and the limits are read per call.
Credentials and CAs work as for Git over HTTP (docs/network.md): ``user:password@`` in the
URL for that call, else netrc; the CA variables of :mod:`hxpm.tls`. Credentials are sent
to the URL's own host only (never across a redirect) and never appear in a message.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from hxpm.core.redact import strip_url_credentials
from hxpm.errors import AuthenticationError, NetworkError, NotFoundError, OfflineError, UsageError
from hxpm.index.credentials import FROM_URL, Credentials, credentials_for, netrc_path
from hxpm.netlimits import Deadline, NetLimits, deadline_passed, limit_error, waited_too_long
from hxpm.tls import CERT_HINT, is_certificate_error, ssl_context

CHUNK = 1 << 20


def is_offline() -> bool:
    return os.environ.get("HXPM_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def require_online(what: str) -> None:
    """Raise OfflineError (exit 6) naming what would have needed the network."""
    if is_offline():
        raise OfflineError(f"offline mode: {what} needs the network and is not in the cache")


def check_http_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"expected an http(s):// URL, got {strip_url_credentials(url)!r}")
    return url


def _split_credentials(url: str) -> tuple[str, Credentials | None]:
    """The URL to request (no ``user:password@``) and the credentials to send with it."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    from_url = None
    if parts.username is not None:
        password = unquote(parts.password) if parts.password is not None else None
        from_url = Credentials(unquote(parts.username), password, FROM_URL)
    netloc = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return bare, credentials_for(host, port, from_url)


def download(url: str, dest: Path, *, max_bytes: int, limits: NetLimits | None = None) -> str:
    """Stream ``url`` into ``dest`` (atomically) and return its SHA-256.

    ``limits`` gives the timeout and deadline (None: from the environment).

    Raises:
        OfflineError: offline mode is on.
        NotFoundError: the server answered 404/410.
        NetworkError: any other HTTP or connection failure, no data for the timeout, the
            overall deadline passed, or more than ``max_bytes`` bytes.
        UsageError: a limit setting in the environment is malformed.
    """
    check_http_url(url)
    require_online(f"downloading {strip_url_credentials(url)}")
    limits = limits or NetLimits.from_env()
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.incomplete")
    try:
        digest = _stream_to(url, tmp, max_bytes=max_bytes, limits=limits)
        os.replace(tmp, dest)
        return digest
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _stream_to(url: str, tmp: Path, *, max_bytes: int, limits: NetLimits) -> str:
    sha = hashlib.sha256()
    got = 0
    deadline = Deadline(limits.deadline_s, limits.min_rate)
    timeout_s = deadline.read_timeout(limits.timeout_s)  # connect, and then each socket read
    url, credentials = _split_credentials(url)
    request = urllib.request.Request(url, headers={"User-Agent": "hxpm"})
    if credentials is not None:
        # An unredirected header stays with this host: a redirect elsewhere does not get it.
        request.add_unredirected_header("Authorization", credentials.basic_auth_header())
    context = ssl_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as resp, \
                open(tmp, "xb") as out:
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise _too_big(url, max_bytes, f"it declares {declared}")
            # read1: at most one socket read, so the deadline is checked between trickles.
            while chunk := resp.read1(CHUNK):
                got += len(chunk)
                if got > max_bytes:
                    raise _too_big(url, max_bytes, "it sent more")
                deadline.credit(len(chunk))
                if deadline.remaining() <= 0:
                    raise limit_error(f"downloading {url}", deadline_passed(deadline))
                sha.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as e:
        if e.code in (404, 410):
            raise NotFoundError(f"{url}: the server says {e.code} {e.reason}") from None
        if e.code == 401:
            raise _unauthorized(url, credentials) from None
        raise NetworkError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        if is_certificate_error(e):
            raise NetworkError(f"{url}: the server's TLS certificate does not verify",
                               hint=CERT_HINT, details={"reason": "certificate"}) from None
        reason = getattr(e, "reason", e)
        if isinstance(reason, TimeoutError):
            hit = waited_too_long(deadline, limits.timeout_s)
            raise limit_error(f"downloading {url}", hit) from None
        raise NetworkError(f"{url}: {reason}", hint="Check the address and your network, "
                           "or use --offline to work from the cache.") from None
    return sha.hexdigest()


def _too_big(url: str, max_bytes: int, got: str) -> NetworkError:
    return NetworkError(
        f"downloading {url}: expected at most {max_bytes} bytes, {got}",
        hint="The server sends more than the index declares for this file; do not use it.",
        details={"reason": "too-large"},
    )


def _unauthorized(url: str, sent: Credentials | None) -> AuthenticationError:
    host = urlsplit(url).netloc
    why = ("asks for credentials (HTTP 401) and none were found" if sent is None
           else f"refused the credentials from {sent.origin} (HTTP 401)")
    return AuthenticationError(
        f"{url}: {host} {why}",
        hint=f"Add a netrc entry for {host} to {netrc_path()} (machine HOST login USER "
             "password TOKEN, mode 600), or give user:token@ in the URL for one call.",
        details={"reason": "unauthorized", "host": host},
    )
