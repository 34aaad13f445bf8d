"""Packages written by the original expert-cli (gzip tar) install and inspect."""

from __future__ import annotations

from tests.unit.package.test_reader import legacy_package


def test_legacy_package_inspects_and_installs_unsigned(cli, tmp_path, base_dir):
    pkg = legacy_package(tmp_path)
    info = cli("inspect", pkg, "--json").json()
    assert info["legacy"] is True and info["compression"] == "gzip"
    assert info["base_models"] == ["F:/Node/hivellm/expert/models/Qwen3-0.6B"]

    # Its embedded self-signature is not an hxpm signature: the policy still applies.
    r = cli("install", pkg)
    assert r.code == 5 and "not signed" in r.err

    # Registered under the canonical id: the legacy local-path base matches by slug.
    assert cli("base", "add", "Qwen/Qwen3-0.6B", "--path", base_dir).code == 0
    r = cli("install", pkg, "--unsafe-allow-unsigned", "--json")
    assert r.code == 0, r.err
    result = r.json()["results"][0]
    assert (result["name"], result["version"]) == ("expert-sql", "0.3.0")
    assert any("does not state the digest" in w for w in result["warnings"])
    files = {f["path"] for f in cli("info", "expert-sql", "--json").json()["files"]}
    assert "signature.sig" not in files and "manifest.json" in files
    assert cli("verify", "--store").code == 0
