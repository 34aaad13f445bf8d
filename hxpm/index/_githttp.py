"""dulwich's HTTP(S) Git client with hxpm's rules on top; built by ``_gitwire.client_for``.

- Credentials come from the URL given for this call or from netrc
  (:mod:`hxpm.index.credentials`) and go only to the URL's origin: dulwich drops them on a
  redirect to another host. A 401 becomes :class:`AuthenticationError` naming the host and
  the netrc file, never the login or password.
- Trusted CAs follow :mod:`hxpm.tls` (``GIT_SSL_CAINFO`` > ``REQUESTS_CA_BUNDLE`` > OpenSSL's
  ``SSL_CERT_FILE``/``SSL_CERT_DIR``); a failed certificate check becomes a NetworkError
  whose hint names those variables.
- A dumb server (static files after ``git update-server-info``) lists no ``HEAD`` in
  ``info/refs``; it is read from the ``HEAD`` file, so index updates, which follow HEAD,
  work there too. dulwich itself fetches objects from such a server.

Reads, deadlines and byte caps are :mod:`hxpm.index._gitguard`'s business: it wraps this
client's ``_http_request`` from outside, and every request here goes through that wrapper.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from dulwich.client import HTTPUnauthorized, Urllib3HttpGitClient
from dulwich.errors import GitProtocolError
from dulwich.objects import ObjectID
from dulwich.refs import Ref

from hxpm.errors import AuthenticationError, NetworkError
from hxpm.index._gitlocal import HEAD_REF, HEX40_RE
from hxpm.index.credentials import Credentials, netrc_path
from hxpm.tls import CERT_HINT, ca_settings, is_certificate_error

MAX_HEAD_BYTES = 4096  # a HEAD file is one line


def pool_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """urllib3 pool-manager arguments with the CA locations the environment asks for.

    Raises:
        UsageError: a CA variable names a path that does not exist.
    """
    ca = ca_settings()
    if ca.ca_file is not None or ca.ca_dir is not None:
        kwargs["ca_certs"], kwargs["ca_cert_dir"] = ca.ca_file, ca.ca_dir
    return kwargs


class HttpGitClient(Urllib3HttpGitClient):
    """Smart or dumb HTTP(S) Git client; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        shown: str,
        credentials: Credentials | None,
        *,
        pool_manager: Any,
        timeout: float,
    ) -> None:
        super().__init__(
            base_url,
            pool_manager=pool_manager,
            timeout=timeout,
            username=credentials.username if credentials else None,
            password=credentials.password if credentials else None,
        )
        self._shown = shown  # the URL as messages show it (no credentials)
        self._host = urlsplit(base_url).netloc
        self._sent_from = credentials.origin if credentials else None

    def _http_request(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        data: Any = None,
        raise_for_status: bool = True,
    ) -> Any:
        try:
            resp, read = super()._http_request(url, headers, data, raise_for_status)
        except HTTPUnauthorized:
            raise self._unauthorized() from None
        except GitProtocolError as e:
            if is_certificate_error(e.__cause__):
                raise NetworkError(
                    f"connecting to {self._shown}: the server's TLS certificate does not verify",
                    hint=CERT_HINT,
                    details={"reason": "certificate"},
                ) from None
            raise
        if resp.status == 401:  # dulwich's dumb-HTTP helper asks without raise_for_status
            resp.close()
            raise self._unauthorized()
        return resp, read

    def _discover_references(
        self,
        service: bytes,
        base_url: str,
        protocol_version: int | None = None,
        ref_prefix: Any = None,
    ) -> Any:
        refs, caps, url, symrefs, peeled = super()._discover_references(
            service, base_url, protocol_version=protocol_version, ref_prefix=ref_prefix
        )
        if self.dumb and HEAD_REF not in refs:
            target = self._dumb_head(url)
            if target is not None and HEX40_RE.match(target.decode("ascii", "replace")):
                refs[HEAD_REF] = ObjectID(target.lower())
            elif target is not None and refs.get(Ref(target)) is not None:
                refs[HEAD_REF], symrefs[HEAD_REF] = refs[Ref(target)], Ref(target)
        return refs, caps, url, symrefs, peeled

    def _dumb_head(self, base_url: str) -> bytes | None:
        """What the ``HEAD`` file names (``refs/heads/...`` or a commit); None if unreadable."""
        resp, read = self._http_request(base_url + "HEAD", raise_for_status=False)
        try:
            if resp.status != 200:
                return None
            text = b""
            while len(text) <= MAX_HEAD_BYTES and (chunk := read(MAX_HEAD_BYTES + 1)):
                text += chunk
        finally:
            resp.close()
        if len(text) > MAX_HEAD_BYTES:
            return None
        text = text.strip()
        return text[len(b"ref: ") :].strip() if text.startswith(b"ref: ") else text

    def _unauthorized(self) -> AuthenticationError:
        host = self._host.rpartition("@")[2]
        machine = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if self._sent_from is None:
            why = "asks for credentials (HTTP 401) and none were found"
        else:
            why = f"refused the credentials from {self._sent_from} (HTTP 401)"
        return AuthenticationError(
            f"{self._shown}: {host} {why}",
            hint=f"Add a netrc entry for {host} to {netrc_path()} (machine {machine} login "
            "USER password TOKEN, mode 600), or give user:token@ in the URL for one call.",
            details={"reason": "unauthorized", "host": host},
        )
