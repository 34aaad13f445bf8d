"""Git URL normalisation and refusal, Git sources and refs (hxpm/index/urls.py,
docs/architecture.md §1, §10)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from hxpm.errors import UsageError
from hxpm.index.urls import (
    GitURL,
    looks_like_git_url,
    normalise_git_url,
    parse_git_source,
    validate_ref_name,
)

ACCEPTED = [
    # shorthand host/path means https, with .git added
    ("github.com/user/expert-sql", "https://github.com/user/expert-sql.git", "https"),
    (
        "gitlab.example.org/g/sub/expert-sql/",
        "https://gitlab.example.org/g/sub/expert-sql.git",
        "https",
    ),
    ("github.com/user/expert-sql.git", "https://github.com/user/expert-sql.git", "https"),
    ("localhost/u/r", "https://localhost/u/r.git", "https"),
    ("localhost:8080/u/r", "https://localhost:8080/u/r.git", "https"),
    # schemes, kept as written apart from case of scheme/host and trailing slashes
    ("https://GitHub.com/user/expert-sql", "https://github.com/user/expert-sql", "https"),
    ("HTTPS://github.com/u/r.git/", "https://github.com/u/r.git", "https"),
    ("http://127.0.0.1:8000/r.git", "http://127.0.0.1:8000/r.git", "http"),
    ("http://[::1]:8000/r.git", "http://[::1]:8000/r.git", "http"),
    ("git+https://github.com/u/r.git", "https://github.com/u/r.git", "https"),
    ("git+ssh://git@host.org/u/r.git", "ssh://git@host.org/u/r.git", "ssh"),
    ("git://git.example.org/r.git", "git://git.example.org/r.git", "git"),
    ("ssh://git@host.org:2222/u/r.git", "ssh://git@host.org:2222/u/r.git", "ssh"),
    # credentials never become part of the canonical URL (they ride in .credentials)
    ("https://user:s3cret@host.org/u/r.git", "https://host.org/u/r.git", "https"),
    ("file:///srv/git/r.git", "file:///srv/git/r.git", "file"),
    ("file://localhost/srv/my%20repos/r.git", "file:///srv/my%20repos/r.git", "file"),
    # scp-like
    ("git@github.com:user/repo.git", "git@github.com:user/repo.git", "ssh"),
    ("github.com:user/repo.git", "github.com:user/repo.git", "ssh"),
    ("deploy@myhost:repos/r.git/", "deploy@myhost:repos/r.git", "ssh"),
]

REFUSED = [
    ("", "expected a Git URL"),
    ("ext::sh -c touch% /tmp/pwned", "transport"),
    ("ext::sh", "transport"),
    ("git+ext::sh", "transport"),
    ("fd::17", "transport"),
    ("-uhttps://x.org/r", "leading '-'"),
    ("--upload-pack=touch /tmp/x", "leading '-'"),
    ("ssh://-oProxyCommand=touch%20x/r", "starting with '-'"),
    ("ssh://-oProxyCommand=x@host.org/r", "starting with '-'"),
    ("ssh://host.org/-oProxyCommand=x", "path segment starting with '-'"),
    ("git@-oProxyCommand=x:r.git", "starting with '-'"),
    ("https://host.org/u/-r.git", "path segment starting with '-'"),
    ("https://host.org/u/r .git", "whitespace"),
    ("https://host.org/u/r\n.git", "whitespace or control"),
    ("https://host.org/u/r\x00.git", "whitespace or control"),
    ("https://host.org/u/r%0a.git", "control characters"),
    ("https:///u/r.git", "empty host"),
    ("https://:80/u/r.git", "empty host"),
    ("https://host.org", "empty repository path"),
    ("https://host.org/", "empty repository path"),
    ("ftp://host.org/r.git", "unknown scheme 'ftp'"),
    ("javascript://host.org/r", "unknown scheme"),
    ("git+foo://host.org/r", "unknown scheme 'foo'"),
    ("https://host.org/u/../../etc/r.git", "'..'"),
    ("https://host.org/u/%2e%2e/r.git", "'..'"),
    ("git@host.org:../r.git", "'..'"),
    ("https://host.org:99999/r.git", "malformed host or port"),
    ("https://ho$t.org/r.git", "expected a host name"),
    ("https://host.org/u/r.git#v1", "'#ref'"),
    ("https://host.org/u/r.git?x=1", "queries"),
    ("file://otherhost/srv/r.git", "local absolute path"),
    ("file:///", "absolute repository path"),
    ("expert-sql", "not a URL"),
    ("myindex/expert-sql", "not a URL"),
    ("/srv/git/r.git", "not a URL"),
    ("./r.git", "not a URL"),
    ("https://host.org/" + "a" * 2100, "longer than 2048"),
]


@pytest.mark.parametrize(("text", "url", "kind"), ACCEPTED)
def test_accepted_urls_normalise(text: str, url: str, kind: str) -> None:
    got = normalise_git_url(text)
    assert (got.url, got.kind) == (url, kind)


@pytest.mark.parametrize(("text", "why"), REFUSED)
def test_refused_urls_name_the_value_and_the_reason(text: str, why: str) -> None:
    with pytest.raises(UsageError) as info:
        normalise_git_url(text)
    message = info.value.message
    assert why in message
    assert "expected" in message
    assert repr(text[:200])[:60] in message or text == ""
    assert info.value.exit_code == 2


def test_refusal_hint_lists_accepted_forms() -> None:
    with pytest.raises(UsageError) as info:
        normalise_git_url("ext::sh")
    assert info.value.hint is not None and "github.com/user/expert-sql" in info.value.hint


def test_cache_key_is_a_short_hash_of_the_url() -> None:
    url = normalise_git_url("github.com/user/expert-sql")
    assert url.cache_key == hashlib.sha256(url.url.encode()).hexdigest()[:16]
    assert re.fullmatch(r"[0-9a-f]{16}", url.cache_key)
    # the shorthand and the https form it stands for share one cache
    assert normalise_git_url("https://github.com/user/expert-sql.git").cache_key == url.cache_key


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:s3cret@host.org/u/r.git", "https://host.org/u/r.git"),
        ("https://ghp_token@host.org/u/r.git", "https://host.org/u/r.git"),
        ("ssh://git:pw@host.org/u/r.git", "ssh://git@host.org/u/r.git"),
        ("ssh://git@host.org/u/r.git", "ssh://git@host.org/u/r.git"),
        ("git@host.org:u/r.git", "git@host.org:u/r.git"),
        ("https://host.org/u/r.git", "https://host.org/u/r.git"),
    ],
)
def test_display_removes_secrets(text: str, shown: str) -> None:
    url = normalise_git_url(text)
    assert url.display == shown
    assert str(url) == shown
    assert "s3cret" not in repr(url.display)


def test_giturl_is_a_frozen_value() -> None:
    url = GitURL("https://h.org/r.git", "https")
    with pytest.raises(AttributeError):
        url.url = "x"  # type: ignore[misc]
    assert url == normalise_git_url("https://h.org/r.git")


# --- Git sources ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "url", "ref", "spec"),
    [
        ("github.com/u/expert-json", "https://github.com/u/expert-json.git", None, None),
        ("github.com/u/expert-json@>=0.4", "https://github.com/u/expert-json.git", None, ">=0.4"),
        ("github.com/u/r@^1.2", "https://github.com/u/r.git", None, "^1.2"),
        ("github.com/u/r@~1.2", "https://github.com/u/r.git", None, "~1.2"),
        ("github.com/u/r@*", "https://github.com/u/r.git", None, "*"),
        ("github.com/u/r@1.2.3", "https://github.com/u/r.git", None, "1.2.3"),
        ("github.com/u/r@>=1.0.0,<2.0.0", "https://github.com/u/r.git", None, ">=1.0.0,<2.0.0"),
        ("git+https://h.org/u/r.git#v0.3.0", "https://h.org/u/r.git", "v0.3.0", None),
        ("git+https://h.org/u/r.git#refs/tags/v1", "https://h.org/u/r.git", "refs/tags/v1", None),
        ("https://h.org/u/r.git#main@^1", "https://h.org/u/r.git", "main", "^1"),
        ("https://h.org/u/r.git@^1#main", "https://h.org/u/r.git", "main", "^1"),
        ("https://h.org/r#" + "A" * 40, "https://h.org/r", "a" * 40, None),
        # scp-like user@ is not a version range
        ("git@github.com:u/r.git", "git@github.com:u/r.git", None, None),
        ("git@github.com:u/r.git@>=0.4", "git@github.com:u/r.git", None, ">=0.4"),
        ("git@github.com:u/r.git#v1", "git@github.com:u/r.git", "v1", None),
        # a user part that starts with a digit is followed by a host, not a range
        ("https://1bot@h.org/u/r.git", "https://h.org/u/r.git", None, None),
    ],
)
def test_parse_git_source(text: str, url: str, ref: str | None, spec: str | None) -> None:
    source = parse_git_source(text)
    assert (source.url.url, source.ref, source.spec) == (url, ref, spec)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("github.com/u/r@^x", "version range"),
        ("github.com/u/r@>=", "version range"),
        ("github.com/u/r#..", "ref"),
        ("github.com/u/r#-x", "ref"),
        ("github.com/u/r#a..b", "ref"),
        ("github.com/u/r#", "ref"),
        ("github.com/u/r@^1#main@^2", "at most one"),
        ("ext::sh#v1", "transport"),
        ("expert-sql@^1", "not a URL"),
    ],
)
def test_parse_git_source_refuses(text: str, why: str) -> None:
    with pytest.raises(UsageError, match=re.escape(why)):
        parse_git_source(text)


@pytest.mark.parametrize(
    "ref", ["v1.0.0", "main", "feature/x", "refs/tags/v1.0.0", "release-2024.01", "v1+build"]
)
def test_valid_refs(ref: str) -> None:
    assert validate_ref_name(ref) == ref


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "-x",
        "--upload-pack=x",
        "a..b",
        "..",
        "/x",
        "x/",
        "x.",
        "a//b",
        "a b",
        "a\tb",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[b",
        "a\\b",
        "@",
        "a@{1}",
        ".hidden",
        "x/.y",
        "x.lock",
        "a/b.lock/c",
        "\x7f",
        "v" * 256,
    ],
)
def test_invalid_refs(ref: str) -> None:
    with pytest.raises(UsageError, match="expected a tag, branch or 40-hex commit"):
        validate_ref_name(ref)


# --- looks_like_git_url --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("github.com/user/expert-sql", True),
        ("github.com/user/expert-sql@^1", True),
        ("https://host.org/r.git", True),
        ("git+https://host.org/r.git#v1", True),
        ("file:///srv/r.git", True),
        ("git@github.com:u/r.git", True),
        ("localhost/u/r", True),
        ("localhost:8080/u/r", True),
        ("ext::sh -c x", True),  # so that it is refused as a URL, not looked up as a name
        ("expert-sql", False),
        ("sql@^1", False),
        ("expert-sql@>=1.0.0,<2.0.0", False),
        ("myindex/expert-sql", False),
        ("myindex/expert-sql@^1", False),
        ("./experts/sql", False),
        ("/abs/path", False),
        ("", False),
    ],
)
def test_looks_like_git_url(text: str, expected: bool) -> None:
    assert looks_like_git_url(text) is expected


def test_urls_module_does_not_import_dulwich() -> None:
    source = (Path(__file__).parents[3] / "hxpm" / "index" / "urls.py").read_text()
    assert "dulwich" not in source.replace("No dulwich here", "")


# --- credentials in URLs (docs/network.md) -------------------------------------------------


def test_http_credentials_are_held_apart_from_the_url() -> None:
    url = normalise_git_url("https://bob:s3cret%40x@host.org:8443/u/r.git")
    assert url.url == "https://host.org:8443/u/r.git"
    assert url.credentials is not None
    assert (url.credentials.username, url.credentials.password) == ("bob", "s3cret@x")
    # held for this call only: no part of equality, hashing, repr or the cache folder name
    assert url == normalise_git_url("https://host.org:8443/u/r.git")
    assert hash(url) == hash(normalise_git_url("https://host.org:8443/u/r.git"))
    assert url.cache_key == normalise_git_url("https://host.org:8443/u/r.git").cache_key
    assert "s3cret" not in repr(url) and "bob" not in repr(url)
    assert "s3cret" not in repr(parse_git_source("https://bob:s3cret@host.org/r.git#v1"))


def test_a_login_only_http_url_keeps_the_token_out_of_the_url() -> None:
    url = normalise_git_url("https://ghp_T0KEN@host.org/u/r.git")
    assert url.url == "https://host.org/u/r.git"
    assert url.credentials is not None and url.credentials.password is None
    assert "ghp_T0KEN" not in repr(url.credentials)


def test_ssh_keeps_the_login_and_drops_a_password() -> None:
    url = normalise_git_url("ssh://git:pw@host.org/u/r.git")
    assert url.url == "ssh://git@host.org/u/r.git" and url.credentials is None


@pytest.mark.parametrize(
    "text",
    [
        "https://u:SECRET@host.org/../r.git",  # refused for '..'
        "https://u:SECRET@-host.org/r.git",  # refused host
        "https://u:SECRET@host.org/r.git#v1@^1@^2",  # two ranges
        "https://u:SECRET@host.org:99999/r.git",  # bad port
    ],
)
def test_refusals_never_echo_a_password(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_git_source(text)
    assert "SECRET" not in info.value.message and "SECRET" not in (info.value.hint or "")
