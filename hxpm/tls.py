"""Which certificate authorities HTTPS connections trust (docs/network.md, "Certificates").

hxpm accepts the variables users of git, pip/requests and OpenSSL already set, read at call
time, first one set wins:

1. ``GIT_SSL_CAINFO`` (a bundle file) and/or ``GIT_SSL_CAPATH`` (a hashed directory), as git;
2. ``REQUESTS_CA_BUNDLE`` (a file or a directory), as pip and requests;
3. ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, read by OpenSSL itself;
4. the system store.

Choices 1 and 2 *replace* the system store (as with git and requests); 3 is OpenSSL's own
default lookup. A variable naming a path that does not exist is an error naming the
variable, not a silent fallback.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from hxpm.errors import UsageError

CA_VARIABLES = (
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
CERT_HINT = (
    "The server's certificate is not signed by a CA hxpm trusts. For a private CA, point "
    "SSL_CERT_FILE, REQUESTS_CA_BUNDLE or GIT_SSL_CAINFO at its PEM bundle "
    "(see docs/network.md)."
)


@dataclass(frozen=True, slots=True)
class CASettings:
    """Where to load trusted CAs from; both None means OpenSSL's defaults (SSL_CERT_*)."""

    ca_file: str | None = None
    ca_dir: str | None = None
    variable: str | None = None  # the variable they came from, for messages


def ca_settings() -> CASettings:
    """The CA locations the environment asks for (module docstring for the order).

    Raises:
        UsageError: the chosen variable names a path that does not exist or has the wrong kind.
    """
    git_file = _env("GIT_SSL_CAINFO")
    git_dir = _env("GIT_SSL_CAPATH")
    if git_file or git_dir:
        return CASettings(
            _checked("GIT_SSL_CAINFO", git_file, want_dir=False) if git_file else None,
            _checked("GIT_SSL_CAPATH", git_dir, want_dir=True) if git_dir else None,
            "GIT_SSL_CAINFO" if git_file else "GIT_SSL_CAPATH",
        )
    bundle = _env("REQUESTS_CA_BUNDLE")
    if bundle:
        if Path(bundle).is_dir():
            return CASettings(None, bundle, "REQUESTS_CA_BUNDLE")
        return CASettings(
            _checked("REQUESTS_CA_BUNDLE", bundle, want_dir=False), None, "REQUESTS_CA_BUNDLE"
        )
    return CASettings()


def ssl_context() -> ssl.SSLContext:
    """A verifying client context loaded per :func:`ca_settings` (for urllib downloads).

    Raises:
        UsageError: as :func:`ca_settings`, or a bundle that holds no usable certificate.
    """
    chosen = ca_settings()
    if chosen.ca_file is None and chosen.ca_dir is None:
        return ssl.create_default_context()  # OpenSSL reads SSL_CERT_FILE / SSL_CERT_DIR
    try:
        return ssl.create_default_context(cafile=chosen.ca_file, capath=chosen.ca_dir)
    except (ssl.SSLError, OSError) as e:
        raise UsageError(
            f"{chosen.variable}: expected PEM certificates, got a file that "
            f"does not load ({type(e).__name__})",
            hint=f"Point {chosen.variable} at a PEM CA bundle.",
        ) from None


def is_certificate_error(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it wraps) is a failed certificate verification."""
    for _ in range(8):  # a short chain: urllib3 and dulwich wrap the ssl error
        if error is None:
            return False
        if isinstance(error, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(error):  # urllib3 flattens it into text
            return True
        reason = getattr(error, "reason", None)
        error = (
            reason if isinstance(reason, BaseException) else (error.__cause__ or error.__context__)
        )
    return False


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _checked(variable: str, value: str, *, want_dir: bool) -> str:
    path = Path(value).expanduser()
    ok = path.is_dir() if want_dir else path.is_file()
    if not ok:
        kind = "a directory of CA certificates" if want_dir else "a PEM CA bundle file"
        raise UsageError(
            f"{variable}: expected {kind}, got {value!r} (not found)",
            hint=f"Fix or unset {variable}.",
        )
    return str(path)
