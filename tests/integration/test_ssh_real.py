"""hxpm's ssh transport against a real OpenSSH server on 127.0.0.1 (skipped without sshd).

The server runs from a temporary config with its own host key; the client uses a real key
through ``GIT_SSH_COMMAND``. One key may run the real ``git-upload-pack``; a second one is
forced to ``sleep`` (an SSH server that accepts the key and then never answers): hxpm must
give up after ``HXPM_NET_TIMEOUT`` and kill its ssh. Install ``openssh-server`` to run these.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hxpm.index import git as hgit
from hxpm.index.urls import normalise_git_url
from tests.badservers import run_cli
from tests.gitserver import bare_clone, free_port, make_repo

SSHD = Path("/usr/sbin/sshd")

pytestmark = [
    pytest.mark.skipif(not SSHD.exists(), reason="needs OpenSSH's sshd (openssh-server)"),
    pytest.mark.skipif(shutil.which("git-upload-pack") is None, reason="needs git-upload-pack"),
    pytest.mark.skipif(
        os.geteuid() == 0 and not Path("/run/sshd").is_dir(),
        reason="sshd run as root needs /run/sshd",
    ),
]


@dataclass(frozen=True)
class Sshd:
    port: int
    ssh_command: str  # may run git-upload-pack
    hanging_ssh_command: str  # accepted, then the server runs `sleep`


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30
    )
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    d = tmp_path / "sshd"
    d.mkdir()
    _keygen(d / "host")
    good, hang = _keygen(d / "good"), _keygen(d / "hang")
    (d / "authorized_keys").write_text(f'{good}\ncommand="exec sleep 120" {hang}\n')
    port = free_port()
    (d / "config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPidFile {d / 'pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nAcceptEnv GIT_PROTOCOL\n"
    )
    server = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(d / "config")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, server)
        base = (
            "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            "-o IdentitiesOnly=yes -o BatchMode=yes -o LogLevel=ERROR -i "
        )
        yield Sshd(port, base + str(d / "good"), base + str(d / "hang"))
    finally:
        server.kill()
        server.wait(timeout=10)


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if server.poll() is not None:
            pytest.skip("sshd did not start here")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.skip("sshd did not listen within 5 s")


def test_ls_remote_and_fetch_over_real_ssh(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = make_repo(tmp_path / "work", {"config.json": b"{}\n"}, tag="v1")
    remote = bare_clone(tmp_path / "work", tmp_path / "served" / "r.git")
    monkeypatch.setenv("GIT_SSH_COMMAND", sshd.ssh_command)
    url = normalise_git_url(f"ssh://{getpass.getuser()}@127.0.0.1:{sshd.port}{remote}")
    refs = hgit.ls_remote(url)
    assert refs["refs/tags/v1"] == commit
    assert hgit.fetch(url, tmp_path / "cache", ref="v1") == commit
    assert hgit.read_file(tmp_path / "cache", commit, "config.json", max_bytes=100) == b"{}\n"


def test_a_real_ssh_server_that_never_answers_is_timed_out(sshd: Sshd, tmp_path: Path) -> None:
    url = f"ssh://{getpass.getuser()}@127.0.0.1:{sshd.port}/srv/x.git"
    before = _ssh_children()
    run = run_cli(
        ["index", "add", "x", url],
        {
            "HXPM_HOME": str(tmp_path / "home"),
            "GIT_SSH_COMMAND": sshd.hanging_ssh_command,
            "HXPM_NET_TIMEOUT": "2",
        },
        timeout=40,
    )
    assert run.code == 6, run.err
    assert "no data for 2 s" in run.err and "HXPM_NET_TIMEOUT" in run.err
    assert run.seconds < 15
    assert _ssh_children() <= before  # no ssh client left behind


def _ssh_children() -> set[int]:
    """Running ``ssh`` clients that talk to this test's server (by their -i key path)."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0] == b"ssh" and any(b"/sshd/hang" in part for part in cmd):
            found.add(int(proc.name))
    return found
