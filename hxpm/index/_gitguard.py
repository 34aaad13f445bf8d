"""Guards on what a Git server may make hxpm wait for or hold (private to the Git layer).

dulwich reads a server's reply (ref advertisement, then pack) through a ``read(n)`` callable
and keeps every advertised ref in memory before hxpm sees any; it has no overall deadline and
its ssh pipe reads block forever. So every byte dulwich reads passes through a
:class:`GuardedStream` here, which

- waits at most the inactivity timeout for the next bytes (and never past the deadline),
- checks the operation's overall :class:`~hxpm.netlimits.Deadline` on every read,
- counts the ref advertisement's bytes and pkt-lines (refs) against their caps, and every
  byte after it against the pack cap,

raising :class:`~hxpm.netlimits.LimitExceeded`, which :func:`_gitwire.transport_errors`
turns into a NetworkError. SSH goes through :class:`GuardedSSHVendor`, which runs whatever
command ``GIT_SSH_COMMAND`` / ``GIT_SSH`` name, adds keep-alive and connect timeouts when
that command is OpenSSH, and kills and reaps it on every path.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import socket
import subprocess
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

import urllib3
from dulwich.client import SSHVendor, Urllib3HttpGitClient
from dulwich.protocol import DEFAULT_GIT_PROTOCOL_VERSION_FETCH

from hxpm.errors import UsageError
from hxpm.netlimits import (
    ENV_MAX_PACK_BYTES,
    ENV_MAX_REF_BYTES,
    ENV_MAX_REFS,
    Deadline,
    LimitExceeded,
    NetLimits,
    deadline_passed,
    too_many,
    waited_too_long,
)

CHUNK = 64 * 1024
_STDERR_CAP = 64 * 1024  # what we keep of an ssh command's error output
_GRACE_S = 2.0  # how long a finished ssh command gets to exit before it is killed
_OPENSSH_NAMES = ("ssh", "ssh.exe")
_PLINK_NAMES = ("plink", "plink.exe", "tortoiseplink", "tortoiseplink.exe")


class WireGuard:
    """What one remote operation may still use: time, ref-advertisement and pack bytes."""

    def __init__(self, limits: NetLimits, deadline: Deadline | None = None) -> None:
        self.limits = limits
        self.deadline = deadline or Deadline(limits.deadline_s, limits.min_rate)
        self.in_refs = True  # until hxpm has seen the refs and chosen what to fetch
        self.refs = self.ref_bytes = self.pack_bytes = 0
        # After the refs: pack bytes plus side-band framing (5 in 65520) and protocol chatter.
        self._wire_cap = limits.max_pack_bytes + limits.max_pack_bytes // 100 + CHUNK
        self._cleanups: list[Callable[[], None]] = []

    def read_timeout(self) -> float:
        """Seconds the next wait may block; raises once the deadline has passed."""
        if self.deadline.remaining() <= 0:
            raise deadline_passed(self.deadline)
        return self.deadline.read_timeout(self.limits.timeout_s)

    def timed_out(self) -> LimitExceeded:
        return waited_too_long(self.deadline, self.limits.timeout_s)

    def account(self, data: bytes, framing: PktCounter) -> None:
        """Count ``data`` just read; raise if that passes a limit."""
        self.deadline.credit(len(data))
        if self.in_refs:
            self.ref_bytes += len(data)
            self.refs += framing.feed(data)
            if self.ref_bytes > self.limits.max_ref_bytes:
                raise too_many("bytes of refs", self.limits.max_ref_bytes, ENV_MAX_REF_BYTES)
            if self.refs > self.limits.max_refs:
                raise too_many("refs", self.limits.max_refs, ENV_MAX_REFS)
        else:
            self.pack_bytes += len(data)
            if self.pack_bytes > self._wire_cap:
                raise too_many("bytes of pack data", self.limits.max_pack_bytes, ENV_MAX_PACK_BYTES)
        if self.deadline.remaining() <= 0:
            raise deadline_passed(self.deadline)

    def refs_done(self) -> None:
        self.in_refs = False

    def refs_again(self) -> None:
        """A new connection: its ref advertisement is counted afresh."""
        self.in_refs, self.refs, self.ref_bytes = True, 0, 0

    def on_close(self, cleanup: Callable[[], None]) -> None:
        self._cleanups.append(cleanup)

    def close(self) -> None:
        """Release what the operation started (ssh processes); safe to call twice."""
        while self._cleanups:
            self._cleanups.pop()()


class PktCounter:
    """Counts the data pkt-lines in a stream fed in arbitrary pieces (refs are one each).

    Stops counting at the first header that is not hex (a dumb-HTTP ref list is plain
    lines: those count by newline instead); the byte cap holds either way.
    """

    def __init__(self, lines: bool = False) -> None:
        self._lines = lines
        self._skip = 0
        self._head = b""
        self._broken = False

    def feed(self, data: bytes) -> int:
        if self._lines:
            return data.count(b"\n")
        count, i = 0, 0
        while i < len(data) and not self._broken:
            if self._skip:
                step = min(self._skip, len(data) - i)
                self._skip, i = self._skip - step, i + step
                continue
            need = 4 - len(self._head)
            self._head, i = self._head + data[i : i + need], i + need
            if len(self._head) < 4:
                break
            size = (
                int(self._head, 16)
                if all(c in b"0123456789abcdefABCDEF" for c in self._head)
                else -1
            )
            self._head = b""
            if size < 0:
                self._broken = True
            elif size > 4:  # 0000 flush, 0001 delimiter, 0002 response end carry no data
                self._skip = size - 4
                count += 1
        return count


class GuardedStream:
    """``read(n)`` with exact-count semantics over a raw reader, under a WireGuard.

    ``raw_read(n)`` returns up to ``n`` bytes (b"" at end of stream) and must itself wait no
    longer than ``guard.read_timeout()``; each piece is accounted before it is buffered.
    """

    def __init__(
        self, raw_read: Callable[[int], bytes], guard: WireGuard, *, lines: bool = False
    ) -> None:
        self._raw, self._guard = raw_read, guard
        self._framing = PktCounter(lines)
        self._buf = bytearray()

    def read(self, n: int = -1) -> bytes:
        want = n if n >= 0 else 1 << 62
        while len(self._buf) < want:
            piece = self._raw(max(want - len(self._buf), CHUNK) if n >= 0 else CHUNK)
            if not piece:
                break
            self._guard.account(piece, self._framing)
            self._buf += piece
        out = bytes(self._buf[:want])
        del self._buf[:want]
        return out


def socket_reader(sock: socket.socket, guard: WireGuard) -> Callable[[int], bytes]:
    def read_some(n: int) -> bytes:
        sock.settimeout(guard.read_timeout())
        try:
            return sock.recv(min(n, CHUNK))
        except TimeoutError:
            raise guard.timed_out() from None

    return read_some


# --- smart and dumb HTTP ---------------------------------------------------------------------


def guard_http(client: Urllib3HttpGitClient, guard: WireGuard) -> None:
    """Route every response body ``client`` reads through a GuardedStream.

    dulwich's own reader asks urllib3 for exact counts, which keeps reading as long as bytes
    trickle in; ``read1`` returns after one socket read, so the deadline is checked between.
    """
    request = client._http_request

    def guarded_request(
        url: str,
        headers: dict[str, str] | None = None,
        data: Any = None,
        raise_for_status: bool = True,
    ) -> tuple[Any, Callable[[int], bytes]]:
        client._timeout = guard.read_timeout()  # connect and each socket read, this request
        resp, _unguarded = request(url, headers, data, raise_for_status)
        body: Any = resp  # urllib3's response; dulwich's annotation lacks read1

        def read_some(n: int) -> bytes:
            guard.read_timeout()
            try:
                return bytes(body.read1(min(n, CHUNK)))
            except urllib3.exceptions.ReadTimeoutError:
                raise guard.timed_out() from None

        smart = str(resp.headers.get("Content-Type", "")).startswith("application/x-git-")
        return resp, GuardedStream(read_some, guard, lines=not smart).read

    # An instance attribute wins over the method, also for dulwich's dumb-HTTP helper.
    setattr(client, "_http_request", guarded_request)  # noqa: B010


# --- ssh -------------------------------------------------------------------------------------


def ssh_argv(timeout_s: float) -> tuple[list[str], str]:
    """The ssh command to run and its flavour (``openssh``, ``plink`` or ``other``).

    ``GIT_SSH_COMMAND`` (split like a shell would) wins over ``GIT_SSH`` (one program, no
    arguments), as in git. Only OpenSSH gets our options: another program's flags cannot be
    known, and the reader-side timeouts hold whatever runs.
    """
    command = os.environ.get("GIT_SSH_COMMAND", "").strip()
    program = os.environ.get("GIT_SSH", "").strip()
    try:
        argv = shlex.split(command) if command else [program] if program else ["ssh"]
    except ValueError as e:
        raise UsageError(
            f"GIT_SSH_COMMAND: expected a shell-style command, got {command[:80]!r} ({e})"
        ) from None
    if not argv:
        raise UsageError("GIT_SSH_COMMAND: expected a command, got only spaces or quotes")
    variant = os.environ.get("GIT_SSH_VARIANT", "").strip().lower()
    name = PurePath(argv[0]).name.lower()
    if variant == "ssh" or (variant in ("", "auto") and name in _OPENSSH_NAMES):
        flavour = "openssh"
    elif variant in ("plink", "tortoiseplink") or (
        variant in ("", "auto") and name in _PLINK_NAMES
    ):
        flavour = "plink"
    else:
        flavour = "other"
    if flavour == "openssh":
        seconds = max(1, round(timeout_s))
        interval = max(1, round(timeout_s / 3))
        # Appended after the user's own options: for OpenSSH the first value given wins.
        argv += [
            "-x",
            "-o",
            f"ConnectTimeout={seconds}",
            "-o",
            f"ServerAliveInterval={interval}",
            "-o",
            "ServerAliveCountMax=3",
        ]
    return argv, flavour


class GuardedSSHVendor(SSHVendor):
    """Runs the ssh command with timeouts on every read, killing it on any failure."""

    def __init__(self, argv: list[str], flavour: str) -> None:
        self.argv, self.flavour = argv, flavour
        self.guard: WireGuard | None = None

    def run_command(  # type: ignore[override]  # dulwich only duck-types the result
        self,
        host: str,
        command: bytes,
        username: str | None = None,
        port: int | None = None,
        password: str | None = None,
        key_filename: str | None = None,
        ssh_command: str | None = None,
        protocol_version: int | None = None,
    ) -> SSHProcess:
        target = f"{username}@{host}" if username else host
        if target.startswith("-"):
            raise UsageError(f"expected an ssh host name, got {target[:60]!r}")
        if self.guard is None:
            raise RuntimeError("GuardedSSHVendor used without a WireGuard")
        args = list(self.argv)
        if port:
            args += ["-P" if self.flavour == "plink" else "-p", str(port)]
        if key_filename:
            args += ["-i", str(key_filename)]
        env = dict(os.environ)
        if protocol_version is None:  # as dulwich's own vendor: ask for v2, servers may decline
            protocol_version = DEFAULT_GIT_PROTOCOL_VERSION_FETCH
        if protocol_version > 0:
            env["GIT_PROTOCOL"] = f"version={protocol_version}"
            if self.flavour == "openssh":
                args += ["-o", f"SetEnv GIT_PROTOCOL=version={protocol_version}"]
        proc = subprocess.Popen(
            [*args, target, os.fsdecode(command)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            bufsize=0,  # unbuffered stdin: each request must reach the server when written
        )
        return SSHProcess(proc, self.guard)


class SSHProcess:
    """dulwich's connection object for one ssh command, read under the guard."""

    def __init__(self, proc: subprocess.Popen[bytes], guard: WireGuard) -> None:
        assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
        self.proc, self._guard = proc, guard
        self._stdout, self._stdin, self._stderr = proc.stdout, proc.stdin, proc.stderr
        self._stream = GuardedStream(self._read_some, guard)
        guard.on_close(self.close)

    def read(self, n: int = -1) -> bytes:
        try:
            return self._stream.read(n)
        except BaseException:  # a limit hit (or worse): the command has no more to say
            self._kill()
            raise

    def _read_some(self, n: int) -> bytes:
        if not _wait_readable(self._stdout.fileno(), self._guard.read_timeout()):
            raise self._guard.timed_out()
        return os.read(self._stdout.fileno(), min(n, CHUNK))

    def write(self, data: bytes) -> int | None:
        return self._stdin.write(data)

    def can_read(self) -> bool:
        return _wait_readable(self._stdout.fileno(), 0)

    @property
    def stderr(self) -> BoundedStderr:
        return BoundedStderr(self._stderr)

    def close(self) -> None:
        """Close stdin so the command can finish; kill it if it does not, and reap it."""
        for pipe in (self._stdin, self._stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        try:
            self.proc.wait(timeout=_GRACE_S)
        except subprocess.TimeoutExpired:
            self._kill()
        self._stderr.close()

    def _kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class BoundedStderr:
    """What dulwich reads of ssh's stderr to explain a hang-up: bounded in size and time."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe

    def readlines(self) -> list[bytes]:
        got = b""
        try:
            fd = self._pipe.fileno()
            while len(got) < _STDERR_CAP and _wait_readable(fd, _GRACE_S):
                piece = os.read(fd, _STDERR_CAP - len(got))
                if not piece:
                    break
                got += piece
        except (OSError, ValueError):  # already closed
            pass
        return got.splitlines(keepends=True)


def _wait_readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])
