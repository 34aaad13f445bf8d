"""hxpm.http, the one HTTP client for downloads (issue 11 item 4, issue 9 item 6).

Every test runs the real client (urllib3, or an injected Fetcher wrapping it) against real
servers on 127.0.0.1 (tests/httpservers.py): retries and Retry-After, the overall deadline,
redirects (an https->http downgrade refused, loops capped), proxies from the environment,
ETag revalidation, and downloads resumed with Range/If-Range, in-process and from a new
process, verified before they land.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from hxpm import http
from hxpm.errors import IntegrityError, NetworkError, NotFoundError, UsageError
from hxpm.netlimits import NetLimits
from tests.httpservers import AssetServer, ForwardProxy
from tests.netservers import PrivateCA, make_private_ca

FAST = http.RetryPolicy(retries=3, backoff_s=0.01, max_backoff_s=0.05)
DATA = bytes(range(256)) * 1024  # 256 KiB: several reads, cut in the middle below
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
CA_VARS = (
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in PROXY_VARS + tuple(v.lower() for v in PROXY_VARS) + CA_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in ("HXPM_NET_RETRIES", "HXPM_OFFLINE", "HXPM_NET_TIMEOUT", "HXPM_NET_DEADLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    return make_private_ca(tmp_path_factory.mktemp("ca"))


# --- retries -----------------------------------------------------------------------------------


def test_503_twice_then_served() -> None:
    with AssetServer() as server:
        server.add("index.json", b'{"ok": 1}')
        server.state.fail_next = [(503, None), (503, None)]
        got = http.get(server.url("index.json"), max_bytes=100, retry=FAST)
    assert got.body == b'{"ok": 1}' and got.status == 200
    assert [e.status for e in server.log] == [503, 503, 200]


def test_retry_after_is_honoured() -> None:
    with AssetServer() as server:
        server.add("f", b"x")
        server.state.fail_next = [(429, "1")]
        start = time.monotonic()
        got = http.get(server.url("f"), max_bytes=10, retry=FAST)
        waited = time.monotonic() - start
    assert got.body == b"x" and [e.status for e in server.log] == [429, 200]
    assert 1.0 <= waited < 3.0  # the server's second, not FAST's 10 ms


def test_retry_after_longer_than_the_cap_is_not_waited_for() -> None:
    with AssetServer() as server:
        server.add("f", b"x")
        server.state.fail_next = [(503, "3600")]
        start = time.monotonic()
        with pytest.raises(NetworkError) as info:
            http.get(server.url("f"), max_bytes=10, retry=FAST)
    assert time.monotonic() - start < 2 and len(server.log) == 1
    assert "HTTP 503" in info.value.message and "3600" in info.value.message
    assert info.value.details["status"] == 503


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, NotFoundError), (403, NetworkError), (400, NetworkError), (501, NetworkError)],
)
def test_client_errors_are_not_retried(status: int, error: type[Exception]) -> None:
    with AssetServer() as server:
        server.state.fail_next = [(status, None)] * 5
        with pytest.raises(error) as info:
            http.get(server.url("f"), max_bytes=10, retry=FAST)
    assert len(server.log) == 1, "a 4xx (or 501) must not be asked again"
    assert str(status) in str(info.value)


def test_retries_stop_at_the_overall_deadline() -> None:
    with AssetServer() as server:
        server.state.fail_next = [(503, "1")] * 50
        start = time.monotonic()
        with pytest.raises(NetworkError) as info:
            http.get(
                server.url("f"),
                max_bytes=10,
                limits=NetLimits(deadline_s=2.5),
                retry=http.RetryPolicy(retries=50),
            )
        took = time.monotonic() - start
    assert took < 3.5 and 2 <= len(server.log) <= 4
    assert "HXPM_NET_DEADLINE=2.5" in info.value.message


def test_retry_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HXPM_NET_RETRIES", "0")
    with AssetServer() as server:
        server.state.fail_next = [(503, "0")]
        with pytest.raises(NetworkError):
            http.get(server.url("f"), max_bytes=10)
    assert len(server.log) == 1
    monkeypatch.setenv("HXPM_NET_RETRIES", "many")
    with pytest.raises(UsageError, match="HXPM_NET_RETRIES"):
        http.get("http://127.0.0.1:9/f", max_bytes=10)


class FlakyFetcher:
    """The real urllib3 fetcher, except that the first ``failures`` opens are refused."""

    def __init__(self, failures: int) -> None:
        from hxpm._httpfetch import Urllib3Fetcher

        self.inner, self.failures, self.opens = Urllib3Fetcher(), failures, 0

    def open(self, url: str, *, headers: Mapping[str, str], timeout: float) -> http.Response:
        self.opens += 1
        if self.opens <= self.failures:
            raise ConnectionRefusedError(111, "Connection refused")
        return self.inner.open(url, headers=headers, timeout=timeout)


def test_connection_errors_are_retried_through_an_injected_fetcher() -> None:
    with AssetServer() as server:
        server.add("f", b"payload")
        fetcher = FlakyFetcher(failures=2)
        got = http.get(server.url("f"), max_bytes=10, fetcher=fetcher, retry=FAST)
        assert got.body == b"payload" and fetcher.opens == 3
        with pytest.raises(NetworkError) as info:
            http.get(server.url("f"), max_bytes=10, fetcher=FlakyFetcher(9), retry=FAST)
    assert "Connection refused" in info.value.message and "4 attempts" in info.value.message
    assert info.value.details["reason"] == "connection"


# --- get: ETags ----------------------------------------------------------------------------------


def test_get_with_a_matching_etag_is_not_modified() -> None:
    with AssetServer() as server:
        server.add("snapshot.json", b"{}", etag='"abc"')
        first = http.get(server.url("snapshot.json"), max_bytes=10)
        again = http.get(server.url("snapshot.json"), max_bytes=10, etag=first.etag)
        server.state.assets["snapshot.json"].etag = '"def"'
        changed = http.get(server.url("snapshot.json"), max_bytes=10, etag=first.etag)
    assert (first.status, first.etag, first.not_modified) == (200, '"abc"', False)
    assert again.not_modified and again.body == b"" and again.etag == '"abc"'
    assert changed.status == 200 and changed.etag == '"def"'
    assert server.log[1].headers["If-None-Match"] == '"abc"'
    with pytest.raises(UsageError, match="ETag"):
        http.get(server.url("snapshot.json"), max_bytes=10, etag='"x"\r\nX-Evil: 1')


def test_get_refuses_a_body_over_its_cap() -> None:
    with AssetServer() as server:
        server.add("big", b"x" * 5000)
        with pytest.raises(NetworkError) as info:
            http.get(server.url("big"), max_bytes=100)
    assert info.value.details["reason"] == "too-large" and "5000" in info.value.message


# --- redirects ---------------------------------------------------------------------------------


def test_https_to_http_redirect_is_refused(
    private_ca: PrivateCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(private_ca.ca_pem))
    with AssetServer() as plain, AssetServer(ca=private_ca) as tls:
        plain.add("asset", b"served in clear")
        tls.add("ok", b"secure")
        tls.state.redirects["asset"] = (302, plain.url("asset"))
        assert http.get(tls.url("ok"), max_bytes=10).body == b"secure"  # TLS itself works
        secret_url = tls.url("asset").replace("https://", "https://alice:SECRET@")
        with pytest.raises(NetworkError) as info:
            http.get(secret_url, max_bytes=100)
    assert info.value.details["reason"] == "insecure-redirect"
    assert tls.url("asset") in info.value.message and plain.url("asset") in info.value.message
    assert "SECRET" not in info.value.message and "alice" not in info.value.message
    assert plain.log == [], "not one request may go out over plain http"


def test_redirect_loops_are_capped() -> None:
    with AssetServer() as server:
        server.state.redirects["loop"] = (302, "/loop")
        with pytest.raises(NetworkError) as info:
            http.get(server.url("loop"), max_bytes=10, retry=FAST)
    assert info.value.details["reason"] == "redirects"
    assert len(server.log) == http.MAX_REDIRECTS + 1


def test_relative_redirects_are_followed_and_credentials_stay_home() -> None:
    with AssetServer() as a, AssetServer() as b:
        a.state.redirects["start"] = (301, "/moved/here")
        a.state.redirects["moved/here"] = (307, b.url("final"))
        b.add("final", b"done")
        got = http.get(a.url("start").replace("http://", "http://alice:pw@"), max_bytes=10)
    assert got.body == b"done" and got.url == b.url("final")
    assert [e.path for e in a.log] == ["start", "moved/here"]
    assert all("Authorization" in e.headers for e in a.log)  # same origin: sent
    assert "Authorization" not in b.log[0].headers  # another port: never


def test_a_redirect_to_another_scheme_is_refused() -> None:
    with AssetServer() as server:
        server.state.redirects["f"] = (302, "file:///etc/passwd")
        with pytest.raises(NetworkError, match="file:///etc/passwd") as info:
            http.get(server.url("f"), max_bytes=10)
    assert info.value.details["reason"] == "insecure-redirect"


# --- proxies -----------------------------------------------------------------------------------


def test_http_proxy_from_the_environment_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with AssetServer() as server, ForwardProxy() as proxy:
        server.add("f", b"via proxy")
        monkeypatch.setenv("http_proxy", f"http://bob:pxpw@127.0.0.1:{proxy.port}")
        got = http.get(server.url("f"), max_bytes=20)
        assert got.body == b"via proxy"
        [(line, auth)] = proxy.seen
        assert line == f"GET {server.url('f')} HTTP/1.1" and auth is not None
        assert auth.startswith("Basic ")  # the proxy's credentials, as a header

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert http.get(server.url("f"), max_bytes=20).body == b"via proxy"
        assert len(proxy.seen) == 1 and len(server.log) == 2  # direct this time


def test_https_goes_through_the_proxy_as_a_tunnel(
    private_ca: PrivateCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(private_ca.ca_pem))
    with AssetServer(ca=private_ca) as server, ForwardProxy() as proxy:
        server.add("f", b"tunnelled")
        monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{proxy.port}")  # no scheme: http
        assert http.get(server.url("f"), max_bytes=20).body == b"tunnelled"
    [(line, _auth)] = proxy.seen
    assert line.startswith(f"CONNECT 127.0.0.1:{server.port} HTTP/")


def test_a_socks_proxy_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5://user:pw@127.0.0.1:1080")
    with AssetServer() as server, pytest.raises(UsageError) as info:
        http.get(server.url("f"), max_bytes=10)
    assert "socks5://127.0.0.1" in info.value.message and "pw" not in info.value.message


# --- downloads: resume and verification --------------------------------------------------------


def test_a_dropped_connection_resumes_in_the_same_call(tmp_path: Path) -> None:
    with AssetServer() as server:
        asset = server.add("a.expert", DATA)
        server.state.drop_at["a.expert"] = len(DATA) // 2
        seen: list[tuple[int, int]] = []

        def progress(done: int, total: int) -> None:
            seen.append((done, total))
            server.state.drop_at.clear()  # one cut only

        digest = http.download(
            server.url("a.expert"),
            tmp_path / "a.expert",
            max_bytes=len(DATA),
            expected_sha256=asset.sha256,
            progress=progress,
            retry=FAST,
        )
    assert digest == asset.sha256 and (tmp_path / "a.expert").read_bytes() == DATA
    first, second = server.log
    assert "Range" not in first.headers
    assert second.headers["Range"] == f"bytes={len(DATA) // 2}-" and second.status == 206
    assert second.headers["If-Range"] == '"v1"'
    assert seen[-1] == (len(DATA), len(DATA))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.expert"]  # no part left


DOWNLOAD = """
import sys
from pathlib import Path
from hxpm import http
from hxpm.errors import HxpmError
try:
    http.download(sys.argv[1], Path(sys.argv[2]), max_bytes=10**7, expected_sha256=sys.argv[3])
