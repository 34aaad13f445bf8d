"""Git URLs and Git sources: normalise what is safe, refuse everything else
(docs/architecture.md §1, §10).

A Git URL reaches a transport (HTTP, the git protocol, an ``ssh`` subprocess, a local
directory), so anything that could become a command-line option or a transport helper is
refused here, before any I/O:

- only the schemes ``https``, ``http``, ``git``, ``ssh`` and ``file`` (``git+`` prefixes are
  dropped), the scp-like ``user@host:path`` and the shorthand ``host.tld/user/repo``
  (which means ``https://host.tld/user/repo.git``);
- never a ``<transport>::`` form (``ext::sh -c ...``), never a leading ``-`` in the value,
  the user, the host or any path segment, never whitespace or control characters, never an
  empty host, never ``..`` path segments in a remote URL, never more than 2048 characters.

A Git *source* is a URL plus an optional ``#ref`` (tag, branch or 40-hex commit) and an
optional ``@SPEC`` version range. No dulwich here: this module is pure string handling.

Credentials never become part of a URL hxpm keeps (docs/network.md): the canonical
:attr:`GitURL.url` of an ``http(s)`` URL has no ``user:password@``, and that of an ``ssh`` or
``git`` URL keeps only the login. What the text carried is held, for this one call, in
:attr:`GitURL.credentials`, which takes no part in comparisons, hashes, ``repr`` or the
cache key. Error messages quote refused text with its credentials removed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote, urlsplit

from hxpm.core.redact import strip_url_credentials
from hxpm.core.versions import parse_spec
from hxpm.errors import UsageError

if TYPE_CHECKING:  # a dry run parses names only: no credentials, netrc or hashlib to import
    from hxpm.index.credentials import Credentials

MAX_URL_CHARS = 2048
MAX_REF_CHARS = 255
SCHEMES = ("https", "http", "git", "ssh", "file")
URL_EXPECTATION = (
    "a Git URL: https://host/path, http://host/path, git://host/path, "
    "ssh://[user@]host/path, file:///absolute/path, user@host:path, or host.tld/user/repo"
)
URL_HINT = (
    "Write a Git URL such as github.com/user/expert-sql, https://host/user/repo.git or "
    "git@host:user/repo.git; transport helpers (ext::) and values starting with '-' are refused."
)
REF_EXPECTATION = (
    "a tag, branch or 40-hex commit following git's ref-name rules "
    "(no '..', '@{', spaces, ~^:?*[\\, no leading '-' or '/', at most 255 characters)"
)

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# git runs `git-remote-<transport>` for `<transport>::<address>`: never accept that form.
_TRANSPORT_RE = re.compile(r"^[A-Za-z0-9+._-]*::")
_CONTROL_OR_SPACE_RE = re.compile(r"[\x00-\x20\x7f-\x9f\s]")
# scp-like: [user@]host:path, where no '/' comes before the ':'.
_SCP_RE = re.compile(
    r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:\[\]]+|\[[0-9A-Fa-f:.]+\]):(?P<path>.*)$"
)
# Shorthand: first path part is a dotted host, `localhost`, optionally with a port.
_SHORTHAND_RE = re.compile(r"^(?P<host>[^/:@]+)(?::(?P<port>\d+))?/(?P<path>.+)$")
_HOST_RE = re.compile(
    r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$"
)
_HEX40_RE = re.compile(r"^[0-9a-fA-F]{40}$")
_REF_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
# What may follow the last '@' for it to be read as a version range rather than part of a URL.
_SPEC_START_RE = re.compile(r"^[0-9^~<>=!*]")


@dataclass(frozen=True, slots=True)
class GitURL:
    """A validated Git URL.

    Attributes:
        url: The canonical form, without credentials: what state, lock files, index lines
            and cache keys hold, and what messages show.
        kind: One of ``https``, ``http``, ``git``, ``file``, ``ssh``.
        credentials: The ``user[:password]`` the text carried (``http(s)`` only), for this
            call's connections; never stored, compared or shown.
    """

    url: str
    kind: str
    credentials: Credentials | None = field(default=None, compare=False, repr=False)

    @property
    def cache_key(self) -> str:
        """First 16 hex digits of SHA-256 of :attr:`url`; names this remote's cache folder."""
        import hashlib

        return hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:16]

    @property
    def display(self) -> str:
        """What messages show: :attr:`url`, which holds no password or HTTP user."""
        return self.url

    def __str__(self) -> str:
        return self.display


@dataclass(frozen=True, slots=True)
class GitSource:
    """A Git URL with an optional ``#ref`` and an optional ``@SPEC`` version range."""

    url: GitURL
    ref: str | None = None
    spec: str | None = None


