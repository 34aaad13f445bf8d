"""Git over HTTP as people actually serve it (docs/network.md): a static "dumb" server,
git's own ``git http-backend``, and HTTPS with a private CA.

All servers are real and listen on 127.0.0.1 only (tests/netservers.py); the CA and the
server certificate are made by the ``openssl`` command for each test session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hxpm.errors import NetworkError
from hxpm.index import git as hgit
from hxpm.index.urls import normalise_git_url
from hxpm.transport import download
from tests.netservers import (
    HttpBackendServer,
    PrivateCA,
    StaticHTTPServer,
    TLSGitHTTPServer,
    make_private_ca,
    update_server_info,
)

CA_VARS = (
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
)


@pytest.fixture
def index_repo(git_publish, git_served: Path) -> tuple[str, Path]:
    """An index repository (config.json, experts/) with two commits, published bare."""
    from hxpm.index.config import IndexConfig

    config = IndexConfig.new("main", "test index").to_bytes()
    git_publish("idx", {"config.json": config, "experts/.keep": b""}, message="create")
    commit = git_publish("idx", {"README.md": b"# main\n"}, message="readme")
    return commit, git_served / "idx.git"


@pytest.fixture(autouse=True)
def _no_ca_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CA_VARS:
        monkeypatch.delenv(name, raising=False)


# --- dumb HTTP -------------------------------------------------------------------------------


def test_index_add_and_update_over_dumb_http(cli, index_repo, git_publish, git_served):
    commit, bare = index_repo
    update_server_info(bare)
    with StaticHTTPServer(git_served) as server:
        r = cli("index", "add", "main", server.url_for("idx.git"), "--json")
        assert r.code == 0, r.err
        assert r.json()["index"]["commit"] == commit  # HEAD read from the HEAD file

        newer = git_publish("idx", {"NOTES": b"more\n"}, message="notes")
        update_server_info(bare)
        r = cli("index", "update", "main", "--json")
        assert r.code == 0, r.err
        [u] = r.json()["updates"]
        assert (u["previous"], u["index"]["commit"]) == (commit, newer)


def test_tags_over_dumb_http(index_repo, git_publish, git_served, tmp_path):
    """ls-remote and fetching a tag (what `install URL` does) work on a static server."""
    _, bare = index_repo
    tagged = git_publish("idx", {"v": b"1\n"}, tag="v1.0.0", annotated=True)
    update_server_info(bare)
    with StaticHTTPServer(git_served) as server:
        url = normalise_git_url(server.url_for("idx.git"))
        refs = hgit.ls_remote(url)
        assert refs["refs/tags/v1.0.0"] == tagged and refs["HEAD"] == tagged
        assert hgit.fetch(url, tmp_path / "cache", ref="v1.0.0") == tagged
        assert hgit.read_file(tmp_path / "cache", tagged, "v", max_bytes=10) == b"1\n"


def test_dumb_server_without_server_info_is_not_found(cli, index_repo, git_served):
    with StaticHTTPServer(git_served) as server:  # no update-server-info: no info/refs
        r = cli("index", "add", "main", server.url_for("idx.git"))
    assert r.code == 4 and "Traceback" not in r.err
    assert cli("index", "list", "--json").json()["indexes"] == []


# --- git http-backend (smart HTTP, git's own server) -----------------------------------------


def test_index_add_over_git_http_backend(cli, index_repo, git_served):
    commit, _ = index_repo
    with HttpBackendServer(git_served) as server:
        r = cli("index", "add", "main", server.url_for("idx.git"), "--json")
    assert r.code == 0, r.err
    assert r.json()["index"]["commit"] == commit


# --- HTTPS with a private CA -----------------------------------------------------------------


@pytest.fixture(scope="session")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    return make_private_ca(tmp_path_factory.mktemp("ca"))


def test_untrusted_private_ca_fails_with_a_hint_naming_the_variables(
    cli, index_repo, git_served, private_ca
):
    with TLSGitHTTPServer(git_served, private_ca) as server:
        r = cli("index", "add", "main", server.url_for("idx.git"), "--json")
    assert r.code == 6, r.out
    err = r.json()
    assert err["details"]["reason"] == "certificate"
    assert "certificate" in err["message"]
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO"):
        assert name in err["hint"]
    assert cli("index", "list", "--json").json()["indexes"] == []


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO"])
def test_each_ca_variable_makes_https_work(
    cli, index_repo, git_served, private_ca, monkeypatch, variable
):
    commit, _ = index_repo
    monkeypatch.setenv(variable, str(private_ca.ca_pem))
    with TLSGitHTTPServer(git_served, private_ca) as server:
        r = cli("index", "add", "main", server.url_for("idx.git"), "--json")
    assert r.code == 0, r.err
    assert r.json()["index"]["commit"] == commit


def test_git_ssl_cainfo_wins_over_requests_ca_bundle(
    cli, index_repo, git_served, private_ca, monkeypatch, tmp_path
):
    other = make_private_ca(tmp_path / "other-ca")  # a CA that did not sign the server
    monkeypatch.setenv("GIT_SSL_CAINFO", str(other.ca_pem))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(private_ca.ca_pem))
    with TLSGitHTTPServer(git_served, private_ca) as server:
        r = cli("index", "add", "main", server.url_for("idx.git"), "--json")
        assert r.code == 6 and r.json()["details"]["reason"] == "certificate"
        monkeypatch.setenv("GIT_SSL_CAINFO", str(private_ca.ca_pem))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other.ca_pem))
        assert cli("index", "add", "main", server.url_for("idx.git")).code == 0


def test_a_ca_variable_naming_a_missing_file_is_a_usage_error(
    cli, index_repo, git_served, private_ca, monkeypatch, tmp_path
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "nope.pem"))
    with TLSGitHTTPServer(git_served, private_ca) as server:
        r = cli("index", "add", "main", server.url_for("idx.git"), "--json")
    assert r.code == 2
    assert "REQUESTS_CA_BUNDLE" in r.json()["message"] and "nope.pem" in r.json()["message"]


def test_release_asset_downloads_use_the_same_ca_rules(
    git_served, private_ca, monkeypatch, tmp_path
):
    (git_served / "asset.bin").write_bytes(b"payload")
    with StaticHTTPServer(git_served, private_ca) as server:
        url = server.url_for("asset.bin")
        with pytest.raises(NetworkError) as info:
            download(url, tmp_path / "a", max_bytes=100)
        assert info.value.details["reason"] == "certificate"
        assert "GIT_SSL_CAINFO" in (info.value.hint or "")
        monkeypatch.setenv("GIT_SSL_CAINFO", str(private_ca.ca_pem))
        digest = download(url, tmp_path / "a", max_bytes=100)
    assert (tmp_path / "a").read_bytes() == b"payload" and len(digest) == 64
    json.dumps(info.value.to_dict())  # the error is plain data


def test_install_by_name_from_an_index_on_a_dumb_server(
    tmp_path, git_served, cli, base_dir, monkeypatch
):
    """The whole flow where every repository (index and experts) is served as static files."""
    from tests.integration.distribution import serving_world

    server = StaticHTTPServer(git_served)
    with serving_world(tmp_path, git_served, cli, base_dir, monkeypatch, server) as w:
        w.release("expert-json", "0.4.1", keywords=["json"])
        for bare in git_served.glob("*.git"):
            update_server_info(bare)
        home = w.user(tmp_path / "user")
        r = w.run(home, "install", "expert-json", "--json")
        assert r.code == 0, r.err
        [e] = w.run(home, "list", "--json").json()["experts"]
        assert (e["name"], e["version"], e["signed"]) == ("expert-json", "0.4.1", True)
        r = w.run(home, "install", server.url_for("expert-json.git") + "#v0.4.1", "--json")
        assert r.code == 0, r.err