except HxpmError as e:
    print(e.message)
    sys.exit(e.exit_code)
"""


def _download_in_new_process(
    url: str, dest: Path, sha256: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", DOWNLOAD, url, str(dest), sha256],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_an_interrupted_download_resumes_in_a_new_process(tmp_path: Path) -> None:
    dest = tmp_path / "blob"
    with AssetServer() as server:
        asset = server.add(
            "a.expert", DATA, etag=None, last_modified="Wed, 21 Oct 2026 07:28:00 GMT"
        )
        half = len(DATA) // 2
        server.state.drop_at["a.expert"] = half
        run = _download_in_new_process(
            server.url("a.expert"), dest, asset.sha256, HXPM_NET_RETRIES="0"
        )
        assert run.returncode == 6, run.stderr
        assert "Traceback" not in run.stderr + run.stdout
        part = tmp_path / "blob.part"
        assert part.read_bytes() == DATA[:half] and not dest.exists()
        record = json.loads((tmp_path / "blob.part.json").read_text())
        assert record["validator"] == asset.last_modified

        server.state.drop_at.clear()
        run = _download_in_new_process(server.url("a.expert"), dest, asset.sha256)
        assert run.returncode == 0, run.stdout + run.stderr
    resumed = server.log[-1]
    assert resumed.headers["Range"] == f"bytes={half}-" and resumed.status == 206
    assert resumed.headers["If-Range"] == asset.last_modified
    assert dest.read_bytes() == DATA and not part.exists()
    assert not (tmp_path / "blob.part.json").exists()


def test_a_file_changed_on_the_server_starts_over(tmp_path: Path) -> None:
    dest = tmp_path / "blob"
    with AssetServer() as server:
        server.add("a.expert", DATA, etag='"old"')
        server.state.drop_at["a.expert"] = 1000
        with pytest.raises(NetworkError):
            http.download(
                server.url("a.expert"), dest, max_bytes=10**6, retry=http.RetryPolicy(retries=0)
            )
        assert (tmp_path / "blob.part").stat().st_size == 1000

        new = server.add("a.expert", DATA[::-1], etag='"new"')  # replaced meanwhile
        server.state.drop_at.clear()
        digest = http.download(
            server.url("a.expert"), dest, max_bytes=10**6, expected_sha256=new.sha256
        )
    last = server.log[-1]
    assert last.headers["If-Range"] == '"old"' and last.status == 200  # whole new file
    assert digest == new.sha256 and dest.read_bytes() == DATA[::-1]


def test_a_wrong_sha256_fails_and_removes_the_part(tmp_path: Path) -> None:
    dest = tmp_path / "blob"
    with AssetServer() as server:
        server.add("a.expert", DATA)
        with pytest.raises(IntegrityError) as info:
            http.download(server.url("a.expert"), dest, max_bytes=10**6, expected_sha256="0" * 64)
    assert info.value.exit_code == 5
    assert info.value.details == {"expected": "0" * 64, "got": hashlib.sha256(DATA).hexdigest()}
    assert list(tmp_path.iterdir()) == []


def test_a_part_from_another_url_or_a_bad_record_is_not_resumed(tmp_path: Path) -> None:
    dest = tmp_path / "blob"
    (tmp_path / "blob.part").write_bytes(b"junk from somewhere else")
    (tmp_path / "blob.part.json").write_text(
        '{"url": "http://elsewhere/x", "validator": "\\"v1\\""}'
    )
    with AssetServer() as server:
        asset = server.add("a.expert", DATA)
        http.download(server.url("a.expert"), dest, max_bytes=10**6, expected_sha256=asset.sha256)
        assert "Range" not in server.log[0].headers
        (tmp_path / "blob.part").write_bytes(b"junk")
        (tmp_path / "blob.part.json").write_bytes(b"\xff not json")
        http.download(server.url("a.expert"), dest, max_bytes=10**6, expected_sha256=asset.sha256)
        assert "Range" not in server.log[1].headers
    assert dest.read_bytes() == DATA


def test_without_a_validator_nothing_is_kept_to_resume(tmp_path: Path) -> None:
    with AssetServer() as server:
        server.add("a.expert", DATA, etag='W/"weak"')  # weak: useless for If-Range
        server.state.drop_at["a.expert"] = 1000
        with pytest.raises(NetworkError) as info:
            http.download(
                server.url("a.expert"),
                tmp_path / "blob",
                max_bytes=10**6,
                retry=http.RetryPolicy(retries=1, backoff_s=0.01),
            )
    assert info.value.details["reason"] == "connection"
    assert all("Range" not in e.headers for e in server.log)
    assert list(tmp_path.iterdir()) == []


def test_offline_mode_stops_before_any_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HXPM_OFFLINE", "1")
    with AssetServer() as server, pytest.raises(NetworkError) as info:
        http.download(server.url("a"), tmp_path / "a", max_bytes=10)
    assert info.value.code == "offline" and server.log == []
