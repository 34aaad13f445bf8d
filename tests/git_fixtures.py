"""pytest fixtures for real Git servers on 127.0.0.1 (see tests/gitserver.py).

Enable everywhere with ``pytest_plugins = ["tests.git_fixtures"]`` in tests/conftest.py.

- ``git_served``: the folder whose bare repositories the servers serve.
- ``git_publish``: ``publish(name, files, tag=..., annotated=..., message=...) -> commit``
  commits into a working repository ``<tmp>/git-work/<name>`` and mirrors it to
  ``git_served/<name>.git`` (a force-push when history was rewritten).
- ``git_http``: a :class:`GitHTTPServer` over ``git_served``.
- ``git_daemon_server``: a real ``git daemon`` over ``git_served`` (skips without git).
- ``git_remote``: parametrised over ``http``, ``git`` (daemon) and ``file``; gives a
  :class:`Served` whose ``url_for(name)`` is that repository's URL on that transport.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gitserver import GitDaemon, GitHTTPServer, git_daemon, make_repo, mirror

Publish = Callable[..., str]


@dataclass(frozen=True, slots=True)
class Served:
    """One transport serving ``git_served``: ``kind`` is ``http``, ``git`` or ``file``."""

    kind: str
    root: Path
    http: GitHTTPServer | None = None
    daemon: GitDaemon | None = None

    def url_for(self, name: str) -> str:
        if self.http is not None:
            return self.http.url_for(name)
        if self.daemon is not None:
            return self.daemon.url_for(name)
        return (self.root / name).as_uri()


@pytest.fixture
def git_served(tmp_path: Path) -> Path:
    root = tmp_path / "git-served"
    root.mkdir()
    return root


@pytest.fixture
def git_publish(tmp_path: Path, git_served: Path) -> Publish:
    def publish(
        name: str,
        files: dict[str, bytes | None],
        *,
        tag: str | None = None,
        annotated: bool = False,
        message: str = "update",
    ) -> str:
        work = tmp_path / "git-work" / name
        commit = make_repo(work, files, tag=tag, annotated=annotated, message=message)
        mirror(work, git_served / f"{name}.git")
        return commit

    return publish


@pytest.fixture
def git_http(git_served: Path) -> Iterator[GitHTTPServer]:
    with GitHTTPServer(git_served) as server:
        yield server


@pytest.fixture
def git_daemon_server(git_served: Path) -> Iterator[GitDaemon]:
    with git_daemon(git_served) as daemon:
        yield daemon


@pytest.fixture(params=["http", "git", "file"])
def git_remote(request: pytest.FixtureRequest, git_served: Path) -> Iterator[Served]:
    if request.param == "http":
        with GitHTTPServer(git_served) as server:
            yield Served("http", git_served, http=server)
    elif request.param == "git":
        with git_daemon(git_served) as daemon:
            yield Served("git", git_served, daemon=daemon)
    else:
        yield Served("file", git_served)
