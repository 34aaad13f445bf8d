"""Which CAs HTTPS trusts (hxpm.tls; docs/network.md "Certificates")."""

from __future__ import annotations

import ssl
import urllib.error

import pytest

from hxpm.errors import UsageError
from hxpm.tls import CA_VARIABLES, CASettings, ca_settings, is_certificate_error


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bundle(tmp_path):
    path = tmp_path / "ca.pem"
    path.write_text("not read here\n")
    return path


def test_nothing_set_means_openssl_defaults():
    assert ca_settings() == CASettings()


def test_git_ssl_cainfo_wins_over_requests_ca_bundle(bundle, tmp_path, monkeypatch):
    other = tmp_path / "other.pem"
    other.write_text("x")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    assert ca_settings() == CASettings(str(other), None, "REQUESTS_CA_BUNDLE")
    monkeypatch.setenv("GIT_SSL_CAINFO", str(bundle))
    assert ca_settings() == CASettings(str(bundle), None, "GIT_SSL_CAINFO")


def test_directories_are_accepted_where_the_tools_accept_them(tmp_path, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path))
    assert ca_settings().ca_dir == str(tmp_path)
    monkeypatch.setenv("GIT_SSL_CAPATH", str(tmp_path))
    assert ca_settings() == CASettings(None, str(tmp_path), "GIT_SSL_CAPATH")


@pytest.mark.parametrize("name", ["GIT_SSL_CAINFO", "REQUESTS_CA_BUNDLE"])
def test_a_missing_bundle_is_an_error_naming_the_variable(name, tmp_path, monkeypatch):
    monkeypatch.setenv(name, str(tmp_path / "missing.pem"))
    with pytest.raises(UsageError) as info:
        ca_settings()
    assert name in info.value.message and "missing.pem" in info.value.message


def test_certificate_errors_are_recognised_through_wrappers():
    inner = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert is_certificate_error(urllib.error.URLError(inner))
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = inner
    assert is_certificate_error(wrapped)
    assert not is_certificate_error(urllib.error.URLError("connection refused"))
    assert not is_certificate_error(None)
