"""dulwich plumbing behind :mod:`hxpm.index.git`: the network side.

Transports whose every read goes through a :class:`~hxpm.index._gitguard.WireGuard`
(timeouts, overall deadline, caps), the mapping of transport errors to hxpm errors and
choosing what to ask a server for. Receiving a pack is :mod:`hxpm.index._gitpack`; local
object-graph helpers are :mod:`hxpm.index._gitlocal`; with these (all ``_git*.py``),
:mod:`hxpm.index.git` is the only code importing dulwich.
Nothing here is public API: call :mod:`hxpm.index.git`.
"""

from __future__ import annotations

import re
import select
import shlex
import socket
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import unquote, urlsplit

import urllib3
from dulwich.client import (
    GitClient,
    HTTPProxyUnauthorized,
    HTTPUnauthorized,
    LocalGitClient,
    SSHGitClient,
    TCPGitClient,
    Urllib3HttpGitClient,
    default_urllib3_manager,
)
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.objects import ObjectID
from dulwich.protocol import (
    DEFAULT_GIT_PROTOCOL_VERSION_FETCH,
    DEFAULT_GIT_PROTOCOL_VERSION_SEND,
    Protocol,
)
from dulwich.refs import Ref
from dulwich.repo import Repo

from hxpm.errors import (
    HxpmError,
    NetworkError,
    NotFoundError,
    StoreError,
)
from hxpm.index._gitguard import (
    GuardedSSHVendor,
    GuardedStream,
    WireGuard,
    guard_http,
    socket_reader,
    ssh_argv,
)
from hxpm.index._githttp import HttpGitClient, pool_kwargs
from hxpm.index._gitlocal import peel
from hxpm.index.credentials import credentials_for
from hxpm.index.urls import GitURL
from hxpm.netlimits import (
    LimitExceeded,
    NetLimits,
    limit_error,
    stalled,
)

# What hxpm passes as dulwich's determine_wants: remote refs (and depth) -> shas to fetch.
WantsFn = Callable[[Mapping[Ref, ObjectID], int | None], list[ObjectID]]

PEELED = b"^{}"  # suffix of advertised peeled tag values
_NOT_FOUND_HINT = "Check the URL; private repositories need credentials."
NET_HINT = "Check the URL and your connection, or use --offline to work from the cache."
_NOT_FOUND_WORDS = ("not found", "not exported", "does not exist", "does not appear", "no such")
_SCP_RE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>\[[^\]]+\]|[^@/:\[\]]+):(?P<path>.+)$")
# urllib3 retries connects (cheap, often transient) but never a read that timed out: a
# server that accepts and then stalls must cost one timeout, not four.
_HTTP_RETRIES = urllib3.Retry(total=5, connect=2, read=0, redirect=5, status=0, other=0)


# --- transports ----------------------------------------------------------------------------