def normalise_git_url(text: str) -> GitURL:
    """Validate a Git URL and return its normalised form.

    Args:
        text: What the user or an index wrote (see the module docstring for the forms).

    Returns:
        The normalised :class:`GitURL`.

    Raises:
        UsageError: The value is not one of the accepted forms or could be abused as a
            command-line option or transport helper; the message names the value.
    """
    _check_common(text)
    if "#" in text or "?" in text:
        raise _refuse(text, "'#ref' belongs to a Git source, and queries are not accepted")
    if text.startswith("git+"):
        return _from_scheme_url(text[len("git+") :], text)
    if "://" in text:
        return _from_scheme_url(text, text)
    shorthand = _SHORTHAND_RE.match(text)
    if shorthand and _is_shorthand_host(shorthand.group("host")):
        path = shorthand.group("path").rstrip("/")
        if not path.endswith(".git"):
            path += ".git"
        port = shorthand.group("port")
        netloc = shorthand.group("host") + (f":{port}" if port else "")
        return _from_scheme_url(f"https://{netloc}/{path}", text)
    scp = _SCP_RE.match(text)
    if scp and (scp.group("user") or _is_shorthand_host(scp.group("host"))):
        return _from_scp(scp, text)
    raise _refuse(text, "it is not a URL with a known scheme, scp-like or host.tld/path form")


def parse_git_source(text: str) -> GitSource:
    """Split ``URL[#ref][@SPEC]`` (or ``URL@SPEC#ref``) into its parts and validate each.

    Args:
        text: A Git source as written on the command line or in a requirement.

    Returns:
        The :class:`GitSource`; ``spec`` is the validated range text.

    Raises:
        UsageError: The URL, the ref or the version range is invalid.
    """
    _check_common(text)
    base, hash_sign, fragment = text.partition("#")
    spec: str | None = None
    ref: str | None = None
    if hash_sign:
        fragment, spec = _split_spec(fragment)
        ref = validate_ref_name(fragment, field="git source ref")
    base, base_spec = _split_spec(base)
    if base_spec is not None:
        if spec is not None:
            raise UsageError(
                "git source: expected at most one '@SPEC' version range, "
                f"got {strip_url_credentials(text)!r}"
            )
        spec = base_spec
    if spec is not None:
        spec = str(parse_spec(spec, field="git source version range"))
    return GitSource(normalise_git_url(base), ref, spec)


def looks_like_git_url(text: str) -> bool:
    """Whether ``text`` is meant as a Git URL rather than an (index-qualified) expert name.

    True for scheme forms (``https://``, ``git+…``, ``ext::`` so that it gets refused as a
    URL), scp-like ``user@host:path`` and ``host.tld/path``; false for ``expert-sql``,
    ``sql@^1`` and ``myindex/expert-sql``. Local paths are the caller's business.
    """
    if not isinstance(text, str) or not text:
        return False
    base = text.partition("#")[0]
    base = _split_spec(base)[0]
    if _SCHEME_RE.match(base) or _TRANSPORT_RE.match(base):
        return True
    shorthand = _SHORTHAND_RE.match(base)
    if shorthand and _is_shorthand_host(shorthand.group("host")):
        return True
    scp = _SCP_RE.match(base)
    return bool(scp and (scp.group("user") or _is_shorthand_host(scp.group("host"))))


def validate_ref_name(ref: str, *, field: str = "ref") -> str:
    """Return ``ref`` if it is a safe tag/branch name or a 40-hex commit.

    Args:
        ref: A tag (``v1.0.0``), a branch, a full ref (``refs/tags/v1.0.0``) or a commit.
        field: The name used in the error message.

    Returns:
        ``ref`` unchanged (a commit is lower-cased).

    Raises:
        UsageError: ``ref`` breaks git's ref-name rules or could be read as an option.
    """
    if not isinstance(ref, str) or not ref or len(ref) > MAX_REF_CHARS:
        raise UsageError(f"{field}: expected {REF_EXPECTATION}, got {ref!r}")
    if _HEX40_RE.match(ref):
        return ref.lower()
    bad = (
        ref.startswith(("-", "/"))
        or ref.endswith(("/", "."))
        or ".." in ref
        or "//" in ref
        or "@{" in ref
        or ref == "@"
        or _REF_FORBIDDEN_RE.search(ref) is not None
        or any(part.startswith(".") or part.endswith(".lock") for part in ref.split("/"))
    )
    if bad:
        raise UsageError(f"{field}: expected {REF_EXPECTATION}, got {ref!r}")
    return ref


# --- helpers -------------------------------------------------------------------------------


def _refuse(text: str, why: str) -> UsageError:
    text = strip_url_credentials(text)  # the message must not echo a password
    shown = text if len(text) <= 200 else text[:200] + "..."
    return UsageError(f"git URL: expected {URL_EXPECTATION}, got {shown!r} ({why})", hint=URL_HINT)


def _check_common(text: str) -> None:
    if not isinstance(text, str) or not text:
        raise UsageError(f"git URL: expected {URL_EXPECTATION}, got {text!r}", hint=URL_HINT)
    if len(text) > MAX_URL_CHARS:
        raise _refuse(text, f"longer than {MAX_URL_CHARS} characters")
    if _TRANSPORT_RE.match(text):
        raise _refuse(text, "'<transport>::' forms run external helpers")
    if text.startswith("-"):
        raise _refuse(text, "a leading '-' could be read as an option")
    if _CONTROL_OR_SPACE_RE.search(text):
        raise _refuse(text, "whitespace or control characters")


