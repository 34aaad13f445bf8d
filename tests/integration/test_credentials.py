"""Credentials are used, never stored or shown (issue 8 item 6; docs/network.md).

Real servers on 127.0.0.1 that demand HTTP Basic auth: the project's smart-HTTP server and
git's own ``git http-backend``, both behind a Basic-auth check (tests/netservers.py). After
every step the whole HXPM_HOME (state database and its WAL, Git caches and their config,
index cache, blobs) is searched for the password, and so is everything hxpm printed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import pytest

from hxpm.index import git as hgit
from tests.integration.distribution import World, serving_world
from tests.netservers import AuthGitHTTPServer, HttpBackendServer

USER, SECRET = "alice", "SECRET-pw-7f3a"
NEEDLES = (SECRET.encode(), base64.b64encode(f"{USER}:{SECRET}".encode()), f"{USER}:".encode())


def secret_files(root: Path) -> list[str]:
    """Every file under ``root`` holding the password (plain, or as a Basic-auth token)."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and any(n in path.read_bytes() for n in NEEDLES):
            hits.append(str(path.relative_to(root)))
    return hits


def assert_clean(*outputs: str) -> None:
    for text in outputs:
        assert SECRET not in text and f"{USER}:" not in text, text


def with_credentials(url: str, user: str = USER, password: str = SECRET) -> str:
    return url.replace("http://", f"http://{user}:{password}@", 1)


def write_netrc(path: Path, host: str, *, password: str = SECRET, mode: int = 0o600) -> Path:
    path.write_text(f"machine {host}\n  login {USER}\n  password {password}\n")
    path.chmod(mode)
    return path


@pytest.fixture(autouse=True)
def _own_netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No netrc unless a test writes one; never the developer's own ~/.netrc."""
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))


@pytest.fixture
def index_repo(git_publish) -> str:
    from hxpm.index.config import IndexConfig

    config = IndexConfig.new("main", "private index").to_bytes()
    return git_publish("idx", {"config.json": config, "experts/.keep": b""}, message="create")


@pytest.fixture(params=["dulwich-web", "git-http-backend"])
def auth_server(request, git_served: Path) -> Iterator[AuthGitHTTPServer | HttpBackendServer]:
    if request.param == "dulwich-web":
        with AuthGitHTTPServer(git_served, user=USER, password=SECRET) as server:
            yield server
    else:
        with HttpBackendServer(git_served, user=USER, password=SECRET) as server:
            yield server


def test_index_add_with_url_credentials_stores_none_and_update_uses_netrc(
    cli, hxpm_home, tmp_path, index_repo, auth_server, git_publish
):
    url = auth_server.url_for("idx.git")
    r = cli("index", "add", "main", with_credentials(url))
    assert r.code == 0, r.err
    assert_clean(r.out, r.err)
    assert any(a and a.startswith("Basic ") for a in auth_server.auth_seen)

    listed = cli("index", "list", "--json")
    assert listed.json()["indexes"][0]["url"] == url  # the canonical URL, nothing else
    text = cli("index", "list")
    assert "127.0.0.1" in text.out
    assert_clean(listed.out, text.out, text.err)
    assert secret_files(hxpm_home) == []

    # A later call has only the stored URL: without a netrc entry the server says 401.
    newer = git_publish("idx", {"README.md": b"v2\n"})
    seen = len(auth_server.auth_seen)
    r = cli("index", "update", "main", "--json")
    assert r.code == 6, r.out
    err = r.json()
    assert err["error"] == "authentication", err
    assert err["details"]["host"].startswith("127.0.0.1")
    assert "netrc" in err["hint"] and str(tmp_path / "netrc") in err["hint"]
    assert "127.0.0.1" in err["hint"]
    assert auth_server.auth_seen[seen:] and not any(auth_server.auth_seen[seen:])
    assert_clean(r.out, r.err)

    write_netrc(tmp_path / "netrc", "127.0.0.1")
    r = cli("index", "update", "main", "--json")
    assert r.code == 0, r.out
    assert r.json()["updates"][0]["index"]["commit"] == newer
    assert_clean(r.out, r.err)
    assert secret_files(hxpm_home) == []


