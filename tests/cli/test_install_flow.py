"""End-to-end CLI flows against a real store: package, sign, trust, install, list, uninstall."""

from __future__ import annotations

import os
from pathlib import Path

from tests.factories import make_expert_dir


def test_signed_package_installs_and_lists(cli, publish, base_dir):
    pub = publish("expert-sql", "0.3.0")
    assert cli("base", "add", "hxpm/tiny-qwen3", "--path", base_dir).code == 0
    assert cli("trust", "add", pub.public_key, "--name", "acme", "--experts", "expert-*").code == 0

    r = cli("install", pub.package, "--json")
    assert r.code == 0, r.err
    result = r.json()["results"][0]
    assert result["action"] == "installed"
    assert result["publisher"] == "acme" and result["key_id"] == pub.key_id
    installed = Path(result["path"])
    assert (installed / "adapter_model.safetensors").is_file()
    assert not os.access(installed / "manifest.json", os.W_OK) or os.geteuid() == 0
    assert oct(os.stat(installed / "manifest.json").st_mode & 0o777) == "0o444"

    listed = cli("list", "--json").json()
    assert listed["schema"] == "hxpm.list/1"
    assert [(e["name"], e["version"], e["default"]) for e in listed["experts"]] == [
        ("expert-sql", "0.3.0", True)
    ]

    info = cli("info", "sql", "--json").json()  # short name finds expert-sql
    assert info["expert"]["name"] == "expert-sql"
    assert {f["path"] for f in info["files"]} >= {"manifest.json", "adapter_model.safetensors"}

    again = cli("install", pub.package, "--json").json()["results"][0]
    assert again["action"] == "already-installed"
    assert cli("verify", "--store").code == 0


def test_versions_side_by_side_newest_is_default(cli, publish):
    old, new = publish("expert-json", "0.3.0"), publish("expert-json", "0.4.1")
    assert cli("trust", "add", old.public_key, "--name", "acme").code == 0
    assert cli("install", new.package, old.package).code == 0
    rows = cli("list", "--json").json()["experts"]
    assert [(e["version"], e["default"]) for e in rows] == [("0.4.1", True), ("0.3.0", False)]
    assert cli("info", "expert-json", "--json").json()["expert"]["version"] == "0.4.1"
    assert cli("info", "expert-json@0.3.0", "--json").json()["other_versions"] == ["0.4.1"]

    r = cli("uninstall", "expert-json@0.3.0", "--json")
    assert r.code == 0 and [e["version"] for e in r.json()["removed"]] == ["0.3.0"]
    assert [e["version"] for e in cli("list", "--json").json()["experts"]] == ["0.4.1"]
    assert cli("uninstall", "expert-json").code == 0
    assert cli("list", "--json").json()["experts"] == []
    assert cli("verify", "--store").code == 0


def test_unsigned_directory_install_needs_the_unsafe_flag(cli, tmp_path):
    src = make_expert_dir(tmp_path / "src", "expert-local", "1.0.0")
    r = cli("install", src)
    assert r.code == 5 and "not signed" in r.err and "--unsafe-allow-unsigned" in r.err
    assert cli("list", "--json").json()["experts"] == []

    r = cli("install", src, "--unsafe-allow-unsigned", "--json")
    assert r.code == 0, r.err
    result = r.json()["results"][0]
    assert result["unsafe_unsigned"] is True and result["signed"] is False
    assert any("UNSIGNED" in w for w in result["warnings"])


def test_changed_contents_under_same_version_need_force_reinstall(cli, tmp_path):
    a = make_expert_dir(tmp_path / "a", "expert-x", "1.0.0", seed=1)
    b = make_expert_dir(tmp_path / "b", "expert-x", "1.0.0", seed=2)
    assert cli("install", a, "--unsafe-allow-unsigned").code == 0
    first = cli("list", "--json").json()["experts"][0]
    r = cli("install", b, "--unsafe-allow-unsigned")
    assert r.code == 2 and "--force-reinstall" in r.err
    r = cli("install", b, "--unsafe-allow-unsigned", "--force-reinstall", "--json")
    assert r.code == 0 and r.json()["results"][0]["action"] == "reinstalled"
    second = cli("list", "--json").json()["experts"][0]
    assert second["tree_sha256"] != first["tree_sha256"]
    assert not Path(first["path"]).exists() and Path(second["path"]).is_dir()
    assert cli("verify", "--store").code == 0