def _is_shorthand_host(host: str) -> bool:
    return host == "localhost" or ("." in host and not host.startswith("."))


def _split_spec(text: str) -> tuple[str, str | None]:
    """Take ``@SPEC`` off the end when what follows the last '@' reads as a version range."""
    at = text.rfind("@")
    if at <= 0:
        return text, None
    tail = text[at + 1 :]
    # A range never holds '/' or ':', while the user part of a URL is followed by a host.
    if _SPEC_START_RE.match(tail) and "/" not in tail and ":" not in tail:
        return text[:at], tail
    return text, None


def _from_scheme_url(url: str, original: str) -> GitURL:
    match = _SCHEME_RE.match(url)
    if not match:
        raise _refuse(original, "expected SCHEME:// after 'git+'")
    scheme = match.group(1).lower()
    if scheme not in SCHEMES:
        raise _refuse(original, f"unknown scheme {scheme!r}; accepted: {', '.join(SCHEMES)}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse(original, "malformed host or port") from None
    if scheme == "file":
        return _from_file_url(parts, original)
    host = (parts.hostname or "").lower()
    if not host:
        raise _refuse(original, "empty host")
    _check_remote_parts(parts.username, host, parts.path, original)
    login = parts.netloc.rpartition("@")[0].partition(":")[0]
    credentials = None
    if scheme in ("http", "https"):
        if parts.username is not None:
            from hxpm.index.credentials import FROM_URL, Credentials

            password = unquote(parts.password) if parts.password is not None else None
            credentials = Credentials(unquote(parts.username), password, FROM_URL)
        login = ""  # an HTTP user is often a token: it travels in `credentials` only
    netloc = (login + "@" if login else "") + _bracket(host)
    if port is not None:
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    return GitURL(f"{scheme}://{netloc}{path}", scheme, credentials)


def _from_file_url(parts: SplitResult, original: str) -> GitURL:
    if parts.netloc not in ("", "localhost"):
        raise _refuse(original, "file:// URLs name a local absolute path (file:///path)")
    path = parts.path.rstrip("/") or "/"
    decoded = unquote(path)
    if not decoded.startswith("/") or decoded == "/":
        raise _refuse(original, "file:// needs an absolute repository path")
    if _CONTROL_OR_SPACE_RE.search(decoded.replace(" ", "")):
        raise _refuse(original, "control characters in the path")
    if any(seg.startswith("-") for seg in decoded.split("/")):
        raise _refuse(original, "a path segment starting with '-'")
    return GitURL(f"file://{path}", "file")


def _from_scp(match: re.Match[str], original: str) -> GitURL:
    user, host, path = match.group("user"), match.group("host").lower(), match.group("path")
    _check_remote_parts(user, host.strip("[]"), path, original)
    if not path.strip("/"):
        raise _refuse(original, "empty repository path")
    prefix = f"{user}@" if user else ""
    return GitURL(f"{prefix}{host}:{path.rstrip('/')}", "ssh")


def _check_remote_parts(user: str | None, host: str, path: str, original: str) -> None:
    if host.startswith("-") or (user is not None and unquote(user).startswith("-")):
        raise _refuse(original, "a user or host starting with '-' could be read as an option")
    if not _HOST_RE.match(host):
        raise _refuse(original, f"expected a host name or IP address, got host {host!r}")
    if not path.strip("/"):
        raise _refuse(original, "empty repository path")
    decoded = unquote(path)
    if _CONTROL_OR_SPACE_RE.search(decoded):
        raise _refuse(original, "whitespace or control characters in the path")
    segments = decoded.split("/")
    if any(seg in ("..", ".") for seg in segments):
        raise _refuse(original, "'..' or '.' path segments")
    if any(seg.startswith("-") for seg in segments):
        raise _refuse(original, "a path segment starting with '-'")


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def apply_mirrors(url: GitURL) -> GitURL:
    """Where to actually connect for ``url``: ``HXPM_GIT_MIRRORS`` rewrites URL prefixes.

    The variable holds ``PREFIX=REPLACEMENT`` pairs separated by ``;`` (like Git's
    ``url.<base>.insteadOf``); the longest matching prefix wins. Only the connection moves:
    index lines, lock files and caches keep the canonical URL, and everything fetched is
    still held to the digests and signatures those name. Read at call time. Credentials
    the original URL carried are not sent to the mirror (a replacement may carry its own).

    Raises:
        UsageError: a malformed pair, or a rewritten URL that is not acceptable.
    """
    raw = os.environ.get("HXPM_GIT_MIRRORS", "").strip()
    if not raw:
        return url
    best: tuple[str, str] | None = None
    for pair in filter(None, (p.strip() for p in raw.split(";"))):
        prefix, sep, replacement = pair.partition("=")
        if not sep or not prefix or not replacement:
            raise UsageError(
                f"HXPM_GIT_MIRRORS: expected PREFIX=REPLACEMENT pairs separated "
                f"by ';', got {strip_url_credentials(pair)!r}"
            )
        if url.url.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, replacement)
    if best is None:
        return url
    return normalise_git_url(best[1] + url.url[len(best[0]) :])
