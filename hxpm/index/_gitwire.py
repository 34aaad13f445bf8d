"""dulwich plumbing behind :mod:`hxpm.index.git`: the network side.

Transports with timeouts, the mapping of transport errors to hxpm errors, choosing what to
ask a server for, and receiving a pack into a temporary file and adding it only once it
verifies. Local object-graph helpers live in :mod:`hxpm.index._gitlocal`; with these two,
:mod:`hxpm.index.git` is the only code importing dulwich.
Nothing here is public API: call :mod:`hxpm.index.git`.
"""

from __future__ import annotations

import os
import re
import select
import socket
import tempfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import unquote, urlsplit

import urllib3
from dulwich.client import (
    FetchPackResult,
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
from dulwich.object_store import ObjectStoreGraphWalker
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
    IntegrityError,
    NetworkError,
    NotFoundError,
    StoreError,
)
from hxpm.index._gitlocal import local_heads, local_parents, peel
from hxpm.index.urls import GitURL

if TYPE_CHECKING:
    from dulwich.client import DetermineWantsFunc

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


class PackTooLarge(Exception):
    """Raised from inside dulwich's pack callback to abort a transfer over the cap."""


# --- transports ----------------------------------------------------------------------------


class _PoolManager(urllib3.PoolManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("retries", _HTTP_RETRIES)
        super().__init__(*args, **kwargs)


class _ProxyManager(urllib3.ProxyManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("retries", _HTTP_RETRIES)
        super().__init__(*args, **kwargs)


class _TimeoutTCPGitClient(TCPGitClient):
    """git:// client whose socket has a connect and read timeout (dulwich's has none)."""

    def __init__(self, host: str, port: int | None, timeout: float) -> None:
        super().__init__(host, port)
        self._timeout = timeout

    def _connect(
        self, cmd: bytes, path: str | bytes, protocol_version: int | None = None
    ) -> tuple[Protocol, Callable[[], bool], None]:
        path_b = path if isinstance(path, bytes) else path.encode("utf-8")
        sock = socket.create_connection((self._host, self._port), timeout=self._timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile, wfile = sock.makefile("rb", -1), sock.makefile("wb", 0)

        def close() -> None:
            rfile.close()
            wfile.close()
            sock.close()

        def shutdown_write() -> None:
            wfile.flush()
            with suppress(OSError):
                sock.shutdown(socket.SHUT_WR)

        proto = Protocol(rfile.read, wfile.write, close, shutdown_write=shutdown_write)
        if cmd == b"upload-pack":
            self.protocol_version = protocol_version or DEFAULT_GIT_PROTOCOL_VERSION_FETCH
        else:
            self.protocol_version = DEFAULT_GIT_PROTOCOL_VERSION_SEND
        # git daemon reads the protocol version behind two NULs (older daemons ignore it).
        extra = b"\0\0version=2\0" if cmd == b"upload-pack" and self.protocol_version == 2 else b""
        proto.send_cmd(b"git-" + cmd, path_b, b"host=" + self._host.encode("ascii") + extra)
        can_read: Callable[[], bool] = lambda: bool(select.select([sock], [], [], 0)[0])  # noqa: E731
        return proto, can_read, None


def client_for(url: GitURL, timeout: float) -> tuple[GitClient, str]:
    """The dulwich client and remote path for ``url``, with ``timeout`` (seconds) applied."""
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
    password = unquote(parts.password) if parts.password else None
    client = Urllib3HttpGitClient(
        base, pool_manager=pool, username=user, password=password, timeout=timeout
    )
    return client, parts.path  # still percent-encoded: it is joined onto the base URL


def _ssh_client(host: str, port: int | None, user: str | None, timeout: float) -> GitClient:
    # The user's GIT_SSH_COMMAND wins (keys, jump hosts); otherwise bound the connect time.
    command = os.environ.get("GIT_SSH_COMMAND") or f"ssh -o ConnectTimeout={max(1, round(timeout))}"
    return SSHGitClient(host, port=port, username=user, ssh_command=command)


@contextmanager
def transport_errors(url: GitURL, action: str, timeout: float | None = None) -> Iterator[None]:
    """Turn whatever dulwich, urllib3 or the OS raises into hxpm errors naming ``url``.

    NetworkError ``details["reason"]`` is one of ``too-large``, ``timeout``, ``connection``,
    ``hangup``, ``protocol`` or ``malformed``.
    """
    where = f"{action} {url.display}"
    timed_out = f"{where}: timed out" + (f" (no answer within {timeout:g} s)" if timeout else "")
    try:
        yield
    except HxpmError:
        raise
    except PackTooLarge as e:
        raise _net(
            f"{where}: expected at most {e.args[0]} bytes, got more",
            "too-large",
            "The repository is larger than allowed; raise the limit if you trust it.",
        ) from None
    except (NotGitRepository, HTTPUnauthorized):
        raise NotFoundError(
            f"{where}: expected a Git repository there, found none", hint=_NOT_FOUND_HINT
        ) from None
    except GitProtocolError as e:
        if isinstance(e.__cause__, urllib3.exceptions.HTTPError):  # dulwich wraps these
            raise _from_urllib3(where, e.__cause__, timed_out) from None
        text = short(str(e) or "the server hung up")
        if _caused_by_timeout(e):
            raise _net(timed_out, "timeout") from None
        if any(word in text.lower() for word in _NOT_FOUND_WORDS):
            raise NotFoundError(f"{where}: {text}", hint=_NOT_FOUND_HINT) from None
        if isinstance(e, HangupException) or "length of pkt read" in text.lower():
            raise _net(f"{where}: the connection ended early ({text})", "hangup") from None
        raise _net(f"{where}: {text}", "protocol") from None
    except urllib3.exceptions.HTTPError as e:
        raise _from_urllib3(where, e, timed_out) from None
    except TimeoutError:
        raise _net(timed_out, "timeout") from None
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


def _caused_by_timeout(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(8):  # a short chain: dulwich re-raises socket errors as protocol errors
        if seen is None:
            return False
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _from_urllib3(where: str, error: Exception, timed_out: str) -> NetworkError:
    cause = getattr(error, "reason", None) or error  # MaxRetryError wraps the last failure
    if isinstance(cause, urllib3.exceptions.NewConnectionError):  # before TimeoutError: a subclass
        return _net(
            f"{where}: could not connect ({short(str(cause).rpartition(': ')[2])})", "connection"
        )
    if isinstance(cause, urllib3.exceptions.TimeoutError):
        return _net(timed_out, "timeout")
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


# --- receiving a pack ----------------------------------------------------------------------


def receive(
    repo: Repo,
    url: GitURL,
    determine_wants: WantsFn,
    depth: int | None,
    *,
    timeout: float,
    max_bytes: int,
) -> None:
    """Run one fetch: pack into a temp file, verify and add it, then update shallow.

    The shallow list changes only after the pack is in, and refs are the caller's last step,
    so a failure anywhere leaves the repository as it was (the temp file is always removed).
    """
    recorded: list[tuple[set[ObjectID] | None, set[ObjectID] | None]] = []
    walker = ObjectStoreGraphWalker(
        local_heads(repo),
        lambda sha: local_parents(repo, sha),
        shallow=repo.get_shallow(),
        update_shallow=lambda new, gone: recorded.append((new, gone)),
    )
    client, path = client_for(url, timeout)
    fd, tmp_name = tempfile.mkstemp(prefix="incoming-", suffix=".pack", dir=repo.controldir())
    try:
        with os.fdopen(fd, "w+b") as sink, transport_errors(url, "fetching", timeout):
            counter = _Counter(sink, max_bytes)
            try:
                result = _fetch_pack(client, path, determine_wants, walker, counter, depth)
            finally:
                client.close()
            if counter.pack_bytes:
                sink.seek(0)
                _add_pack(repo, sink, url)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp_name)
    recorded.append((result.new_shallow, result.new_unshallow))
    for new, gone in recorded:
        if new or gone:
            repo.update_shallow(new, gone)


def _fetch_pack(
    client: GitClient,
    path: str,
    determine_wants: WantsFn,
    walker: ObjectStoreGraphWalker,
    counter: _Counter,
    depth: int | None,
) -> FetchPackResult:
    wants = cast("DetermineWantsFunc", determine_wants)
    try:
        return client.fetch_pack(
            path, wants, walker, counter.pack, progress=counter.progress, depth=depth
        )
    except GitProtocolError as e:
        # A server without the shallow capability still serves a full fetch.
        if depth is None or "shallow capability" not in str(e) or counter.total:
            raise
    return client.fetch_pack(path, wants, walker, counter.pack, counter.progress)


class _Counter:
    """Writes pack bytes to the temp file and aborts once the transfer passes the cap."""

    def __init__(self, sink: BinaryIO, limit: int) -> None:
        self.sink, self.limit = sink, limit
        self.pack_bytes = 0
        self.total = 0

    def _count(self, n: int) -> None:
        self.total += n
        if self.total > self.limit:
            raise PackTooLarge(self.limit)

    def pack(self, data: bytes) -> int:
        self._count(len(data))
        self.pack_bytes += len(data)
        self.sink.write(data)
        return len(data)

    def progress(self, data: bytes) -> None:
        self._count(len(data))  # progress chatter is bounded too


def _add_pack(repo: Repo, sink: BinaryIO, url: GitURL) -> None:
    """Verify the received pack and move it into the object store, or leave no trace."""
    header = sink.read(12)
    if len(header) < 12 or not header.startswith(b"PACK"):
        raise IntegrityError(f"fetching {url.display}: expected a Git pack, got other data")
    if int.from_bytes(header[8:12], "big") == 0:
        return
    sink.seek(0)
    objects = Path(repo.controldir()) / "objects"
    # dulwich copies the pack to objects/tmp_pack_* and renames it in only once it verifies;
    # on failure that copy is left behind, so remove it.
    before = set(objects.glob("tmp_pack_*"))
    try:
        repo.object_store.add_thin_pack(sink.read, None)
    except Exception as e:
        for leftover in set(objects.glob("tmp_pack_*")) - before:
            with suppress(OSError):
                leftover.unlink()
        if isinstance(e, OSError):  # the disk, not the data
            raise StoreError(f"fetching {url.display}: writing the Git cache: {e}") from e
        raise IntegrityError(
            f"fetching {url.display}: the pack does not verify ({type(e).__name__}: "
            f"{short(str(e))})",
            hint="The server sent corrupt data; retry, and report it if it persists.",
        ) from None
