"""The default :class:`hxpm.http.Fetcher`: urllib3, with proxies from the environment.

One fetcher serves one :func:`hxpm.http.get` or :func:`~hxpm.http.download` call: the CA
settings (:mod:`hxpm.tls`) and proxy variables are read when it is made, as every setting
is. It sends exactly what it is given, follows no redirect and retries nothing (the policy
is hxpm.http's), and turns urllib3's exceptions into the builtin ones the Fetcher protocol
names, so the policy code never sees urllib3.

Proxies, as curl, pip and Python's urllib read them: ``https_proxy`` for https URLs,
``http_proxy`` for http ones, ``all_proxy`` for both (upper-case names too; lower case wins),
and ``no_proxy`` (host names, domain suffixes, ``*``) to bypass. An https URL goes through
an http proxy as a CONNECT tunnel, so the proxy never sees the bytes; ``user:password@`` in
the proxy URL becomes a ``Proxy-Authorization`` header and is never shown.
"""

from __future__ import annotations

import re
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import urllib3
from urllib3 import exceptions as u3

from hxpm.errors import UsageError
from hxpm.tls import ssl_context

_OBJECT_RE = re.compile(r"<[^<>]*object at 0x[0-9a-fA-F]+>:?\s*")


class Urllib3Fetcher:
    """A :class:`hxpm.http.Fetcher` over urllib3 pools: direct, or through the env's proxy."""

    def __init__(self) -> None:
        self._proxies = urllib.request.getproxies_environment()
        self._managers: dict[str | None, urllib3.PoolManager] = {}
        self._lock = threading.Lock()
        self._ssl: Any = None

    def open(self, url: str, *, headers: Mapping[str, str], timeout: float) -> _Response:
        proxy = self.proxy_for(url)
        manager = self._manager(proxy)
        try:
            resp = manager.urlopen(
                "GET",
                url,
                headers=dict(headers),
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
            )
        except u3.HTTPError as e:
            raise _builtin(e, proxy) from e
        return _Response(resp, proxy)

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL the environment names for ``url`` (None: connect directly)."""
        parts = urlsplit(url)
        chosen = self._proxies.get(parts.scheme) or self._proxies.get("all")
        if not chosen:
            return None
        host = parts.netloc.rpartition("@")[2]
        # The stdlib's own no_proxy matching (suffixes, "*", host:port); not in typeshed.
        if urllib.request.proxy_bypass_environment(host, self._proxies):  # type: ignore[attr-defined]
            return None
        return chosen if "://" in chosen else "http://" + chosen

    def close(self) -> None:
        with self._lock:
            for manager in self._managers.values():
                manager.clear()
            self._managers.clear()

    def _manager(self, proxy: str | None) -> urllib3.PoolManager:
        with self._lock:
            manager = self._managers.get(proxy)
            if manager is None:
                if self._ssl is None:
                    self._ssl = ssl_context()  # UsageError for a CA variable that is wrong
                manager = (
                    _proxy_manager(proxy, self._ssl)
                    if proxy
                    else urllib3.PoolManager(num_pools=4, ssl_context=self._ssl, retries=False)
                )
                self._managers[proxy] = manager
            return manager


def _proxy_manager(proxy: str, context: Any) -> urllib3.ProxyManager:
    parts = urlsplit(proxy)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"expected an http:// or https:// proxy in the environment, got "
            f"{parts.scheme}://{parts.hostname or ''}",
            hint="Set HTTPS_PROXY / HTTP_PROXY / ALL_PROXY to http://HOST:PORT (SOCKS "
            "proxies are not supported), or add the host to NO_PROXY.",
        )
    headers = None
    if parts.username is not None:
        headers = urllib3.make_headers(
            proxy_basic_auth=(f"{unquote(parts.username)}:{unquote(parts.password or '')}")
        )
    bare = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "", "", ""))
    return urllib3.ProxyManager(
        bare, num_pools=4, proxy_headers=headers, ssl_context=context, retries=False
    )


class _Response:
    """A urllib3 response seen through the :class:`hxpm.http.Response` protocol."""

    def __init__(self, resp: urllib3.BaseHTTPResponse, proxy: str | None) -> None:
        self._resp, self._proxy = resp, proxy
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers

    def read(self, n: int) -> bytes:
        try:
            # read1: one socket read, so the caller checks its deadline between trickles.
            return self._resp.read1(n)
        except u3.HTTPError as e:
            raise _builtin(e, self._proxy) from e

    def close(self) -> None:
        self._resp.close()
        self._resp.release_conn()


def _builtin(e: Exception, proxy: str | None) -> OSError:
    """The builtin exception the Fetcher protocol promises for urllib3's ``e``."""
    if isinstance(e, u3.MaxRetryError) and e.reason is not None:
        e = e.reason
    text = _OBJECT_RE.sub("", str(e)) or type(e).__name__
    if isinstance(e, u3.ProxyError):
        original = e.original_error if hasattr(e, "original_error") else None
        inner = _OBJECT_RE.sub("", str(original)) if original is not None else text
        return ConnectionError(f"through the proxy {_without_credentials(proxy)}: {inner}")
    if isinstance(e, u3.NewConnectionError):  # before TimeoutError: it is a subclass
        return ConnectionError(text)
    if isinstance(e, u3.TimeoutError):
        return TimeoutError(text)
    return ConnectionError(text)  # protocol errors, resets, TLS (the cause stays chained)


def _without_credentials(proxy: str | None) -> str:
    if proxy is None:
        return "(none)"
    parts = urlsplit(proxy)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "", "", ""))
