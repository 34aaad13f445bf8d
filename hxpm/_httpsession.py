"""The policy around one :class:`hxpm.http.Fetcher`: retries, redirects, limits, errors.

:func:`hxpm.http.get` and :func:`~hxpm.http.download` run one attempt at a time through a
:class:`Session`; what can fail here becomes either a final :class:`~hxpm.errors.HxpmError`
or a :class:`Transient` that :meth:`Session.retrying` may try again. See hxpm.http's
docstring for the rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Self, TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from hxpm.core.redact import strip_url_credentials
from hxpm.errors import AuthenticationError, HxpmError, NetworkError, NotFoundError
from hxpm.index.credentials import FROM_URL, Credentials, credentials_for, netrc_path
from hxpm.netlimits import (
    ENV_DEADLINE,
    Deadline,
    LimitExceeded,
    NetLimits,
    deadline_passed,
    limit_error,
    waited_too_long,
)
from hxpm.tls import CERT_HINT, is_certificate_error

if TYPE_CHECKING:
    from hxpm.http import Fetcher, Response, RetryPolicy

CHUNK = 1 << 20
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NET_HINT = "Check the address and your network, or use --offline to work from the cache."
T = TypeVar("T")


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a malformed port
    except ValueError:
        return False
    if any(c in url for c in "\r\n\t ") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return False
    return parts.scheme in ("https", "http") and bool(parts.hostname)


# --- one call's session ------------------------------------------------------------------------


class Transient(Exception):
    """A failure worth another attempt; ``retry_after`` is what the server asked (seconds)."""

    def __init__(
        self, error: NetworkError, retry_after: float | None, *, now: bool = False
    ) -> None:
        super().__init__(error.message)
        self.error, self.retry_after, self.now = error, retry_after, now


class Session:
    """One call's URL, credentials, limits, deadline and fetcher."""

    def __init__(
        self,
        url: str,
        *,
        limits: NetLimits,
        fetcher: Fetcher,
        own_fetcher: bool,
        policy: RetryPolicy,
        verb: str,
    ) -> None:
        self.verb = verb  # "fetching" or "downloading", for messages
        self.limits, self.policy, self.fetcher = limits, policy, fetcher
        self._own = own_fetcher  # close it when done (an injected one is the caller's)
        self.url, self.credentials = _split_credentials(url)
        self.shown = self.url
        self.origin = _origin(self.url)
        self.deadline = Deadline(limits.deadline_s, limits.min_rate)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        close = getattr(self.fetcher, "close", None)
        if self._own and close is not None:
            close()

    def retrying(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it succeeds, a failure is final, or time or tries run out."""
        tries = 0
        while True:
            try:
                return attempt()
            except Transient as t:
                if t.now and tries < self.policy.retries + 1:
                    tries += 1  # e.g. a refused resume: start over without waiting
                    continue
                if tries >= self.policy.retries:
                    raise _give_up(t.error, tries + 1) from None
                wait = self._wait_for(t, tries)
                if wait > self.deadline.remaining():
                    raise _give_up(
                        t.error,
                        tries + 1,
                        f"the overall deadline "
                        f"({ENV_DEADLINE}={self.limits.deadline_s:g}) comes before "
                        "another try could",
                    ) from None
                time.sleep(wait)
                tries += 1
            except LimitExceeded as hit:
                raise self._limit(hit) from None

    def _wait_for(self, t: Transient, tries: int) -> float:
        if t.retry_after is None:
            return self.policy.backoff(tries)
        if t.retry_after > self.policy.max_retry_after_s:
            raise _give_up(
                t.error,
                tries + 1,
                f"the server asks to retry after "
                f"{t.retry_after:g} s, longer than hxpm waits "
                f"({self.policy.max_retry_after_s:g} s)",
            ) from None
        return t.retry_after

    def _limit(self, hit: LimitExceeded) -> NetworkError:
        return limit_error(f"{self.verb} {self.shown}", hit)

    def open(self, extra: Mapping[str, str], accept: set[int]) -> tuple[Response, str]:
        """Send the request, following redirects; a response whose status is in ``accept``.

        Raises:
            Transient: a connection failure or a status worth retrying.
            HxpmError: anything final (the status, a refused redirect, a certificate).
        """
        url = self.url
        for _hop in range(MAX_REDIRECTS + 1):
            headers = {"User-Agent": "hxpm", "Accept-Encoding": "identity", **extra}
            if self.credentials is not None and _origin(url) == self.origin:
                headers["Authorization"] = self.credentials.basic_auth_header()
            resp = self._send(url, headers)
            if resp.status in REDIRECT_STATUSES and header(resp, "location"):
                target = header(resp, "location") or ""
                resp.close()
                url = self._redirect_target(url, target)
                self.shown = url
                continue
            if resp.status in accept:
                return resp, url
            resp.close()
            raise self._status_error(resp)
        raise NetworkError(
            f"{strip_url_credentials(self.url)}: more than {MAX_REDIRECTS} "
            f"redirects (last to {url})",
            hint="The server redirects in a loop.",
            details={"reason": "redirects"},
        )

    def _send(self, url: str, headers: Mapping[str, str]) -> Response:
        timeout = self.deadline.read_timeout(self.limits.timeout_s)
        try:
            return self.fetcher.open(url, headers=headers, timeout=timeout)
        except TimeoutError:
            raise self.waited_too_long() from None
        except OSError as e:
            raise self._connection_failed(e) from None

    def read(self, resp: Response) -> bytes:
        """The next body bytes, with the deadline and timeout applied."""
        try:
            chunk = resp.read(CHUNK)
        except TimeoutError:
            raise self.waited_too_long() from None
        except OSError as e:
            raise self._connection_failed(e) from None
        self.deadline.credit(len(chunk))
        if self.deadline.remaining() <= 0:
            raise deadline_passed(self.deadline)
        return chunk

    def waited_too_long(self) -> LimitExceeded:
        return waited_too_long(self.deadline, self.limits.timeout_s)

    def _connection_failed(self, e: OSError) -> HxpmError | Transient:
        if is_certificate_error(e):
            return NetworkError(
                f"{self.shown}: the server's TLS certificate does not verify",
                hint=CERT_HINT,
                details={"reason": "certificate"},
            )
        return Transient(self.error(_reason(e), "connection"), None)

    def _redirect_target(self, current: str, location: str) -> str:
        target = urljoin(current, location.strip())
        bare = strip_url_credentials(target)  # never send what a Location header carries
        secure = urlsplit(current).scheme == "https"
        if not is_http_url(bare) or (secure and urlsplit(bare).scheme != "https"):
            raise NetworkError(
                f"{strip_url_credentials(current)}: refusing the redirect to "
                f"{_shorten(bare)}: expected an https:// URL"
                + ("" if secure else " or http:// URL"),
                hint="A redirect from https to plain http (or another scheme) would expose "
                "the download; ask the server's owner to fix it.",
                details={"reason": "insecure-redirect"},
            )
        return bare

    def _status_error(self, resp: Response) -> HxpmError | Transient:
        status = resp.status
        if status in (404, 410):
            return NotFoundError(f"{self.shown}: the server says {status}")
        if status == 401:
            return _unauthorized(self.shown, self.credentials)
        error = self.error(f"HTTP {status}", "http-status", status=status)
        if status in (408, 429) or (500 <= status <= 599 and status not in (501, 505)):
            return Transient(error, _retry_after(header(resp, "retry-after")))
        return error

    def error(self, what: str, reason: str, **details: object) -> NetworkError:
        return NetworkError(
            f"{self.shown}: {what}", hint=NET_HINT, details={"reason": reason, **details}
        )

    def check_declared(self, resp: Response, max_bytes: int, *, offset: int) -> int:
        """The whole file's size from Content-Length (0 if unknown); too big is an error."""
        declared = header(resp, "content-length") or ""
        if not declared.strip().isdigit():
            return 0
        total = offset + int(declared)
        if total > max_bytes:
            raise self.too_big(max_bytes, f"it declares {total}")
        return total

    def too_big(self, max_bytes: int, got: str) -> NetworkError:
        return NetworkError(
            f"{self.verb} {self.shown}: expected at most {max_bytes} bytes, {got}",
            hint="The server sends more than expected for this file; do not use it.",
            details={"reason": "too-large"},
        )


# --- helpers -----------------------------------------------------------------------------------


def _give_up(error: NetworkError, attempts: int, why: str = "") -> NetworkError:
    if attempts == 1 and not why:
        return error
    note = f" (gave up after {attempts} attempt{'s' if attempts > 1 else ''}"
    note += f": {why})" if why else ")"
    return NetworkError(
        error.message + note, hint=error.hint, details={**error.details, "attempts": attempts}
    )


def header(resp: Response, name: str) -> str | None:
    value = resp.headers.get(name)
    if value is None:
        value = next((v for k, v in resp.headers.items() if k.lower() == name), None)
    return value


def _retry_after(value: str | None) -> float | None:
    """Seconds from ``Retry-After`` (a number or an HTTP date); None if absent or malformed."""
    if value is None or len(value) > 64:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _reason(e: OSError) -> str:
    text = str(e) or type(e).__name__
    return text if len(text) <= 200 else text[:200] + "..."


def _shorten(url: str) -> str:
    return url if len(url) <= 300 else url[:300] + "..."


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _split_credentials(url: str) -> tuple[str, Credentials | None]:
    """The URL to request (no ``user:password@``) and the credentials to send with it."""
    parts = urlsplit(url)
    from_url = None
    if parts.username is not None:
        password = unquote(parts.password) if parts.password is not None else None
        from_url = Credentials(unquote(parts.username), password, FROM_URL)
    netloc = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return bare, credentials_for(parts.hostname or "", parts.port, from_url)


def _unauthorized(url: str, sent: Credentials | None) -> AuthenticationError:
    host = urlsplit(url).netloc
    why = (
        "asks for credentials (HTTP 401) and none were found"
        if sent is None
        else f"refused the credentials from {sent.origin} (HTTP 401)"
    )
    return AuthenticationError(
        f"{url}: {host} {why}",
        hint=f"Add a netrc entry for {host} to {netrc_path()} (machine HOST login USER "
        "password TOKEN, mode 600), or give user:token@ in the URL for one call.",
        details={"reason": "unauthorized", "host": host},
    )
