"""A small Git world for distribution tests: expert repos and an index, served on 127.0.0.1.

Everything is made the way a publisher would: `hxpm package`, `hxpm sign`, a tagged commit,
`hxpm publish` into an index checkout, then the repos are mirrored to a loopback server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.factories import make_expert_dir
from tests.gitserver import make_repo, mirror


@dataclass
class World:
    tmp: Path
    served: Path
    url_for: Callable[[str], str]
    cli: Callable[..., Any]
    base_dir: Path
    base_digest: str
    publisher_home: Path
    public_key: str = ""
    index_work: Path = field(init=False)

    def __post_init__(self) -> None:
        self.index_work = self.tmp / "index-work"

    def as_home(self, home: Path) -> None:
        os.environ["HXPM_HOME"] = str(home)

    def run(self, home: Path, *args: Any) -> Any:
        self.as_home(home)
        return self.cli(*args)

    def setup_publisher(self) -> None:
        r = self.run(self.publisher_home, "key", "generate", "--name", "pub", "--json")
        assert r.code == 0, r.err
        self.public_key = r.json()["public_key"]
        r = self.run(self.publisher_home, "index", "init", self.index_work, "--name", "main")
        assert r.code == 0, r.err
        self.sync_index()

    def release(self, name: str, version: str, **manifest_kw: Any) -> str:
        """Build, sign, commit and tag one release of ``name``; publish it to the index."""
        manifest_kw.setdefault("bases", (("hxpm/tiny-qwen3", self.base_digest),))
        src = make_expert_dir(self.tmp / "src", name, version, **manifest_kw)
        h = self.publisher_home
        r = self.run(h, "package", src, "-o", src / "dist", "--json")
        assert r.code == 0, r.err
        pkg = Path(r.json()["packages"][0]["path"])
        assert self.run(h, "sign", pkg, "--key-name", "pub").code == 0
        files = {
            p.relative_to(src).as_posix(): p.read_bytes() for p in src.rglob("*") if p.is_file()
        }
        work = self.tmp / "work" / name
        commit = make_repo(work, files, tag=f"v{version}", message=f"release {version}")
        mirror(work, self.served / f"{name}.git")
        r = self.run(
            h,
            "publish",
            work,
            "--index",
            self.index_work,
            "--url",
            self.url_for(f"{name}.git"),
            "--json",
        )
        assert r.code == 0, r.err
        self.sync_index()
        return commit

    def sync_index(self) -> None:
        mirror(self.index_work, self.served / "main.git")

    def user(self, home: Path, *, trust: bool = True, add_index: bool = True) -> Path:
        assert self.run(home, "base", "add", "hxpm/tiny-qwen3", "--path", self.base_dir).code == 0
        if trust:
            r = self.run(home, "trust", "add", self.public_key, "--name", "pub")
            assert r.code == 0, r.err
        if add_index:
            r = self.run(home, "index", "add", "main", self.url_for("main.git"))
            assert r.code == 0, r.err
        return home


@contextmanager
def serving_world(
    tmp_path: Path,
    git_served: Path,
    cli: Callable[..., Any],
    base_dir: Path,
    monkeypatch: Any,
    server: Any = None,
) -> Iterator[World]:
    """A publisher with a key and an empty index, all served over HTTP on 127.0.0.1 by
    ``server`` (a started-on-enter test server over ``git_served``; default: smart HTTP)."""
    from hxpm.core.digest import base_model_digest
    from tests.gitserver import GitHTTPServer

    with server if server is not None else GitHTTPServer(git_served) as server:
        w = World(
            tmp_path,
            git_served,
            server.url_for,
            cli,
            base_dir,
            base_model_digest(base_dir),
            tmp_path / "publisher",
        )
        monkeypatch.setenv("HXPM_KEY_DIR", str(tmp_path / "publisher-keys"))
        w.setup_publisher()
        yield w
