"""Hostile and broken servers on 127.0.0.1, for the network-limit tests (real sockets).

- :class:`BadServer` accepts connections and runs one *behaviour* per connection in a
  daemon thread; every behaviour stops when the client goes away or the server closes.
- Behaviours: :func:`endless_refs` (git:// or smart HTTP, as fast as possible or dripping),
  :func:`huge_pack` (git://, a valid reply up to the pack, then pack data forever) and
  :func:`http_body` (a plain HTTP download that drips, stalls or never ends).
- :func:`fake_ssh` writes an "ssh" program that records its argv and pid and then sleeps
  without writing a byte.
- :func:`run_cli` runs the real ``hxpm`` in a child process with a hard timeout and reports
  its exit code, output, wall time and peak memory.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

HOST = "127.0.0.1"
SHA = b"1" * 40
HXPM = Path(sys.executable).with_name("hxpm")

Behaviour = Callable[[socket.socket, threading.Event], None]


def pkt(payload: bytes) -> bytes:
    return b"%04x" % (len(payload) + 4) + payload


class BadServer:
    """Runs ``behaviour(conn, stop)`` for each connection; a context manager."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, 0))
        self.port: int = self._sock.getsockname()[1]

    def url(self, scheme: str, path: str = "x") -> str:
        return f"{scheme}://{HOST}:{self.port}/{path}"

    def __enter__(self) -> Self:
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            self.behaviour(conn, self._stop)
        except OSError:
            pass  # the client gave up: that is what these servers wait for
        finally:
            conn.close()


def _read_request(conn: socket.socket, until: bytes) -> bytes:
    got = b""
    while until not in got:
        piece = conn.recv(65536)
        if not piece:
            break
        got += piece
    return got


def endless_refs(*, http: bool = False, interval: float = 0.0) -> Behaviour:
    """A valid ref advertisement that never ends: one ref per ``interval`` s, or flat out."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        if http:
            _read_request(conn, b"\r\n\r\n")
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: "
                b"application/x-git-upload-pack-advertisement\r\n"
                b"Connection: close\r\n\r\n" + pkt(b"# service=git-upload-pack\n") + b"0000"
            )
        else:
            conn.recv(4096)  # git-upload-pack /x\0host=...\0
        conn.sendall(pkt(SHA + b" HEAD\0side-band-64k ofs-delta agent=bad/1\n"))
        batch = 1 if interval else 2000
        number = 0
        while not stop.is_set():
            lines = [pkt(SHA + b" refs/heads/b%09d\n" % (number + i)) for i in range(batch)]
            conn.sendall(b"".join(lines))
            number += batch
            if interval:
                time.sleep(interval)

    return behave


def huge_pack(conn: socket.socket, stop: threading.Event) -> None:
    """git://: advertise HEAD, take the client's wants, then send pack data forever."""
    conn.recv(4096)
    conn.sendall(
        pkt(SHA + b" HEAD\0side-band-64k ofs-delta agent=bad/1\n")
        + pkt(SHA + b" refs/heads/main\n")
        + b"0000"
    )
    _read_request(conn, b"done")
    conn.sendall(pkt(b"NAK\n") + pkt(b"\x01PACK\x00\x00\x00\x02\x00\x00\x10\x00"))
    chunk = pkt(b"\x01" + b"\x00" * 65000)
    while not stop.is_set():
        conn.sendall(chunk)


def http_body(*, declared: int | None, interval: float, piece: bytes = b"x") -> Behaviour:
    """An HTTP 200 whose body is ``piece`` every ``interval`` s forever (0: flat out)."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        _read_request(conn, b"\r\n\r\n")
        length = b"Content-Length: %d\r\n" % declared if declared is not None else b""
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            + length
            + b"Connection: close\r\n\r\n"
        )
        while not stop.is_set():
            if interval:
                time.sleep(interval)
            conn.sendall(piece)

    return behave


def stall(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, answer nothing, keep the connection open."""
    stop.wait(60)


def fake_ssh(folder: Path, name: str) -> Path:
    """An executable ``folder/name`` that records argv and pid, then hangs without output."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text(
        "#!/bin/sh\n"
        f'echo $$ > "{folder}/{name}.pid"\n'
        f'for a in "$@"; do printf "%s\\n" "$a"; done > "{folder}/{name}.argv"\n'
        "exec sleep 120\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    seconds: float
    max_rss_mb: float


def run_cli(args: list[str], env: dict[str, str], *, timeout: float = 30.0) -> Run:
    """Run ``hxpm ARGS`` as a user would; kill it after ``timeout`` s (the test then fails).

    Peak memory is the child's own high-water mark (``VmHWM``, polled while it runs):
    wait4()'s ru_maxrss would not do, since Linux carries the parent's peak (a pytest that
    loaded torch) across fork and exec into the child's figure.
    """
    full_env = {**os.environ, "HXPM_DEBUG": "", "NO_PROXY": "127.0.0.1", **env}
    start = time.monotonic()
    with open(os.devnull, "rb") as stdin, _Capture() as out, _Capture() as err:
        proc = subprocess.Popen(
            [str(HXPM), *args], env=full_env, stdin=stdin, stdout=out.file, stderr=err.file
        )
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, _high_water_kb(proc.pid))
            pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                proc.kill()
                _pid, status, _usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        seconds = time.monotonic() - start
        return Run(proc.returncode, out.text(), err.text(), seconds, peak_kb / 1024)


def _high_water_kb(pid: int) -> int:
    """The peak resident size of ``pid``'s current program, in KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class _Capture:
    def __enter__(self) -> Self:
        self.file = tempfile.TemporaryFile()
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def text(self) -> str:
        self.file.seek(0)
        return self.file.read().decode("utf-8", "replace")
