"""Real Git servers on 127.0.0.1 and test repositories, for any test that needs Git.

- :class:`GitHTTPServer` serves every bare repository under a folder over smart HTTP
  (``dulwich.web``) in a thread; it can cut the connection in the middle of a pack and it
  counts the pack bytes it sends.
- :func:`git_daemon` runs the real ``git daemon`` (skips the test when git is missing).
- :class:`StallingServer` accepts connections and never answers (timeout tests).
- :func:`make_repo`, :func:`mirror` / :func:`bare_clone`: build working repositories with
  hxpm's own Git layer and publish them as bare repositories under a served folder.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Self
from wsgiref.simple_server import make_server

import pytest
from dulwich.objects import ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo
from dulwich.server import FileSystemBackend
from dulwich.web import WSGIRequestHandlerLogger, WSGIServerLogger, make_wsgi_chain

from hxpm.index import git as hgit

HOST = "127.0.0.1"


class _ConnectionCut(Exception):
    """Raised inside the WSGI app to drop the connection mid-response."""


class _RootBackend(FileSystemBackend):
    """dulwich.web passes "/name.git"; look it up below the root instead of at "/"."""

    def open_repository(self, path: str | bytes) -> Any:
        name = path.decode() if isinstance(path, bytes) else str(path)
        return super().open_repository(name.lstrip("/"))


class _ThreadingServer(ThreadingMixIn, WSGIServerLogger):
    daemon_threads = True
    allow_reuse_address = True


class GitHTTPServer:
    """Smart-HTTP Git server for every bare repository under ``root``.

    Attributes:
        cut_pack_after: When set, a ``git-upload-pack`` response is cut off (connection
            closed) after this many body bytes: a server that stops mid-pack.
        pack_bytes: Body bytes of every ``git-upload-pack`` response sent, in order.
        requests: ``"METHOD /path"`` of every request served.
    """

    def __init__(self, root: Path, *, cut_pack_after: int | None = None) -> None:
        self.root = Path(root)
        self.cut_pack_after = cut_pack_after
        self.pack_bytes: list[int] = []
        self.requests: list[str] = []
        self._app = make_wsgi_chain(_RootBackend(str(self.root)))
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "use GitHTTPServer as a context manager"
        return int(self._server.server_address[1])

    def url_for(self, repo_name: str) -> str:
        """``http://127.0.0.1:PORT/<repo_name>`` for a repository under ``root``."""
        return f"http://{HOST}:{self.port}/{repo_name}"

    def __enter__(self) -> Self:
        self._server = make_server(
            HOST,
            0,
            self._wsgi,
            server_class=_ThreadingServer,
            handler_class=WSGIRequestHandlerLogger,
        )
        # A short poll interval: shutdown() waits for it (the default 0.5 s adds up in tests).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.requests.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        if not environ["PATH_INFO"].endswith("/git-upload-pack"):
            return self._app(environ, start_response)
        index = len(self.pack_bytes)
        self.pack_bytes.append(0)
        limit = self.cut_pack_after

        def counting_start(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            write = start_response(status, headers, exc_info)

            def counting_write(data: bytes) -> Any:
                sent = self.pack_bytes[index]
                if limit is not None and sent + len(data) > limit:
                    write(data[: max(0, limit - sent)])
                    self.pack_bytes[index] = limit
                    raise _ConnectionCut  # wsgiref closes the connection mid-body
                self.pack_bytes[index] = sent + len(data)
                return write(data)

            return counting_write

        return self._app(environ, counting_start)


@dataclass(frozen=True, slots=True)
class GitDaemon:
    """A running ``git daemon`` serving ``root``."""

    root: Path
    port: int

    def url_for(self, repo_name: str) -> str:
        return f"git://{HOST}:{self.port}/{repo_name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"git daemon exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"git daemon did not listen on {port} within {timeout}s")


@contextmanager
def git_daemon(root: Path) -> Iterator[GitDaemon]:
    """Run ``git daemon --export-all`` over ``root`` on 127.0.0.1; skip without git."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    for _ in range(3):  # the port may be taken between choosing it and binding it
        port = free_port()
        proc = subprocess.Popen(
            [
                git,
                "daemon",
                "--export-all",
                "--reuseaddr",
                f"--base-path={root}",
                f"--listen={HOST}",
                f"--port={port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port, proc)
            break
        except RuntimeError:
            proc.kill()
            proc.wait()
    else:
        raise RuntimeError("could not start git daemon")
    try:
        yield GitDaemon(Path(root), port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class StallingServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    port: int = 0
    _sock: socket.socket | None = None
    _held: list[socket.socket] = field(default_factory=list)
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Self:
        self._sock = socket.socket()
        self._sock.bind((HOST, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port = int(self._sock.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._held.append(conn)  # keep it open, say nothing

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for conn in self._held:
            conn.close()
        if self._sock is not None:
            self._sock.close()


# --- repositories --------------------------------------------------------------------------


def make_repo(
    path: Path,
    files: dict[str, bytes | None],
    *,
    tag: str | None = None,
    message: str = "update",
    annotated: bool = False,
) -> str:
    """Write ``files`` into the working repository at ``path`` (created when missing), commit
    them and optionally tag the commit; a ``None`` value deletes that file. Returns the commit.
    """
    path = Path(path)
    if not (path / ".git").exists():
        hgit.init_repo(path)
    for name, data in files.items():
        target = path / name
        if data is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    commit = hgit.commit_files(path, list(files), message)
    if tag is not None:
        hgit.create_tag(path, tag, commit, message=f"release {tag}" if annotated else None)
    return commit


def mirror(src: Path, dest: Path) -> Path:
    """Make the bare repository ``dest`` (created when missing) match ``src``: same objects,
    branches and tags, force-updated like ``git push --mirror``; HEAD follows ``src``."""
    dest = Path(dest)
    if not (dest / "HEAD").exists():
        dest.mkdir(parents=True, exist_ok=True)
        Repo.init_bare(str(dest)).close()
    with Repo(str(src)) as source, Repo(str(dest)) as target:
        source.fetch(target)
        wanted = {
            name: sha
            for name, sha in source.refs.as_dict().items()
            if name.startswith((b"refs/heads/", b"refs/tags/"))
        }
        for name in target.refs.as_dict():
            if name.startswith((b"refs/heads/", b"refs/tags/")) and name not in wanted:
                target.refs.remove_if_equals(name, None)
        for name, sha in wanted.items():
            target.refs[name] = sha
        head = source.refs.read_ref(Ref(b"HEAD")) or b""
        if head.startswith(b"ref: "):
            target.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(head[len(b"ref: ") :].strip()))
    return dest


def reset_branch(repo: Path, commit: str) -> None:
    """Point the current branch of ``repo`` at ``commit`` (like ``git reset --soft``), so the
    next commit rewrites history; :func:`mirror` then force-pushes it."""
    with Repo(str(repo)) as r:
        branch = (r.refs.read_ref(Ref(b"HEAD")) or b"")[len(b"ref: ") :].strip()
        r.refs[Ref(branch or b"HEAD")] = ObjectID(commit.encode("ascii"))


def bare_clone(src: Path, dest: Path) -> Path:
    """A fresh bare copy of ``src`` at ``dest`` (see :func:`mirror`)."""
    if Path(dest).exists():
        raise FileExistsError(dest)
    return mirror(src, dest)


def tree_snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes: compare before/after to prove nothing changed."""
    files = sorted(p for p in Path(path).rglob("*") if p.is_file())
    return {str(p.relative_to(path)): p.read_bytes() for p in files}