def test_base_registry(cli, base_dir, tmp_path):
    r = cli("base", "add", "hxpm/tiny-qwen3", "--path", base_dir, "--json")
    assert r.code == 0 and r.json()["base"]["default"] is True
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text("{}")
    assert cli("base", "add", "Qwen/Qwen3-0.6B", "--path", other).code == 4  # no weights
    from tests.factories import make_base_dir

    second = make_base_dir(tmp_path, "second", seed=5)
    assert cli("base", "add", "Qwen/Qwen3-0.6B", "--path", second).code == 0
    assert cli("base", "default", "Qwen/Qwen3-0.6B").code == 0
    bases = {b["name"]: b for b in cli("base", "list", "--json").json()["bases"]}
    assert bases["Qwen/Qwen3-0.6B"]["default"] and not bases["hxpm/tiny-qwen3"]["default"]
    assert bases["hxpm/tiny-qwen3"]["sha256"] != bases["Qwen/Qwen3-0.6B"]["sha256"]
    assert cli("base", "remove", "Qwen/Qwen3-0.6B").code == 0
    assert cli("base", "remove", "Qwen/Qwen3-0.6B").code == 4
    assert cli("base", "add", "../evil", "--path", second).code == 2


def test_variant_chosen_by_default_base(cli, tmp_path, base_dir):
    from hxpm.core.digest import base_model_digest

    digest = base_model_digest(base_dir)
    src = make_expert_dir(
        tmp_path / "src",
        "expert-multi",
        "1.0.0",
        bases=(("Qwen/Qwen3-0.6B", "1" * 64), ("hxpm/tiny-qwen3", digest)),
    )
    r = cli("install", src, "--unsafe-allow-unsigned")
    assert r.code == 2 and "--base" in r.err  # two variants, no default base yet
    assert cli("base", "add", "hxpm/tiny-qwen3", "--path", base_dir).code == 0
    r = cli("install", src, "--unsafe-allow-unsigned", "--json")
    assert r.code == 0 and r.json()["results"][0]["base_model"] == "hxpm/tiny-qwen3"


def test_package_validate_inspect_and_errors(cli, tmp_path):
    src = make_expert_dir(tmp_path / "src", "expert-a", "1.0.0")
    assert cli("validate", src, "--json").json()["name"] == "expert-a"
    built = cli("package", src, "--json").json()["packages"]
    assert Path(built[0]["path"]).parent == src / "dist"
    info = cli("inspect", built[0]["path"], "--json").json()
    assert info["members"][0]["path"] == "manifest.json"
    assert info["tree_sha256"] == built[0]["tree_sha256"]

    (src / "manifest.json").write_text('{"name": "Bad Name", "version": "1.x"}')
    r = cli("validate", src)
    assert r.code == 1 and "name" in r.err and "version" in r.err
    r = cli("validate", src, "--json")
    problems = {p["path"] for p in r.json()["details"]["problems"]}
    assert {"name", "version"} <= problems
    assert cli("inspect", tmp_path / "missing.expert").code == 4
    assert cli("info", "nothing").code == 4
    assert cli("uninstall", "nothing").code == 4
    assert cli("install", tmp_path / "nope").code == 2
    assert cli("verify").code == 2


def test_trust_list_and_remove(cli, publish):
    pub = publish()
    assert cli("trust", "add", pub.public_key, "--name", "acme", "--experts", "expert-d*").code == 0
    keys = cli("trust", "list", "--json").json()["keys"]
    assert [(k["key_id"], k["publisher"], k["experts"]) for k in keys] == [
        (pub.key_id, "acme", ["expert-d*"])
    ]
    assert cli("verify", pub.package).code == 0
    assert cli("trust", "remove", pub.key_id).code == 0
    r = cli("verify", pub.package)
    assert r.code == 5 and "hxpm trust add" in r.err
    assert cli("trust", "remove", "acme").code == 4
