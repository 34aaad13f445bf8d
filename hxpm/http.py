"""Plain HTTP(S) for hxpm: the one module that makes HTTP requests outside the Git layer.

Two calls (docs/network.md, "HTTP downloads"):

- :func:`get` fetches a small file into memory (an index file, a snapshot), with a
  conditional request when the caller has an ETag: ``HttpResult.not_modified`` on a 304.
- :func:`download` streams a large file (a release asset) into ``dest``, resumably: bytes go
  to ``DEST.part`` beside it, the server's validator (strong ETag, else Last-Modified) to
  ``DEST.part.json``; a later call, even in another process, asks for the rest with
  ``Range`` + ``If-Range`` and appends on 206, or starts over on 200. The result is checked
  against ``expected_sha256`` before it is renamed into place; a mismatch deletes the part.

Every request, both calls:

- has an inactivity timeout and an overall deadline (:class:`hxpm.netlimits.NetLimits`, read
  from the environment when not given) and a byte cap;
- is retried with exponential back-off and jitter after a connection failure, 408, 429 or
  5xx (``Retry-After`` honoured up to :attr:`RetryPolicy.max_retry_after_s`), never after
  another 4xx nor a timeout (a server that stalls costs one timeout, not four), and never
  past the deadline; ``HXPM_NET_RETRIES`` sets how many retries (default 3);
- follows at most :data:`MAX_REDIRECTS` redirects itself and refuses one from https to http
  or to another scheme (the error names both URLs, without credentials);
- sends credentials (``user:password@`` in the URL, else netrc: :mod:`hxpm.index.credentials`)
  to the URL's own scheme, host and port only, never after a redirect elsewhere;
- trusts the CAs :mod:`hxpm.tls` names and goes through the proxy the environment names
  (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, lower case too; ``NO_PROXY`` bypasses);
- fails with an :class:`~hxpm.errors.HxpmError` (NotFoundError for 404/410,
  AuthenticationError for 401, NetworkError for the rest, IntegrityError for a digest that
  does not match), never a traceback, and offline mode (``HXPM_OFFLINE``) stops it first.

The transport is injectable, as python-tuf's ngclient does it: pass any :class:`Fetcher` as
``fetcher=`` and the real retry, redirect, deadline, resume and verification code runs over
it. The default one (:mod:`hxpm._httpfetch`) uses urllib3, imported only when a request is
made, so light commands do not pay for it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hxpm._httppart import PartFile, safe_validator
from hxpm._httpsession import MAX_REDIRECTS, Session, Transient, header, is_http_url
from hxpm.core.redact import strip_url_credentials
from hxpm.errors import IntegrityError, NetworkError, NotFoundError, OfflineError, UsageError
from hxpm.netlimits import NetLimits, env_size

__all__ = [
    "MAX_REDIRECTS",
    "DownloadProgress",
    "Fetcher",
    "HttpResult",
    "Response",
    "RetryPolicy",
    "check_http_url",
    "download",
    "get",
    "is_offline",
    "require_online",
]

ENV_RETRIES = "HXPM_NET_RETRIES"
DownloadProgress = Callable[[int, int], None]  # (bytes so far, total bytes or 0 if unknown)


# --- the injectable transport ----------------------------------------------------------------


class Response(Protocol):
    """One HTTP response as a :class:`Fetcher` returns it (the body not read yet)."""

    status: int
    headers: Mapping[str, str]  # looked up case-insensitively by this module

    def read(self, n: int) -> bytes:
        """Up to ``n`` body bytes as soon as some arrive (not ``n`` exactly); b"" at the end."""
        ...

    def close(self) -> None: ...


class Fetcher(Protocol):
    """Opens one GET request; the policy (retries, redirects, limits) is this module's.

    ``open`` sends exactly one request to ``url`` with ``headers`` and returns the response,
    whatever its status: it does not follow redirects, retry, or decode the body. ``timeout``
    bounds the connect and then each wait for bytes (also in ``Response.read``). Failures:
    ``TimeoutError`` when such a wait ran out, another ``OSError`` (``ConnectionError``,
    ``ssl.SSLError``, ...) for anything else on the way; nothing else.
    """

    def open(self, url: str, *, headers: Mapping[str, str], timeout: float) -> Response: ...


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpResult:
    """What :func:`get` returns.

    Attributes:
        status: 200, or 304 when the caller's ETag still matches (``body`` is then empty).
        body: The response body (at most the caller's ``max_bytes``).
        etag: The server's ETag for this version (printable ASCII), or None.
        url: The URL that answered, after redirects, without credentials.
    """

    status: int
    body: bytes = field(repr=False)
    etag: str | None
    url: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait before trying a request again.

    Attributes:
        retries: Further attempts after the first (``HXPM_NET_RETRIES``, 0 turns them off).
        backoff_s: The first wait; each later one doubles, plus up to as much again at random
            (jitter, so many clients do not come back in step).
        max_backoff_s: The longest wait computed that way.
        max_retry_after_s: The longest ``Retry-After`` obeyed; a server asking for more gets
            no retry (the error says what it asked).
    """

    retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 30.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """The defaults with ``HXPM_NET_RETRIES`` applied (UsageError if malformed)."""
        default = cls()
        return cls(retries=env_size(ENV_RETRIES, default.retries, allow_zero=True))

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (0-based)."""
        base = min(self.max_backoff_s, self.backoff_s * (2.0**attempt))
        return base + random.uniform(0, base)  # jitter, not a secret


# --- offline switch and URL checks ------------------------------------------------------------


def is_offline() -> bool:
    return os.environ.get("HXPM_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def require_online(what: str) -> None:
    """Raise OfflineError (exit 6) naming what would have needed the network."""
    if is_offline():
        raise OfflineError(f"offline mode: {what} needs the network and is not in the cache")


def check_http_url(url: str) -> str:
    """``url`` itself if it is a well-formed http(s) URL, else UsageError."""
    if not is_http_url(url):
        raise UsageError(f"expected an http(s):// URL, got {strip_url_credentials(url)!r}")
    return url


# --- the two calls -----------------------------------------------------------------------------


def get(
    url: str,
    *,
    max_bytes: int,
    etag: str | None = None,
    headers: Mapping[str, str] | None = None,
    limits: NetLimits | None = None,
    fetcher: Fetcher | None = None,
    retry: RetryPolicy | None = None,
) -> HttpResult:
    """GET a small file into memory; with ``etag``, a 304 comes back as ``not_modified``.

    Args:
        url: An http(s) URL, optionally with ``user:password@`` for this call.
        max_bytes: The most body bytes accepted; more is a NetworkError (too-large).
        etag: The ETag of the copy the caller has (sent as ``If-None-Match``).
        headers: Extra request headers (e.g. ``Accept``); ``Authorization`` is ours.
        limits, fetcher, retry: None for the environment's limits, urllib3, and
            :meth:`RetryPolicy.from_env`.

    Raises:
        OfflineError, NotFoundError (404/410), AuthenticationError (401), NetworkError (any
        other failure or limit), UsageError (a malformed URL, ETag or setting).
    """
    check_http_url(url)
    if etag is not None and safe_validator(etag) != etag:
        raise UsageError(f"expected an ETag of printable ASCII, got {etag[:80]!r}")
    require_online(f"fetching {strip_url_credentials(url)}")
    extra = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
    if etag is not None:
        extra["If-None-Match"] = etag
    with _session(url, limits, fetcher, retry, "fetching") as session:
        return session.retrying(lambda: _get_once(session, extra, max_bytes, etag is not None))


def download(
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    expected_sha256: str | None = None,
    limits: NetLimits | None = None,
    progress: DownloadProgress | None = None,
    fetcher: Fetcher | None = None,
    retry: RetryPolicy | None = None,
) -> str:
    """Stream ``url`` into ``dest`` (resumably, atomically) and return its SHA-256.

    An interrupted download leaves ``DEST.part`` (and ``DEST.part.json``) behind when the
    server gave a validator to resume against; the next call for the same ``dest`` and URL
    continues it. Callers must not run two downloads to the same ``dest`` at once.

    Args:
        url: An http(s) URL, optionally with ``user:password@`` for this call.
        dest: Where the complete file goes (replaced if present).
        max_bytes: The most bytes the whole file may have.
        expected_sha256: When given, the file must hash to it before it lands in ``dest``.
        progress: Called with (bytes so far, total or 0) as bytes arrive, from this thread.
        limits, fetcher, retry: As for :func:`get`.

    Raises:
        IntegrityError: the bytes do not hash to ``expected_sha256`` (the part is deleted).
        Others: as :func:`get`.
    """
    check_http_url(url)
    require_online(f"downloading {strip_url_credentials(url)}")
    part = PartFile.open(dest, strip_url_credentials(url))
    try:
        if expected_sha256 is not None and part.size and part.hexdigest() == expected_sha256:
            return part.finish(dest)  # a run that died between verifying and renaming
        with _session(url, limits, fetcher, retry, "downloading") as session:
            session.retrying(lambda: _download_once(session, part, max_bytes, progress))
        digest = part.hexdigest()
        if expected_sha256 is not None and digest != expected_sha256:
            part.discard()
            raise IntegrityError(
                f"{session.shown}: the downloaded file's sha256 is {digest}, expected "
                f"{expected_sha256}",
                hint="The bytes were altered on the way or on the server.",
                details={"expected": expected_sha256, "got": digest},
            )
        return part.finish(dest)
    except BaseException as e:
        if _spoils_part(e) or not part.validator:
            part.discard()  # nothing a later call could (or should) resume from
        raise
    finally:
        part.close()


# --- one attempt of each -----------------------------------------------------------------------


def _get_once(
    session: Session, extra: dict[str, str], max_bytes: int, conditional: bool
) -> HttpResult:
    accept = {200, 304} if conditional else {200}
    resp, final = session.open(extra, accept)
    try:
        etag = safe_validator(header(resp, "etag"))
        if resp.status == 304:
            return HttpResult(304, b"", etag, final)
        session.check_declared(resp, max_bytes, offset=0)
        chunks: list[bytes] = []
        got = 0
        while chunk := session.read(resp):
            got += len(chunk)
            if got > max_bytes:
                raise session.too_big(max_bytes, "it sent more")
            chunks.append(chunk)
        return HttpResult(200, b"".join(chunks), etag, final)
    finally:
        resp.close()


def _download_once(
    session: Session, part: PartFile, max_bytes: int, progress: DownloadProgress | None
) -> None:
    extra: dict[str, str] = {}
    offset = part.size if part.validator else 0
    if offset:
        extra |= {"Range": f"bytes={offset}-", "If-Range": part.validator or ""}
    resp, _final = session.open(extra, {200, 206, 416} if offset else {200})
    try:
        if resp.status == 416 or (resp.status == 206 and _range_start(resp) != offset):
            part.reset()  # the part no longer fits the file: the next attempt starts over
            raise Transient(
                session.error(
                    f"the server refused to resume at byte {offset} (HTTP {resp.status})", "resume"
                ),
                None,
                now=True,
            )
        if resp.status == 200:
            part.reset()  # no Range support, or the file changed (If-Range): from the start
            offset = 0
        part.set_validator(
            safe_validator(header(resp, "etag"), strong_only=True)
            or safe_validator(header(resp, "last-modified"))
        )
        total = session.check_declared(resp, max_bytes, offset=offset)
        while chunk := session.read(resp):
            if part.size + len(chunk) > max_bytes:
                raise session.too_big(max_bytes, "it sent more")
            part.append(chunk)
            if progress is not None:
                progress(part.size, total)
    finally:
        resp.close()


def _spoils_part(error: BaseException) -> bool:
    """Whether ``error`` means the part holds bytes nobody wants (else: keep, resume later)."""
    if isinstance(error, IntegrityError | NotFoundError):
        return True
    return isinstance(error, NetworkError) and error.details.get("reason") == "too-large"


def _session(
    url: str,
    limits: NetLimits | None,
    fetcher: Fetcher | None,
    retry: RetryPolicy | None,
    verb: str,
) -> Session:
    """A session with the environment's settings for what the caller left out."""
    limits = limits or NetLimits.from_env()
    policy = retry or RetryPolicy.from_env()
    chosen = fetcher if fetcher is not None else default_fetcher()
    return Session(
        url, limits=limits, fetcher=chosen, own_fetcher=fetcher is None, policy=policy, verb=verb
    )


def default_fetcher() -> Fetcher:
    """A new fetcher of hxpm's own (urllib3). Each call of :func:`get`/:func:`download`
    without ``fetcher=`` makes and closes one; a caller making many requests keeps one and
    passes it, so connections and the TLS set-up are reused (close it when done)."""
    from hxpm._httpfetch import Urllib3Fetcher  # urllib3 only when a request is made

    return Urllib3Fetcher()


def _range_start(resp: Response) -> int | None:
    """The first byte a 206's ``Content-Range: bytes A-B/N`` covers, or None."""
    value = (header(resp, "content-range") or "").strip()
    unit, _, span = value.partition(" ")
    start = span.partition("-")[0]
    return int(start) if unit == "bytes" and start.isdigit() and len(start) < 20 else None
