"""HTTP credentials, read the way git and curl users expect (docs/network.md, "Credentials").

Two sources, in this order:

1. the ``user[:password]`` of a URL given on the command line: held in memory for that one
   call (on :class:`hxpm.index.urls.GitURL`), passed to the HTTP client, never stored;
2. a netrc file: ``$NETRC`` when set, else ``~/.netrc``; the entry ``machine HOST:PORT`` wins
   over ``machine HOST``, then ``default``. A URL naming only a user takes the password from
   the netrc entry for that host when its login matches.

hxpm never writes credentials anywhere and never shows them: :class:`Credentials` hides the
password from ``repr``, and messages name the host and the file, not the login (an HTTP
"user" is often a token). A netrc file that holds a password for the host hxpm connects to
must be readable by its owner only, as Python and ssh insist; a file that does not parse is
reported by line number only (its text could be a password). Stdlib only, no I/O at import.
"""

from __future__ import annotations

import base64
import netrc
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from hxpm.errors import UsageError

MAX_NETRC_BYTES = 1 << 20
FROM_URL = "the URL"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A login and password for HTTP Basic auth, and where they came from (for messages).

    Attributes:
        username: The login (may be an access token: never shown).
        password: The password or token; None for a login-only URL.
        origin: ``"the URL"`` or the netrc file's path.
    """

    username: str = field(repr=False)
    password: str | None = field(default=None, repr=False)
    origin: str = FROM_URL

    def basic_auth_header(self) -> str:
        """The ``Authorization`` header value for HTTP Basic auth."""
        token = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")


def netrc_path() -> Path:
    """The netrc file hxpm reads: ``$NETRC`` when set, else ``~/.netrc`` (read per call)."""
    chosen = os.environ.get("NETRC", "").strip()
    return Path(chosen).expanduser() if chosen else Path.home() / ".netrc"


def credentials_for(
    host: str, port: int | None, from_url: Credentials | None = None
) -> Credentials | None:
    """What to send to ``host`` (and ``port``): the URL's credentials, else the netrc entry.

    Raises:
        UsageError: the netrc file does not parse, or holds a password for ``host`` while
            other users may read it.
    """
    if from_url is not None and from_url.password is not None:
        return from_url
    found = netrc_entry(host, port)
    if from_url is None:
        return found
    if found is not None and found.username == from_url.username:
        return found
    return from_url


def netrc_entry(host: str, port: int | None) -> Credentials | None:
    """The netrc entry for ``host`` (``HOST:PORT`` first), or None without file or entry.

    Raises:
        UsageError: as :func:`credentials_for`.
    """
    path = netrc_path()
    try:
        info = path.stat()
    except OSError:
        return None  # no netrc: nothing to send, as with git and curl
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_NETRC_BYTES:
        raise _bad_netrc(path, f"expected a regular file under {MAX_NETRC_BYTES} bytes")
    try:
        parsed = netrc.netrc(str(path))  # an explicit path: we check permissions below
    except netrc.NetrcParseError as e:
        # The parser quotes the offending token, which may be a password: give the line only.
        raise _bad_netrc(path, f"line {e.lineno}: not valid netrc syntax") from None
    except (OSError, UnicodeDecodeError) as e:
        raise _bad_netrc(path, f"cannot read it ({type(e).__name__})") from None
    names = ([f"{host}:{port}"] if port is not None else []) + [host]
    entry = next((parsed.hosts[n] for n in names if n in parsed.hosts), None)
    if entry is None:
        entry = parsed.hosts.get("default")
    if entry is None:
        return None
    login, _account, password = entry
    if password:
        _check_private(path, info)
    return Credentials(login or "", password or None, str(path))


def _check_private(path: Path, info: os.stat_result) -> None:
    if os.name != "posix":
        return
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(
            f"{path}: holds a password but other users can read it or it is not yours "
            f"(mode {stat.S_IMODE(info.st_mode):04o})",
            hint=f"Make it private: chmod 600 {path}",
        )


def _bad_netrc(path: Path, why: str) -> UsageError:
    return UsageError(
        f"netrc file {path}: {why}", hint="Fix the file, or point NETRC at another one."
    )
