"""netrc and URL credentials (hxpm.index.credentials; docs/network.md "Credentials")."""

from __future__ import annotations

import pytest

from hxpm.errors import UsageError
from hxpm.index.credentials import Credentials, credentials_for, netrc_entry, netrc_path


@pytest.fixture
def netrc(tmp_path, monkeypatch):
    path = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(path))

    def write(text: str, mode: int = 0o600):
        path.write_text(text)
        path.chmod(mode)
        return path

    return write


def test_netrc_path_honours_the_variable_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("NETRC", str(tmp_path / "x"))
    assert netrc_path() == tmp_path / "x"
    monkeypatch.delenv("NETRC")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert netrc_path() == tmp_path / "home" / ".netrc"


def test_no_file_means_no_credentials(netrc):
    assert netrc_entry("h.org", None) is None
    assert credentials_for("h.org", 443) is None


def test_host_and_port_wins_then_host_then_default(netrc):
    path = netrc(
        "machine h.org login a password pa\n"
        "machine h.org:8443 login b password pb\n"
        "default login c password pc\n"
    )
    assert (netrc_entry("h.org", 8443).username, netrc_entry("h.org", 8443).password) == ("b", "pb")
    assert netrc_entry("h.org", 443).password == "pa"
    assert netrc_entry("other.org", None).password == "pc"
    assert netrc_entry("h.org", None).origin == str(path)


def test_url_credentials_win_and_a_login_only_url_takes_the_netrc_password(netrc):
    netrc("machine h.org login bob password from-netrc\n")
    from_url = Credentials("bob", "from-url")
    assert credentials_for("h.org", None, from_url) is from_url
    got = credentials_for("h.org", None, Credentials("bob", None))
    assert got is not None and got.password == "from-netrc"
    other = Credentials("carol", None)  # another login: the netrc password is not hers
    assert credentials_for("h.org", None, other) is other


def test_a_readable_netrc_with_a_password_is_refused(netrc):
    path = netrc("machine h.org login bob password hunter2\n", mode=0o644)
    with pytest.raises(UsageError) as info:
        netrc_entry("h.org", None)
    assert "chmod 600" in (info.value.hint or "") and str(path) in info.value.message
    assert "hunter2" not in info.value.message
    # The file does not matter for a host it has no entry for.
    assert netrc_entry("else.org", None) is None


def test_a_broken_netrc_names_the_line_not_the_token(netrc):
    netrc("s3cr3t-pasted-at-the-top\nmachine h.org login bob password x\n")
    with pytest.raises(UsageError) as info:
        netrc_entry("h.org", None)
    assert "line " in info.value.message and "s3cr3t" not in info.value.message
    netrc("machine h.org login bob password s3cr3t-tok\n  bogus-word x\n")
    with pytest.raises(UsageError) as info:
        netrc_entry("h.org", None)
    assert "s3cr3t" not in info.value.message and "bogus" not in info.value.message


def test_a_netrc_that_is_a_folder_is_refused(tmp_path, monkeypatch):
    (tmp_path / "dir").mkdir()
    monkeypatch.setenv("NETRC", str(tmp_path / "dir"))
    with pytest.raises(UsageError):
        netrc_entry("h.org", None)


def test_credentials_never_show_in_repr():
    c = Credentials("user-token", "pass-word")
    assert "user-token" not in repr(c) and "pass-word" not in repr(c)
    assert c.basic_auth_header() == "Basic dXNlci10b2tlbjpwYXNzLXdvcmQ="
