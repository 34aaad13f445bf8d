"""Credentials come out of URLs wherever they appear in text (hxpm.core.redact)."""

from __future__ import annotations

import pytest

from hxpm.core.redact import has_url_credentials, strip_url_credentials


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("https://u:pw@h.org/r.git", "https://h.org/r.git"),
        ("http://tok@h.org:8080/r.git", "http://h.org:8080/r.git"),
        ("https://u:p@ss@h.org/r.git", "https://h.org/r.git"),  # unencoded '@' in the password
        ("ssh://git:pw@h.org/r.git", "ssh://git@h.org/r.git"),
        ("git+ssh://git:pw@h.org/r.git", "git+ssh://git@h.org/r.git"),
        ("git://u:pw@h.org/r.git", "git://u@h.org/r.git"),
        ("origin: https://a:b@x.org/r.git@v1.0.0", "origin: https://x.org/r.git@v1.0.0"),
        ("git@h.org:u/r.git", "git@h.org:u/r.git"),  # scp-like: a login, no password
        ("https://h.org/u/r.git@^1", "https://h.org/u/r.git@^1"),  # a range, not a user
        ("expert-sql@^1.2", "expert-sql@^1.2"),
        ("two https://a:1@x.org and http://b:2@y.org/p", "two https://x.org and http://y.org/p"),
    ],
)
def test_strip_url_credentials(text, clean):
    assert strip_url_credentials(text) == clean
    assert has_url_credentials(text) == (text != clean)
