"""Remove credentials from URLs inside any text: secrets are never stored or shown
(docs/architecture.md §10, security rules).

Pure string handling, usable from every layer: the state database's one-time clean-up, error
messages that quote a URL the user typed, and download messages. The canonical form of a
Git URL (:mod:`hxpm.index.urls`) follows the same rules, so a stripped URL and a normalised
one agree:

- ``http``, ``https`` and any other scheme: the whole ``user[:password]@`` part goes (an
  HTTP "user" is often an access token);
- ``ssh`` and ``git``: the login stays (it is no secret and ssh needs it), the password goes.
"""

from __future__ import annotations

import re

# The user part runs to the *last* '@' before the host, as urlsplit reads it, so a stray
# unencoded '@' in a password cannot leave its tail behind.
_USERINFO_RE = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")
_KEEP_LOGIN = ("ssh", "git", "git+ssh", "ssh+git")


def strip_url_credentials(text: str) -> str:
    """``text`` with the credentials of every ``scheme://user:pass@host`` URL in it removed."""
    if "@" not in text or "://" not in text:
        return text
    return _USERINFO_RE.sub(_strip_one, text)


def has_url_credentials(text: str) -> bool:
    """Whether :func:`strip_url_credentials` would change ``text``."""
    return strip_url_credentials(text) != text


def _strip_one(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    if scheme[:-3].lower() in _KEEP_LOGIN:
        login = match.group("userinfo").partition(":")[0]
        return f"{scheme}{login}@" if login else scheme
    return scheme
