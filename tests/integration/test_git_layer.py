"""hxpm's Git layer against real servers on 127.0.0.1: dulwich's smart HTTP server, the real
``git daemon`` and file:// (hxpm/index/git.py, docs/architecture.md §5)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from dulwich.client import SSHGitClient
from dulwich.objects import ObjectID
from dulwich.repo import Repo

from hxpm.errors import IntegrityError, NetworkError, NotFoundError, UsageError
from hxpm.index import _gitlocal, _gitwire
from hxpm.index import git as hgit
from hxpm.index.git import FetchLimits
from hxpm.index.urls import GitURL, normalise_git_url
from tests.gitserver import (
    GitDaemon,
    GitHTTPServer,
    StallingServer,
    free_port,
    reset_branch,
    tree_snapshot,
)

if TYPE_CHECKING:  # imported for real by tests/conftest.py's pytest_plugins (assert rewriting)
    from tests.git_fixtures import Publish, Served

BIG = 64 * 1024


def url(text: str) -> GitURL:
    return normalise_git_url(text)


def blob(seed: int, size: int = BIG) -> bytes:
    # Incompressible, so pack sizes tell which blobs travelled.
    return os.urandom(size) if seed < 0 else (bytes([seed]) * 16 + os.urandom(size - 16))


def pack_objects(cache: Path) -> dict[str, int]:
    """Object count of each pack in the cache, by pack file name."""
    counts = {}
    for pack in sorted((cache / "objects" / "pack").glob("*.pack")):
        counts[pack.name] = int.from_bytes(pack.read_bytes()[8:12], "big")
    return counts


def shallow_commits(cache: Path) -> set[str]:
    path = cache / "shallow"
    return set(path.read_text().split()) if path.exists() else set()


# --- refs and fetching, on every transport --------------------------------------------------


def test_ls_remote_lists_branches_tags_and_peels_annotated_tags(
    git_remote: Served, git_publish: Publish
) -> None:
    c1 = git_publish("expert-a", {"a.txt": b"1"}, tag="v1.0.0", annotated=True)
    c2 = git_publish("expert-a", {"a.txt": b"2"}, tag="v1.1.0")
    refs = hgit.ls_remote(url(git_remote.url_for("expert-a.git")))
    assert refs["refs/tags/v1.0.0"] == c1  # annotated: the tag object is peeled to the commit
    assert refs["refs/tags/v1.1.0"] == c2
    assert refs["refs/heads/main"] == c2
    assert refs["HEAD"] == c2
    assert not any(name.endswith("^{}") for name in refs)


def test_shallow_fetch_of_a_tag_then_read_offline(
    git_remote: Served, git_publish: Publish, tmp_path: Path
) -> None:
    c1 = git_publish(
        "expert-a", {"a.txt": b"one\n", "dist/x.expert": blob(1)}, tag="v1.0.0", annotated=True
    )
    c2 = git_publish("expert-a", {"a.txt": b"two\n"}, tag="v1.1.0")
    cache = tmp_path / "cache"
    assert hgit.fetch(url(git_remote.url_for("expert-a.git")), cache, ref="v1.1.0") == c2
    assert shallow_commits(cache) == {c2}
    assert hgit.has_commit(cache, c2) and not hgit.has_commit(cache, c1)  # depth 1
    assert hgit.resolve_ref(cache, "v1.1.0") == c2
    assert hgit.resolve_ref(cache, "refs/tags/v1.1.0") == c2
    assert hgit.list_tree(cache, c2) == ["a.txt", "dist/x.expert"]
    assert hgit.read_file(cache, c2, "a.txt", max_bytes=100) == b"two\n"
    assert len(hgit.read_file(cache, c2, "dist/x.expert", max_bytes=BIG)) == BIG
    with pytest.raises(NotFoundError):
        hgit.resolve_ref(cache, "v1.0.0")  # never fetched


def test_fetch_branch_and_remote_head(
    git_remote: Served, git_publish: Publish, tmp_path: Path
) -> None:
    c1 = git_publish("expert-a", {"a.txt": b"1"})
    cache = tmp_path / "cache"
    remote = url(git_remote.url_for("expert-a.git"))
    assert hgit.fetch(remote, cache) == c1
    assert hgit.resolve_ref(cache, None) == c1
    assert hgit.fetch(remote, cache, ref="main") == c1
    assert hgit.resolve_ref(cache, "main") == c1
    assert hgit.resolve_ref(cache, "refs/heads/main") == c1


def test_fetch_exact_commits_tip_and_buried(
    git_remote: Served, git_publish: Publish, tmp_path: Path
) -> None:
    c1 = git_publish("expert-a", {"a.txt": b"1"})
    c2 = git_publish("expert-a", {"a.txt": b"2"}, tag="v2", annotated=True)
    c3 = git_publish("expert-a", {"a.txt": b"3"})
    remote = url(git_remote.url_for("expert-a.git"))
    assert hgit.fetch(remote, tmp_path / "tip", commit=c3) == c3
    assert hgit.fetch(remote, tmp_path / "tagged", commit=c2) == c2
    # c1 is no ref tip: servers that refuse such wants get a full fetch instead
    assert hgit.fetch(remote, tmp_path / "buried", commit=c1) == c1
    assert hgit.read_file(tmp_path / "buried", c1, "a.txt", max_bytes=10) == b"1"
    assert hgit.resolve_ref(tmp_path / "buried", c1) == c1  # recorded by id, offline
    with pytest.raises(NotFoundError):
        hgit.fetch(remote, tmp_path / "tip", commit="1" * 40)


def test_nonexistent_repository_and_missing_tag(
    git_remote: Served, git_publish: Publish, tmp_path: Path
) -> None:
    git_publish("expert-a", {"a.txt": b"1"}, tag="v1")
    with pytest.raises(NotFoundError):
        hgit.ls_remote(url(git_remote.url_for("nope.git")))
    with pytest.raises(NotFoundError) as info:
        hgit.fetch(url(git_remote.url_for("nope.git")), tmp_path / "c1")
    assert info.value.exit_code == 4
    assert not (tmp_path / "c1").exists()  # a failed first fetch leaves no cache
    with pytest.raises(NotFoundError, match="expected ref 'v9'"):
        hgit.fetch(url(git_remote.url_for("expert-a.git")), tmp_path / "c2", ref="v9")


# --- incremental updates ---------------------------------------------------------------------


def test_incremental_fetch_over_http_sends_only_new_objects(
    git_http: GitHTTPServer, git_publish: Publish, tmp_path: Path
) -> None:
    git_publish("idx", {"big.bin": blob(1), "experts/ex/pe/expert-a": b"v1\n"})
    remote, cache = url(git_http.url_for("idx.git")), tmp_path / "cache"
    first = hgit.fetch(remote, cache, depth=None)
    c2 = git_publish("idx", {"experts/ex/pe/expert-a": b"v1\nv2\n"})
    assert hgit.fetch(remote, cache, depth=None) == c2
    assert git_http.pack_bytes[0] > BIG
    assert git_http.pack_bytes[-1] < 2000  # the big blob did not travel again
    assert sorted(pack_objects(cache).values()) == [6, 7]  # then: a commit, 4 trees, 1 blob
    assert hgit.is_descendant(cache, first, c2)
    assert hgit.fetch(remote, cache, depth=None) == c2  # nothing new: no pack at all
    assert len(pack_objects(cache)) == 2


def test_incremental_fetch_into_shallow_cache_over_git_daemon(
    git_daemon_server: GitDaemon, git_publish: Publish, tmp_path: Path
) -> None:
    text = b"".join(b"expert-%d line\n" % i for i in range(4000))
    big = blob(1)
    c1 = git_publish("idx", {"big.bin": big, "experts/a": text}, tag="v1")
    cache = tmp_path / "cache"
    remote = url(git_daemon_server.url_for("idx.git"))
    assert hgit.fetch(remote, cache, ref="v1") == c1
    assert shallow_commits(cache) == {c1}
    first_packs = set((cache / "objects" / "pack").glob("*.pack"))
    git_publish("idx", {"experts/a": text + b"v2\n"})
    c3 = git_publish("idx", {"experts/b": b"1\n"}, tag="v3")
    assert hgit.fetch(remote, cache, ref="v3") == c3
    # Only new objects travelled: the new pack (a thin pack, completed on arrival) does not
    # hold the big blob, and the changed file arrived as a delta that resolves correctly.
    big_id = ObjectID(hashlib.sha1(b"blob %d\0" % len(big) + big).hexdigest().encode())
    with Repo(str(cache)) as repo:
        assert big_id in repo.object_store
        new = [p for p in repo.object_store.packs if Path(p.data.path) not in first_packs]
        assert new and all(big_id not in p for p in new)
    assert hgit.read_file(cache, c3, "experts/a", max_bytes=10**6) == text + b"v2\n"
    assert hgit.is_descendant(cache, c1, c3)  # the history between was filled in
    assert shallow_commits(cache) == {c1}
    assert hgit.changed_paths(cache, c1, c3) == ["experts/a", "experts/b"]


def test_update_of_shallow_cache_over_dulwich_http_is_complete(
    git_http: GitHTTPServer, git_publish: Publish, tmp_path: Path
) -> None:
    # dulwich's server refuses shallow negotiation without deepen: hxpm re-fetches at depth.
    c1 = git_publish("r", {"a": b"1", "big.bin": blob(2)}, tag="v1")
    remote, cache = url(git_http.url_for("r.git")), tmp_path / "cache"
    hgit.fetch(remote, cache, ref="v1")
    c2 = git_publish("r", {"a": b"2"}, tag="v2")
    assert hgit.fetch(remote, cache, ref="v2") == c2
    assert hgit.read_file(cache, c2, "a", max_bytes=10) == b"2"
    assert hgit.list_tree(cache, c2) == ["a", "big.bin"]
    assert hgit.is_descendant(cache, c1, c2)  # parent present: one step is visible


# --- reading, diffing, ancestry ---------------------------------------------------------------


def test_list_tree_changed_paths_and_read_file_limits(
    git_publish: Publish, git_served: Path, tmp_path: Path
) -> None:
    text = b"".join(b"line %d of the index file\n" % i for i in range(3000))
    c1 = git_publish(
        "idx",
        {"config.json": b"{}", "experts/ex/pe/expert-a": text, "experts/1/x": b"x", "README": b"r"},
    )
    c2 = git_publish(
        "idx",
        {
            "experts/ex/pe/expert-a": text + b"more\n",
            "experts/1/x": None,
            "experts/2/ab": b"ab",
            "README": b"r2",
        },
    )
    cache = tmp_path / "cache"
    hgit.fetch(url((git_served / "idx.git").as_uri()), cache, ref="main", depth=None)
    assert hgit.list_tree(cache, c1, "experts") == ["experts/1/x", "experts/ex/pe/expert-a"]
    assert hgit.list_tree(cache, c2, "experts/") == ["experts/2/ab", "experts/ex/pe/expert-a"]
    assert hgit.list_tree(cache, c2, "nothing/here") == []
    assert hgit.changed_paths(cache, c1, c2) == [
        "README",
        "experts/1/x",
        "experts/2/ab",
        "experts/ex/pe/expert-a",
    ]
    assert hgit.changed_paths(cache, c1, c2, "experts") == [
        "experts/1/x",
        "experts/2/ab",
        "experts/ex/pe/expert-a",
    ]
    assert hgit.changed_paths(cache, c1, c1) == []
    with pytest.raises(IntegrityError, match="expected at most 1000 bytes"):
        hgit.read_file(cache, c2, "experts/ex/pe/expert-a", max_bytes=1000)
    for bad in ("experts/1/x", "experts", "../config.json", "/config.json"):
        with pytest.raises((NotFoundError, UsageError)):
            hgit.read_file(cache, c2, bad, max_bytes=1000)
    with pytest.raises(NotFoundError):
        hgit.list_tree(cache, "0" * 40)


def test_object_sizes_come_from_headers_including_deltas(
    git_daemon_server: GitDaemon, git_publish: Publish, tmp_path: Path
) -> None:
    text = b"".join(b"row %d\n" % i for i in range(5000))
    git_publish("r", {"f": text})
    git_publish("r", {"f": text + b"tail\n"})
    cache = tmp_path / "cache"
    hgit.fetch(url(git_daemon_server.url_for("r.git")), cache, depth=None)
    with Repo(str(cache)) as repo:
        shas = list(repo.object_store)
        sizes = {sha: _gitlocal.object_size(repo, sha) for sha in shas}
        assert all(sizes[sha] == len(repo.object_store[sha].as_raw_string()) for sha in shas)


def test_is_descendant_detects_force_push_rewrite(
    git_http: GitHTTPServer, git_publish: Publish, tmp_path: Path
) -> None:
    c1 = git_publish("idx", {"a": b"1"})
    c2 = git_publish("idx", {"a": b"2"})
    remote, cache = url(git_http.url_for("idx.git")), tmp_path / "cache"
    assert hgit.fetch(remote, cache, depth=None) == c2
    reset_branch(tmp_path / "git-work" / "idx", c1)  # rewrite history, then force-push
    c3 = git_publish("idx", {"a": b"evil"})
    assert hgit.fetch(remote, cache, depth=None) == c3
    assert hgit.resolve_ref(cache, None) == c3
    assert not hgit.is_descendant(cache, c2, c3)  # rollback: refuse this update
    assert hgit.is_descendant(cache, c1, c3)
    assert hgit.is_descendant(cache, c3, c3)
    assert not hgit.is_descendant(cache, c3, c1)


def test_is_descendant_on_shallow_cache_stops_at_the_boundary(
    git_http: GitHTTPServer, git_publish: Publish, tmp_path: Path
) -> None:
    c1 = git_publish("idx", {"a": b"1"})
    c2 = git_publish("idx", {"a": b"2"})
    c3 = git_publish("idx", {"a": b"3"})
    cache = tmp_path / "cache"
    assert hgit.fetch(url(git_http.url_for("idx.git")), cache, depth=2) == c3
    assert shallow_commits(cache) == {c2}
    assert hgit.is_descendant(cache, c2, c3)
    assert not hgit.is_descendant(cache, c1, c3)  # beyond the boundary: not provable
    with pytest.raises(NotFoundError):
        hgit.is_descendant(cache, c3, c1)  # `new` must be in the cache


# --- failures leave the cache as it was ------------------------------------------------------


def test_server_stopping_mid_pack_raises_network_error_and_keeps_cache(
    git_http: GitHTTPServer, git_publish: Publish, tmp_path: Path
) -> None:
    git_publish("r", {"big.bin": blob(1)}, tag="v1")
    remote, cache = url(git_http.url_for("r.git")), tmp_path / "cache"
    git_http.cut_pack_after = 4000
    with pytest.raises(NetworkError, match="ended early") as info:
        hgit.fetch(remote, cache, ref="v1")
    assert info.value.exit_code == 6
    assert not cache.exists()
    git_http.cut_pack_after = None
    hgit.fetch(remote, cache, ref="v1", depth=None)
    before = tree_snapshot(cache)
    git_publish("r", {"big2.bin": blob(2)}, tag="v2")
    git_http.cut_pack_after = 4000
    with pytest.raises(NetworkError):
        hgit.fetch(remote, cache, ref="v2")
    assert tree_snapshot(cache) == before
    git_http.cut_pack_after = None
    assert hgit.fetch(remote, cache, ref="v2") == hgit.ls_remote(remote)["refs/tags/v2"]


def test_pack_over_max_pack_bytes_is_refused_and_cache_kept(
    git_http: GitHTTPServer, git_publish: Publish, tmp_path: Path
) -> None:
    git_publish("r", {"a": b"1"}, tag="v1")
    remote, cache = url(git_http.url_for("r.git")), tmp_path / "cache"
    hgit.fetch(remote, cache, ref="v1")
    before = tree_snapshot(cache)
    git_publish("r", {"big.bin": blob(3)}, tag="v2")
    with pytest.raises(NetworkError, match=f"expected at most {BIG // 2} bytes"):
        hgit.fetch(remote, cache, ref="v2", limits=FetchLimits(max_pack_bytes=BIG // 2))
    assert tree_snapshot(cache) == before
    with pytest.raises(NetworkError):
        hgit.fetch(remote, tmp_path / "fresh", limits=FetchLimits(max_pack_bytes=BIG // 2))
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize("scheme", ["http", "git"])
def test_timeout_against_a_server_that_never_answers(scheme: str, tmp_path: Path) -> None:
    with StallingServer() as server:
        remote = url(f"{scheme}://127.0.0.1:{server.port}/r.git")
        start = time.monotonic()
        with pytest.raises(NetworkError, match="timed out") as info:
            hgit.fetch(remote, tmp_path / "cache", limits=FetchLimits(timeout_s=0.5))
        assert time.monotonic() - start < 3.0
        assert info.value.details["reason"] == "timeout"
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("scheme", ["http", "git"])
def test_connection_refused_is_a_network_error(scheme: str) -> None:
    with pytest.raises(NetworkError, match="refused"):
        hgit.ls_remote(url(f"{scheme}://127.0.0.1:{free_port()}/r.git"))


def test_argument_errors(tmp_path: Path) -> None:
    remote = url("https://example.invalid/r.git")
    with pytest.raises(UsageError, match="either ref or commit"):
        hgit.fetch(remote, tmp_path / "c", ref="v1", commit="a" * 40)
    with pytest.raises(UsageError, match="depth"):
        hgit.fetch(remote, tmp_path / "c", depth=0)
    with pytest.raises(UsageError):
        hgit.fetch(remote, tmp_path / "c", ref="-x")
    with pytest.raises(UsageError):
        hgit.has_commit(tmp_path, "xyz")
    with pytest.raises(NotFoundError, match="expected a Git repository"):
        hgit.resolve_ref(tmp_path / "none", "v1")
    assert not hgit.has_commit(tmp_path / "none", "a" * 40)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file").write_text("x")
    with pytest.raises(Exception, match="expected an empty folder"):
        hgit.fetch(remote, tmp_path / "junk")


def test_ssh_urls_are_wired_without_connecting() -> None:
    client, path = _gitwire.client_for(url("git@git.example.org:team/r.git"), 7.0)
    assert isinstance(client, SSHGitClient)
    assert (client.host, client.username, client.port, path) == (
        "git.example.org",
        "git",
        None,
        "team/r.git",
    )
    assert "ConnectTimeout=7" in client.ssh_command or "GIT_SSH_COMMAND" in os.environ
    client, path = _gitwire.client_for(url("ssh://deploy@git.example.org:2222/srv/r.git"), 7.0)
    assert isinstance(client, SSHGitClient)
    assert (client.host, client.username, client.port, path) == (
        "git.example.org",
        "deploy",
        2222,
        "/srv/r.git",
    )


# --- local working repositories ----------------------------------------------------------------


def test_local_repository_helpers(tmp_path: Path) -> None:
    work = tmp_path / "w"
    hgit.init_repo(work)
    with pytest.raises(UsageError):
        hgit.init_repo(work)
    with pytest.raises(NotFoundError, match="empty repository"):
        hgit.head_commit(work)
    (work / "experts" / "ex").mkdir(parents=True)
    (work / "experts" / "ex" / "expert-a").write_bytes(b"v1\n")
    (work / "config.json").write_bytes(b"{}")
    (work / "untracked.txt").write_bytes(b"u")
    c1 = hgit.commit_files(work, ["config.json", "experts/ex/expert-a"], "index: add expert-a")
    assert hgit.head_commit(work) == c1
    assert hgit.is_worktree_clean(work)  # untracked files do not count
    hgit.create_tag(work, "v1", message="release v1")
    hgit.create_tag(work, "light")
    assert hgit.tags_pointing_at(work, c1) == ["light", "v1"]
    with pytest.raises(UsageError, match="existing"):
        hgit.create_tag(work, "v1")
    (work / "config.json").write_bytes(b'{"x":1}')
    assert not hgit.is_worktree_clean(work)
    (work / "experts" / "ex" / "expert-a").unlink()
    c2 = hgit.commit_files(
        work, ["config.json", "experts/ex/expert-a"], "second", author="Ann <ann@example.org>"
    )
    assert hgit.is_worktree_clean(work)
    assert hgit.tags_pointing_at(work, c2) == []
    with pytest.raises(UsageError):
        hgit.commit_files(work, ["../escape"], "x")
    with pytest.raises(UsageError, match="exist or be tracked"):
        hgit.commit_files(work, ["missing.txt"], "x")
    with pytest.raises(UsageError, match="author"):
        hgit.commit_files(work, ["config.json"], "x", author="nobody")
    bare = tmp_path / "bare.git"
    hgit.init_repo(bare, bare=True)
    assert (bare / "HEAD").read_text().strip() == "ref: refs/heads/main"
    git = shutil.which("git")
    if git is not None:  # the real git agrees with what we wrote

        def run(*args: str) -> str:
            done = subprocess.run(
                [git, "-C", str(work), *args], capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert run("rev-parse", "HEAD").strip() == c2
        assert run("ls-files").split() == ["config.json"]
        assert "Ann <ann@example.org>" in run("log", "-1", "--format=%an <%ae>")
        assert run("status", "--porcelain").split() == ["??", "untracked.txt"]
        subprocess.run([git, "-C", str(work), "fsck", "--strict"], check=True, capture_output=True)
        assert run("cat-file", "-t", "v1").strip() == "tag"


def test_remote_url_reads_the_repository_config(tmp_path: Path) -> None:
    work = tmp_path / "w"
    hgit.init_repo(work)
    with Repo(str(work)) as repo:
        config = repo.get_config()
        config.set((b"remote", b"origin"), b"url", b"https://git.example.org/team/r.git")
        config.set((b"remote", b"origin"), b"fetch", b"+refs/heads/*:refs/remotes/origin/*")
        config.set((b"remote", b"mirror"), b"url", b"git@mirror.example.org:team/r.git")
        config.write_to_path()
    assert hgit.remote_url(work) == "https://git.example.org/team/r.git"
    assert hgit.remote_url(work, "origin") == "https://git.example.org/team/r.git"
    assert hgit.remote_url(work, "mirror") == "git@mirror.example.org:team/r.git"
    assert hgit.remote_url(work, "upstream") is None


def test_remote_url_without_remotes_or_repository(tmp_path: Path) -> None:
    work, bare = tmp_path / "w", tmp_path / "bare.git"
    hgit.init_repo(work)
    hgit.init_repo(bare, bare=True)
    assert hgit.remote_url(work) is None
    assert hgit.remote_url(bare) is None
    with Repo(str(work)) as repo:  # a bare [remote] section is not remote "origin"
        config = repo.get_config()
        config.set((b"remote",), b"url", b"https://stray.example.org/r.git")
        config.write_to_path()
    assert hgit.remote_url(work) is None
    with pytest.raises(NotFoundError, match="expected a Git repository"):
        hgit.remote_url(tmp_path / "nothing")


# --- confinement -------------------------------------------------------------------------------


def test_only_the_git_layer_imports_dulwich() -> None:
    root = Path(__file__).parents[2] / "hxpm"
    pattern = re.compile(r"^\s*(from|import)\s+dulwich\b", re.MULTILINE)
    users = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    )
    # git.py and its private helpers (index/_git*.py), nothing else.
    assert "index/git.py" in users
    assert all(re.fullmatch(r"index/(git|_git[a-z]+)\.py", u) for u in users), users