def test_wrong_password_is_an_authentication_error_that_keeps_nothing(
    cli, hxpm_home, index_repo, auth_server
):
    url = auth_server.url_for("idx.git")
    r = cli("index", "add", "main", with_credentials(url, password="WRONG-pw"), "--json")
    assert r.code == 6
    err = r.json()
    assert (
        err["error"] == "authentication"
        and "refused the credentials from the URL" in err["message"]
    )
    assert "WRONG-pw" not in r.out + r.err
    assert cli("index", "list", "--json").json()["indexes"] == []
    r = cli("index", "add", "main", with_credentials(url, password="WRONG-pw"))
    assert r.code == 6 and "WRONG-pw" not in r.out + r.err and "Traceback" not in r.err


def test_netrc_host_and_port_entry_wins_over_the_host_entry(cli, tmp_path, index_repo, git_served):
    with AuthGitHTTPServer(git_served, user=USER, password=SECRET) as server:
        netrc = tmp_path / "netrc"
        netrc.write_text(
            f"machine 127.0.0.1 login {USER} password WRONG\n"
            f"machine 127.0.0.1:{server.port} login {USER} password {SECRET}\n"
        )
        netrc.chmod(0o600)
        r = cli("index", "add", "main", server.url_for("idx.git"))
        assert r.code == 0, r.err
        # The port-less entry alone is what gets sent (and refused) without the port entry.
        netrc.write_text(f"machine 127.0.0.1 login {USER} password WRONG\n")
        r = cli("index", "update", "--json")
        assert r.code == 6 and str(netrc) in r.json()["message"]


def test_a_netrc_others_can_read_is_refused_before_sending_it(
    cli, tmp_path, index_repo, git_served
):
    write_netrc(tmp_path / "netrc", "127.0.0.1", mode=0o644)
    with AuthGitHTTPServer(git_served, user=USER, password=SECRET) as server:
        r = cli("index", "add", "main", server.url_for("idx.git"), "--json")
        assert server.auth_seen == []  # nothing was sent
    assert r.code == 2
    assert "chmod 600" in r.json()["hint"] and SECRET not in r.out


# --- installing from a credentialed Git URL --------------------------------------------------


@pytest.fixture
def private_world(tmp_path, git_served, cli, base_dir, monkeypatch) -> Iterator[World]:
    """The distribution world (tests/integration/distribution.py) behind Basic auth."""
    server = AuthGitHTTPServer(git_served, user=USER, password=SECRET)
    with serving_world(tmp_path, git_served, cli, base_dir, monkeypatch, server) as w:
        w.release("expert-json", "0.3.0", keywords=["json"])
        yield w


def test_install_from_a_credentialed_git_url_records_and_shows_no_secret(private_world, tmp_path):
    w = private_world
    home = w.user(tmp_path / "user", add_index=False)
    source = with_credentials(w.url_for("expert-json.git")) + "@^0.3"
    r = w.run(home, "install", source, "--json")
    assert r.code == 0, r.err
    outputs = [r.out, r.err]
    for args in (
        ("list",),
        ("list", "--json"),
        ("info", "expert-json"),
        ("info", "expert-json", "--json"),
    ):
        shown = w.run(home, *args)
        assert shown.code == 0, shown.err
        outputs += [shown.out, shown.err]
    assert_clean(*outputs)
    [e] = w.run(home, "list", "--json").json()["experts"]
    assert e["source"].endswith(f"{w.url_for('expert-json.git')}@v0.3.0"), e["source"]
    assert secret_files(home) == []


