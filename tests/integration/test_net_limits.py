"""Hostile or broken servers cannot hang hxpm or eat its memory (issue 8, item 7).

Each test starts a misbehaving server from tests/badservers.py on 127.0.0.1 (real sockets),
runs the real ``hxpm`` CLI against it in a child process with a hard timeout, as a user
would, and checks the exit code (6), that the message names the server, the limit and the
setting, the wall time and, where memory was the attack, the child's peak RSS. Limits are
set small through the documented environment variables so every test takes seconds.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from hxpm.errors import NetworkError, UsageError
from hxpm.index import _gitguard
from hxpm.index import git as hgit
from hxpm.index.git import FetchLimits
from hxpm.index.urls import normalise_git_url
from hxpm.netlimits import Deadline, NetLimits
from hxpm.transport import download
from tests.badservers import (
    BadServer,
    alive,
    endless_refs,
    fake_ssh,
    http_body,
    huge_pack,
    run_cli,
    stall,
)

MAX_RSS_MB = 300  # the unbounded client passed 1 GiB within 16 s


def add_index(url: str, home: Path, **env: str) -> tuple[int, str, float, float]:
    run = run_cli(["index", "add", "x", url], {"HXPM_HOME": str(home), **env}, timeout=40)
    assert run.seconds < 40, f"hxpm did not stop by itself: {run.err[-500:]}"
    return run.code, run.err, run.seconds, run.max_rss_mb


def assert_no_index_left(home: Path) -> None:
    assert not (home / "indexes" / "x").exists()


@pytest.mark.parametrize("scheme", ["git", "http"])
def test_endless_ref_advertisement_stops_at_the_default_ref_count_cap(
    scheme: str, tmp_path: Path
) -> None:
    with BadServer(endless_refs(http=scheme == "http")) as server:
        code, err, seconds, rss = add_index(server.url(scheme), tmp_path / "home")
    assert code == 6, err
    assert f"127.0.0.1:{server.port}" in err
    assert "expected at most 100000 refs" in err and "HXPM_MAX_REFS" in err
    assert 10 < rss < MAX_RSS_MB, f"peak RSS {rss:.0f} MB"  # >10: the measurement works
    assert seconds < 20
    assert "Traceback" not in err
    assert_no_index_left(tmp_path / "home")


@pytest.mark.parametrize("scheme", ["git", "http"])
def test_endless_ref_advertisement_stops_at_the_byte_cap(scheme: str, tmp_path: Path) -> None:
    with BadServer(endless_refs(http=scheme == "http")) as server:
        code, err, _seconds, rss = add_index(
            server.url(scheme),
            tmp_path / "home",
            HXPM_MAX_REF_BYTES="256K",
            HXPM_MAX_REFS="100000000",
        )
    assert code == 6, err
    assert "expected at most 262144 bytes of refs" in err and "HXPM_MAX_REF_BYTES" in err
    assert rss < MAX_RSS_MB


def test_ls_remote_caps_the_advertisement_too() -> None:
    with (
        BadServer(endless_refs()) as server,
        pytest.raises(NetworkError, match="HXPM_MAX_REFS") as info,
    ):
        hgit.ls_remote(normalise_git_url(server.url("git")), limits=NetLimits(max_refs=500))
    assert info.value.details == {"reason": "too-large", "limit": "HXPM_MAX_REFS"}


@pytest.mark.parametrize("scheme", ["git", "http"])
def test_a_server_dripping_refs_forever_hits_the_overall_deadline(
    scheme: str, tmp_path: Path
) -> None:
    # One ref every 0.3 s: no read ever waits long enough for the inactivity timeout.
    with BadServer(endless_refs(http=scheme == "http", interval=0.3)) as server:
        code, err, seconds, _rss = add_index(
            server.url(scheme), tmp_path / "home", HXPM_NET_DEADLINE="3", HXPM_NET_TIMEOUT="2"
        )
    assert code == 6, err
    assert "deadline of 3 s" in err and "HXPM_NET_DEADLINE" in err
    assert 2.5 < seconds < 12


@pytest.mark.parametrize("scheme", ["git", "http"])
def test_a_silent_server_hits_the_inactivity_timeout(scheme: str, tmp_path: Path) -> None:
    with BadServer(stall) as server:
        code, err, seconds, _rss = add_index(
            server.url(scheme), tmp_path / "home", HXPM_NET_TIMEOUT="1"
        )
    assert code == 6, err
    assert "no data for 1 s" in err and "HXPM_NET_TIMEOUT" in err
    assert seconds < 10


def test_an_endless_pack_stops_at_the_pack_cap_and_leaves_nothing(tmp_path: Path) -> None:
    with BadServer(huge_pack) as server:
        code, err, _seconds, rss = add_index(
            server.url("git"), tmp_path / "home", HXPM_MAX_PACK_BYTES="300K"
        )
    assert code == 6, err
    assert "expected at most 307200 bytes of pack data" in err
    assert "HXPM_MAX_PACK_BYTES" in err and "raise HXPM_MAX_PACK_BYTES" in err
    assert rss < MAX_RSS_MB
    assert_no_index_left(tmp_path / "home")


def test_a_malformed_limit_setting_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli(
        ["index", "add", "x", "git://127.0.0.1:9/x"],
        {"HXPM_HOME": str(tmp_path / "home"), "HXPM_NET_DEADLINE": "soon"},
        timeout=30,
    )
    assert run.code == 2, run.err
    assert "HXPM_NET_DEADLINE" in run.err and "'soon'" in run.err


# --- ssh ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["GIT_SSH_COMMAND", "GIT_SSH"])
def test_an_ssh_command_that_never_answers_is_timed_out_and_killed(
    variable: str, tmp_path: Path
) -> None:
    # Named "ssh": OpenSSH-style, gets our options. Named otherwise: flags unknown, so only
    # the reader-side timeout can save us; it must do so just as well.
    name = "ssh" if variable == "GIT_SSH_COMMAND" else "my-ssh-wrapper"
    program = fake_ssh(tmp_path / "bin", name)
    command = f"{program} -o User=someone" if variable == "GIT_SSH_COMMAND" else str(program)
    code, err, seconds, _rss = add_index(
        "ssh://git@127.0.0.1:2222/srv/x.git",
        tmp_path / "home",
        **{variable: command, "HXPM_NET_TIMEOUT": "1"},
    )
    assert code == 6, err
    assert "ssh://git@127.0.0.1:2222/srv/x.git" in err and "HXPM_NET_TIMEOUT" in err
    assert seconds < 10
    pid = int((tmp_path / "bin" / f"{name}.pid").read_text())
    try:
        assert not alive(pid), "the ssh command was left running"
    finally:
        if alive(pid):
            os.kill(pid, 9)
    argv = (tmp_path / "bin" / f"{name}.argv").read_text().splitlines()
    assert argv[-2:] == ["git@127.0.0.1", "git-upload-pack '/srv/x.git'"]
    if name == "ssh":
        # Ours come after the user's own options (for OpenSSH the first value wins).
        assert argv[:2] == ["-o", "User=someone"]
        for option in ("ConnectTimeout=1", "ServerAliveInterval=1", "ServerAliveCountMax=3"):
            assert option in argv
        assert argv[argv.index("-p") + 1] == "2222"
    else:
        assert not any(a.startswith(("ConnectTimeout", "ServerAlive")) for a in argv)
        assert "-x" not in argv


def test_ssh_command_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_SSH_COMMAND", "GIT_SSH", "GIT_SSH_VARIANT"):
        monkeypatch.delenv(name, raising=False)
    argv, flavour = _gitguard.ssh_argv(30)
    assert (argv[0], flavour) == ("ssh", "openssh") and "ServerAliveInterval=10" in argv
    monkeypatch.setenv("GIT_SSH", "/opt/my ssh/bin/ssh")  # a program path, spaces and all
    assert _gitguard.ssh_argv(30)[0][0] == "/opt/my ssh/bin/ssh"
    monkeypatch.setenv("GIT_SSH_COMMAND", "plink -batch")  # wins over GIT_SSH, as in git
    assert _gitguard.ssh_argv(30) == (["plink", "-batch"], "plink")
    monkeypatch.setenv("GIT_SSH_COMMAND", "/usr/local/bin/tunnel --x")
    assert _gitguard.ssh_argv(30) == (["/usr/local/bin/tunnel", "--x"], "other")
    monkeypatch.setenv("GIT_SSH_VARIANT", "ssh")  # the user says it is OpenSSH
    assert _gitguard.ssh_argv(30)[1] == "openssh"
    monkeypatch.setenv("GIT_SSH_COMMAND", "ssh 'unbalanced")
    with pytest.raises(UsageError, match="GIT_SSH_COMMAND"):
        _gitguard.ssh_argv(30)


# --- plain HTTP downloads (release assets) -----------------------------------------------------


def _download_in_thread(
    url: str, dest: Path, max_bytes: int, limits: NetLimits
) -> BaseException | None:
    """Run download() with a hard bound on the test: it must return within 20 s."""
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            download(url, dest, max_bytes=max_bytes, limits=limits)
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 -- handed to the test
            outcome.append(e)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "download() did not stop by itself"
    return outcome[0]


@pytest.mark.parametrize(
    ("behaviour", "limits", "expected"),
    [
        (
            http_body(declared=10**6, interval=0.2),
            NetLimits(deadline_s=2, timeout_s=1.5),
            "HXPM_NET_DEADLINE",
        ),
        (http_body(declared=10**6, interval=60), NetLimits(timeout_s=1), "HXPM_NET_TIMEOUT"),
        (
            http_body(declared=None, interval=0, piece=b"x" * 65536),
            NetLimits(),
            "expected at most 1000000 bytes, it sent more",
        ),
        (
            http_body(declared=10**9, interval=0),
            NetLimits(),
            "expected at most 1000000 bytes, it declares 1000000000",
        ),
    ],
    ids=["drip", "stall", "endless", "declared-too-big"],
)
def test_release_asset_downloads_are_bounded(
    behaviour: object, limits: NetLimits, expected: str, tmp_path: Path
) -> None:
    dest = tmp_path / "asset.expert"
    with BadServer(behaviour) as server:  # type: ignore[arg-type]
        error = _download_in_thread(server.url("http", "a.expert"), dest, 10**6, limits)
    assert isinstance(error, NetworkError), error
    assert expected in error.message and f"127.0.0.1:{server.port}" in error.message
    assert not dest.exists() and list(tmp_path.iterdir()) == []


def test_download_reads_its_limits_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HXPM_NET_TIMEOUT", "0.5")
    with BadServer(http_body(declared=10, interval=60)) as server:
        error = _download_in_thread(server.url("http"), tmp_path / "f", 100, None)  # type: ignore[arg-type]
    assert isinstance(error, NetworkError) and "HXPM_NET_TIMEOUT=0.5" in error.message


# --- the pieces --------------------------------------------------------------------------------


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "HXPM_NET_TIMEOUT": "2.5",
        "HXPM_NET_DEADLINE": "60",
        "HXPM_NET_MIN_RATE": "0",
        "HXPM_MAX_REFS": "10",
        "HXPM_MAX_REF_BYTES": "64K",
        "HXPM_MAX_PACK_BYTES": "2GiB",
    }.items():
        monkeypatch.setenv(name, value)
    assert FetchLimits.from_env() == FetchLimits(
        timeout_s=2.5,
        deadline_s=60,
        min_rate=0,
        max_refs=10,
        max_ref_bytes=65536,
        max_pack_bytes=2 * 1024**3,
    )
    for name, bad in [
        ("HXPM_NET_TIMEOUT", "0"),
        ("HXPM_NET_TIMEOUT", "nan"),
        ("HXPM_MAX_REFS", "-1"),
        ("HXPM_MAX_REFS", "0"),
        ("HXPM_MAX_PACK_BYTES", "4 pebibytes"),
    ]:
        monkeypatch.setenv(name, bad)
        with pytest.raises(UsageError, match=name):
            NetLimits.from_env()
        monkeypatch.delenv(name)


def test_the_deadline_grows_with_what_arrived() -> None:
    now = [100.0]
    deadline = Deadline(10, 1000, clock=lambda: now[0])
    now[0] = 109.0
    assert deadline.remaining() == pytest.approx(1.0)
    assert deadline.read_timeout(30) == pytest.approx(1.0)
    deadline.credit(5000)  # 5000 bytes at 1000 B/s earn 5 s
    assert deadline.remaining() == pytest.approx(6.0)
    hard = Deadline(10, 0, clock=lambda: now[0])
    hard.credit(10**9)
    now[0] = 120.0
    assert hard.remaining() < 0


def test_refs_are_counted_whatever_the_reads_split() -> None:
    stream = b"".join(b"%04x" % (len(p) + 4) + p for p in [b"a" * 50, b"b" * 3, b"c"]) + b"0000"
    for size in (1, 3, 4, 7, len(stream)):
        counter = _gitguard.PktCounter()
        pieces = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert sum(counter.feed(p) for p in pieces) == 3
    assert _gitguard.PktCounter().feed(b"zzzz0009hello") == 0  # not pkt-lines: byte cap only
