"""Signing keys: which key `key show` and `sign` use without a name, and `key list`."""

from __future__ import annotations

from pathlib import Path

from tests.factories import make_expert_dir


def _package(cli, tmp_path: Path) -> Path:
    src = make_expert_dir(tmp_path / "src", "expert-demo", "0.1.0")
    r = cli("package", src, "-o", tmp_path / "dist", "--json")
    assert r.code == 0, r.err
    return Path(r.json()["packages"][0]["path"])


def test_a_sole_named_key_is_the_default(cli, tmp_path):
    made = cli("key", "generate", "--name", "acme", "--json").json()
    shown = cli("key", "show", "--json")
    assert shown.code == 0, shown.err
    assert (shown.json()["name"], shown.json()["key_id"]) == ("acme", made["key_id"])

    pkg = _package(cli, tmp_path)
    r = cli("sign", pkg, "--json")
    assert r.code == 0, r.err
    assert r.json()["key_id"] == made["key_id"]
    # The signature really is acme's: trusting acme's public key verifies it.
    assert cli("trust", "add", made["public_key"], "--name", "acme").code == 0
    r = cli("verify", pkg, "--json")
    assert r.code == 0, r.err
    assert r.json()["key_id"] == made["key_id"]

    listed = cli("key", "list", "--json").json()["keys"]
    assert [(k["name"], k["default"], k["key_id"]) for k in listed] == [
        ("acme", True, made["key_id"])
    ]


def test_several_keys_without_default_name_them(cli, tmp_path):
    acme = cli("key", "generate", "--name", "acme", "--json").json()
    zeta = cli("key", "generate", "--name", "zeta", "--json").json()
    pkg = _package(cli, tmp_path)
    for args in (("key", "show"), ("sign", pkg)):
        r = cli(*args)
        assert r.code == 4, (args, r.err)
        assert "acme" in r.err and "zeta" in r.err and "default.key" not in r.err
        assert "hxpm key list" in r.err
    assert not pkg.with_name(pkg.name + ".sig").exists()

    r = cli("key", "show", "--name", "zeta", "--json")
    assert r.code == 0 and r.json()["key_id"] == zeta["key_id"]
    r = cli("sign", pkg, "--key-name", "acme", "--json")
    assert r.code == 0 and r.json()["key_id"] == acme["key_id"]

    listed = cli("key", "list", "--json").json()["keys"]
    assert [(k["name"], k["default"]) for k in listed] == [("acme", False), ("zeta", False)]
    assert {k["public_key"] for k in listed} == {acme["public_key"], zeta["public_key"]}

    # A key called "default" wins once it exists.
    default = cli("key", "generate", "--json").json()
    assert cli("key", "show", "--json").json()["key_id"] == default["key_id"]
    listed = cli("key", "list", "--json").json()["keys"]
    assert [k["name"] for k in listed if k["default"]] == ["default"]


def test_key_list_reports_a_bad_key_file_without_failing(cli, tmp_path):
    cli("key", "generate", "--name", "acme")
    bad = tmp_path / "keys" / "broken.key"  # HXPM_KEY_DIR is tmp_path/keys in tests
    bad.write_bytes(b"not a key at all\n")
    bad.chmod(0o600)
    r = cli("key", "list", "--json")
    assert r.code == 0, r.err
    rows = {k["name"]: k for k in r.json()["keys"]}
    assert rows["broken"]["key_id"] is None and "broken.key" in rows["broken"]["problem"]
    assert rows["acme"]["key_id"] and rows["acme"]["problem"] is None
    human = cli("key", "list")
    assert human.code == 0 and "unreadable" in human.out and "acme" in human.out


def test_no_keys_at_all(cli, tmp_path):
    assert "no secret keys" in cli("key", "list").out
    assert cli("key", "list", "--json").json()["keys"] == []
    r = cli("key", "show")
    assert r.code == 4 and "hxpm key generate" in r.err