class _PoolManager(urllib3.PoolManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("retries", _HTTP_RETRIES)
        super().__init__(*args, **pool_kwargs(kwargs))  # + CAs from GIT_SSL_CAINFO etc.


class _ProxyManager(urllib3.ProxyManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("retries", _HTTP_RETRIES)
        super().__init__(*args, **pool_kwargs(kwargs))


class _TimeoutTCPGitClient(TCPGitClient):
    """git:// client whose reads go through a WireGuard (dulwich's have no timeout at all)."""

    def __init__(self, host: str, port: int | None, timeout: float) -> None:
        super().__init__(host, port)
        self._timeout = timeout
        self.guard: WireGuard | None = None  # set by guard_client; else the defaults

    def _connect(
        self, cmd: bytes, path: str | bytes, protocol_version: int | None = None
    ) -> tuple[Protocol, Callable[[], bool], None]:
        path_b = path if isinstance(path, bytes) else path.encode("utf-8")
        guard = self.guard or WireGuard(NetLimits(timeout_s=self._timeout))
        try:
            sock = socket.create_connection((self._host, self._port), guard.read_timeout())
        except TimeoutError:
            raise guard.timed_out() from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wfile = sock.makefile("wb", 0)
        read = GuardedStream(socket_reader(sock, guard), guard).read

        def close() -> None:
            wfile.close()
            sock.close()

        def shutdown_write() -> None:
            wfile.flush()
            with suppress(OSError):
                sock.shutdown(socket.SHUT_WR)

        proto = Protocol(read, wfile.write, close, shutdown_write=shutdown_write)
        if cmd == b"upload-pack":
            self.protocol_version = protocol_version or DEFAULT_GIT_PROTOCOL_VERSION_FETCH
        else:
            self.protocol_version = DEFAULT_GIT_PROTOCOL_VERSION_SEND
        # git daemon reads the protocol version behind two NULs (older daemons ignore it).
        extra = b"\0\0version=2\0" if cmd == b"upload-pack" and self.protocol_version == 2 else b""
        proto.send_cmd(b"git-" + cmd, path_b, b"host=" + self._host.encode("ascii") + extra)

        def can_read() -> bool:
            return bool(select.select([sock], [], [], 0)[0])

        return proto, can_read, None


def client_for(url: GitURL, timeout: float) -> tuple[GitClient, str]:
    """The dulwich client and remote path for ``url``, with ``timeout`` (seconds) applied.

    HTTP(S) (:mod:`hxpm.index._githttp`): credentials from ``url`` (this call only) or
    netrc, trusted CAs per :mod:`hxpm.tls`, dumb servers' HEAD read from their HEAD file.

    Raises:
        UsageError: a netrc file or CA variable that cannot be used.
    """
    if url.kind == "file":
        return LocalGitClient(), unquote(urlsplit(url.url).path)
    scp = _SCP_RE.match(url.url) if "://" not in url.url else None
    if scp:  # user@host:path, the path relative to the login's home as with git
        host = scp.group("host").strip("[]")
        return _ssh_client(host, None, scp.group("user"), timeout), scp.group("path")
    parts = urlsplit(url.url)
    host = parts.hostname or ""
    user = unquote(parts.username) if parts.username else None
    if url.kind == "git":
        return _TimeoutTCPGitClient(host, parts.port, timeout), unquote(parts.path)
    if url.kind == "ssh":
        return _ssh_client(host, parts.port, user, timeout), unquote(parts.path)
    base = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/"
    pool = default_urllib3_manager(
        None,
        pool_manager_cls=_PoolManager,
        proxy_manager_cls=_ProxyManager,
        base_url=base,
        timeout=timeout,
    )
    credentials = credentials_for(host, parts.port, url.credentials)
    client = HttpGitClient(base, url.display, credentials, pool_manager=pool, timeout=timeout)
    return client, parts.path  # still percent-encoded: it is joined onto the base URL


def _ssh_client(host: str, port: int | None, user: str | None, timeout: float) -> GitClient:
    # The user's GIT_SSH_COMMAND / GIT_SSH wins (keys, jump hosts), with our timeouts added.
    argv, flavour = ssh_argv(timeout)
    vendor = GuardedSSHVendor(argv, flavour)
    return SSHGitClient(host, port=port, username=user, vendor=vendor, ssh_command=shlex.join(argv))


def guarded_client(url: GitURL, guard: WireGuard) -> tuple[GitClient, str]:
    """:func:`client_for` with every read of the server's reply going through ``guard``."""
    client, path = client_for(url, guard.limits.timeout_s)
    if isinstance(client, _TimeoutTCPGitClient):
        client.guard = guard
    elif isinstance(client, SSHGitClient) and isinstance(client.ssh_vendor, GuardedSSHVendor):
        client.ssh_vendor.guard = guard
    elif isinstance(client, Urllib3HttpGitClient):
        guard_http(client, guard)
    return client, path


@contextmanager
def transport_errors(url: GitURL, action: str, guard: WireGuard | None = None) -> Iterator[None]:
    """Turn whatever dulwich, urllib3 or the OS raises into hxpm errors naming ``url``.

    NetworkError ``details["reason"]`` is one of ``too-large``, ``timeout``, ``connection``,
    ``hangup``, ``protocol`` or ``malformed``; a limit that was hit also names its setting
    in ``details["limit"]``.
    """
    where = f"{action} {url.display}"

    def timed_out() -> NetworkError:  # at the time of the error: the deadline's or the timeout's
        return limit_error(where, guard.timed_out() if guard else stalled(NetLimits().timeout_s))

    try:
        yield
    except HxpmError:
        raise
    except LimitExceeded as e:
        raise limit_error(where, e) from None
    except (NotGitRepository, HTTPUnauthorized):
        raise NotFoundError(
            f"{where}: expected a Git repository there, found none", hint=_NOT_FOUND_HINT
        ) from None
    except GitProtocolError as e:
        limit = _cause(e, LimitExceeded)
        if isinstance(limit, LimitExceeded):
            raise limit_error(where, limit) from None
        if isinstance(e.__cause__, urllib3.exceptions.HTTPError):  # dulwich wraps these
            raise _from_urllib3(where, e.__cause__, timed_out) from None
        text = short(str(e) or "the server hung up")
        if _cause(e, TimeoutError):
            raise timed_out() from None
        if any(word in text.lower() for word in _NOT_FOUND_WORDS):
            raise NotFoundError(f"{where}: {text}", hint=_NOT_FOUND_HINT) from None
        if isinstance(e, HangupException) or "length of pkt read" in text.lower():
            raise _net(f"{where}: the connection ended early ({text})", "hangup") from None
        raise _net(f"{where}: {text}", "protocol") from None
    except urllib3.exceptions.HTTPError as e:
        raise _from_urllib3(where, e, timed_out) from None
    except TimeoutError:
        raise timed_out() from None
    except (HTTPProxyUnauthorized, ConnectionError) as e:
        raise _net(f"{where}: {short(str(e))}", "connection") from None
    except OSError as e:
        if e.filename is not None:  # a local file: the cache, not the network
            raise StoreError(f"{where}: {e}") from e
        raise _net(f"{where}: {short(str(e))}", "connection") from None
    except KeyError as e:  # the local transport asked for an object the repository lacks
        raise _net(f"{where}: the repository lacks object {short(str(e))}", "protocol") from None
    except (ValueError, AssertionError, IndexError, zlib.error) as e:
        # dulwich reports some malformed server replies with these.
        raise _net(
            f"{where}: expected a valid Git reply, got one that is not "
            f"({type(e).__name__}: {short(str(e))})",
            "malformed",
        ) from None


def _cause(error: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first ``kind`` in ``error``'s chain (dulwich re-raises socket errors as its own)."""
    seen: BaseException | None = error
    for _ in range(8):  # a short chain
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _from_urllib3(
    where: str, error: Exception, timed_out: Callable[[], NetworkError]
) -> NetworkError:
    cause = getattr(error, "reason", None) or error  # MaxRetryError wraps the last failure
    if isinstance(cause, urllib3.exceptions.NewConnectionError):  # before TimeoutError: a subclass
        return _net(
            f"{where}: could not connect ({short(str(cause).rpartition(': ')[2])})", "connection"
        )
    if isinstance(cause, urllib3.exceptions.TimeoutError):
        return timed_out()
    if isinstance(cause, urllib3.exceptions.ProtocolError):
        return _net(f"{where}: the connection ended early ({short(str(cause))})", "hangup")
    return _net(f"{where}: {short(str(cause))}", "connection")


def _net(message: str, reason: str, hint: str = NET_HINT) -> NetworkError:
    return NetworkError(message, hint=hint, details={"reason": reason})


def short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# --- what to ask for -----------------------------------------------------------------------


def pick_want(
    refs: Mapping[Ref, ObjectID], ref: str | None, commit: str | None, url: GitURL
) -> tuple[Ref | None, ObjectID]:
    """The remote ref (None: asked for by id) and sha to fetch for ``ref`` or ``commit``."""
    if commit is not None:
        # Servers serve ref tips; a tag whose peeled value is the commit is one too.
        wanted = ObjectID(commit.encode("ascii"))
        for name in sorted(refs):
            if refs[name] != wanted:
                continue
            if not name.endswith(PEELED):
                return name, wanted
            tag = Ref(name[: -len(PEELED)])
            if tag in refs:
                return tag, refs[tag]
        return None, wanted
    if ref is None:
        candidates = [Ref(b"HEAD")]
    elif ref.startswith("refs/"):
        candidates = [Ref(ref.encode())]
    else:
        candidates = [Ref(f"refs/tags/{ref}".encode()), Ref(f"refs/heads/{ref}".encode())]
    for name in candidates:
        if name in refs:
            return name, refs[name]
    raise NotFoundError(
        f"fetching {url.display}: expected ref {ref or 'HEAD'!r} there, got none",
        hint="List what the repository has with `git ls-remote` or check the tag name.",
    )


def want_all_missing(repo: Repo) -> WantsFn:
    """A determine_wants asking for every branch and tag tip that ``repo`` lacks."""

    def determine_wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        wanted = {
            sha
            for name, sha in refs.items()
            if name.startswith((b"refs/heads/", b"refs/tags/")) and not name.endswith(PEELED)
        }
        return sorted(sha for sha in wanted if sha not in repo.object_store)

    return determine_wants


def refused(error: HxpmError) -> bool:
    # A server refuses a request by failing it (HTTP 500) or by hanging up (git daemon);
    # that is worth another try, a timeout or an over-size pack is not.
    return error.details.get("reason") in ("protocol", "hangup")


def peeled_local(path: str, refs: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    """``name^{}`` -> commit for the annotated tags in ``refs``, read from the repository
    at ``path`` (dulwich's local transport does not advertise peeled values)."""
    peeled: dict[bytes, bytes] = {}
    with Repo(path) as repo:
        for name, sha in refs.items():
            if name.startswith(b"refs/tags/") and ObjectID(sha) in repo.object_store:
                target = peel(repo, ObjectID(sha))
                if target != sha:
                    peeled[name + PEELED] = target
    return peeled