def test_lock_files_hold_urls_without_credentials(private_world, tmp_path):
    """An index line that carries credentials (written by hand into the index) does not
    pass them on into a lock file; ``install --locked`` then works with netrc."""
    w = private_world
    [line_file] = list((w.index_work / "experts").rglob("expert-json"))
    canonical = w.url_for("expert-json.git")
    line_file.write_text(line_file.read_text().replace(canonical, with_credentials(canonical)))
    hgit.commit_files(
        w.index_work, [line_file.relative_to(w.index_work).as_posix()], "credentials in a line"
    )
    w.sync_index()
    write_netrc(tmp_path / "netrc", "127.0.0.1")

    home = w.user(tmp_path / "user")
    lock = tmp_path / "hxpm.lock"
    r = w.run(home, "lock", "expert-json", "-o", lock)
    assert r.code == 0, r.err
    data = lock.read_text()
    assert SECRET not in data and canonical in data
    other = w.user(tmp_path / "other")
    r = w.run(other, "install", "--locked", lock)
    assert r.code == 0, r.err
    assert_clean(r.out, r.err, w.run(other, "list").out, w.run(other, "info", "expert-json").out)
    # Only the index's own data (its Git cache and the searchable copy of its lines) holds
    # what the index owner wrote; hxpm's records of the user's installs do not.
    assert all(p.startswith(("indexes/", "index-cache")) for p in secret_files(other)), (
        secret_files(other)
    )


def test_publish_never_writes_credentials_into_an_index(private_world, tmp_path):
    w = private_world
    work = tmp_path / "work" / "expert-json"
    second = tmp_path / "second-index"
    assert w.run(w.publisher_home, "index", "init", second, "--name", "second").code == 0
    r = w.run(
        w.publisher_home,
        "publish",
        work,
        "--index",
        second,
        "--url",
        with_credentials(w.url_for("expert-json.git")),
        "--json",
    )
    assert r.code == 0, r.err
    assert json.loads(r.json()["line"])["source"]["git"] == w.url_for("expert-json.git")
    assert_clean(r.out, r.err)
    assert secret_files(second) == []


# --- release-asset downloads -----------------------------------------------------------------


class _Recorder:
    """Two plain HTTP servers: ``a`` redirects /asset to ``b``, which serves it."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[tuple[str, str | None]] = []
        seen = self.seen
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                seen.append(
                    (
                        f"{self.server.server_address[1]}{self.path}",
                        self.headers.get("Authorization"),
                    )
                )
                if self.server is recorder.a and self.headers.get("Authorization") is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="x"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.server is recorder.a:
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{recorder.b.server_port}/b")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", "5")
                    self.end_headers()
                    self.wfile.write(b"bytes")

        self.a = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.b = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def __enter__(self) -> Self:
        import threading

        for server in (self.a, self.b):
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
            ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self.a, self.b):
            server.shutdown()
            server.server_close()


def test_downloads_send_credentials_to_their_host_only(tmp_path):
    from hxpm.errors import AuthenticationError
    from hxpm.transport import download

    with _Recorder() as servers:
        url = f"http://127.0.0.1:{servers.a.server_port}/asset"
        with pytest.raises(AuthenticationError) as info:
            download(url, tmp_path / "x", max_bytes=10)
        assert "netrc" in (info.value.hint or "") and info.value.exit_code == 6

        download(with_credentials(url), tmp_path / "x", max_bytes=10)
        assert (tmp_path / "x").read_bytes() == b"bytes"
        sent = dict(servers.seen[1:])
        assert sent[f"{servers.a.server_port}/asset"] == "Basic " + NEEDLES[1].decode()
        assert sent[f"{servers.b.server_port}/b"] is None  # not across the redirect

        # Without credentials in the URL, the netrc entry for the host is what goes.
        write_netrc(tmp_path / "netrc", "127.0.0.1")
        del servers.seen[:]
        download(url, tmp_path / "y", max_bytes=10)
        assert servers.seen[0][1] == "Basic " + NEEDLES[1].decode()
        assert servers.seen[1][1] is None
