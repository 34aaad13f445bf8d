"""Experts whose manifest names its base by a local path (every real manifest of the older
ecosystem: ``F:/Node/hivellm/expert/models/Qwen3-0.6B``, ``"sha256": ""``) are recorded
under the registered base they match, and every store command finds them there.

Inputs are the real manifests and grammars of tests/fixtures/original-ecosystem, packed the
way the original tool packed them; the base is models/tiny-qwen3 registered as
``Qwen/Qwen3-0.6B`` (see tests/legacy_world.py). `hxpm run` is in tests/runtime.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.legacy_world import (
    LEGACY_BASE,
    REGISTERED_AS,
    TINY_BASE,
    legacy_archive,
    legacy_expert_dir,
    real_manifest,
)
from tests.unit.store.test_state import _v1_store

JSON_PROMPT = "create a json schema for this openapi config"


def _legacy_package(tmp_path: Path, name: str = "expert-json", **kw) -> Path:
    d = legacy_expert_dir(tmp_path / "src", name, **kw)
    version = json.loads((d / "manifest.json").read_text())["version"]
    return legacy_archive(d, tmp_path / f"{name}-qwen3-0-6b.v{version}.expert")


def _lora_neo4j(tmp_path: Path) -> Path:
    # Every real manifest is DoRA, which vLLM does not serve: this copy says LoRA so that
    # `export vllm` has something to export. Nothing else is changed.
    m = real_manifest("expert-neo4j")
    m["base_models"][0]["adapters"][0]["type"] = "lora"
    return _legacy_package(tmp_path, "expert-neo4j", manifest=m, seed=1)


def test_legacy_expert_is_recorded_under_the_registered_base(cli, tmp_path):
    assert cli("base", "add", REGISTERED_AS, "--path", TINY_BASE).code == 0
    r = cli("install", _legacy_package(tmp_path), "--unsafe-allow-unsigned", "--json")
    assert r.code == 0, r.err
    warnings = r.json()["results"][0]["warnings"]
    assert any("does not state the digest" in w and REGISTERED_AS in w for w in warnings)

    doc = cli("info", "expert-json", "--json").json()
    assert doc["expert"]["base_model"] == REGISTERED_AS
    assert doc["expert"]["manifest_base_model"] == LEGACY_BASE
    base = doc["base"]
    assert (base["base_model"], base["manifest_base_model"], base["match"], base["registered"]) == (
        REGISTERED_AS,
        LEGACY_BASE,
        "path-part",
        True,
    )
    human = cli("info", "expert-json").out
    runs_on = next(line for line in human.splitlines() if line.startswith("runs on:"))
    assert REGISTERED_AS in runs_on and "last path part" in runs_on and "no digest" in runs_on
    assert LEGACY_BASE in human  # the manifest's own name is still shown
    [row] = cli("list", "--json").json()["experts"]
    assert row["base_model"] == REGISTERED_AS

    # route scores it: the real manifest's routing keywords (json, openapi, json schema...).
    doc = cli("route", JSON_PROMPT, "--json").json()
    assert doc["decision"]["chosen"] == "expert-json" and doc["experts"] == ["expert-json"]

    # Installing the same package again is a no-op, not a second row.
    again = cli(
        "install", _legacy_package(tmp_path / "again"), "--unsafe-allow-unsigned", "--json"
    ).json()
    assert again["results"][0]["action"] == "already-installed"
    assert cli("verify", "--store").code == 0

    r = cli("uninstall", "expert-json", "--base", REGISTERED_AS, "--json")
    assert r.code == 0, r.err
    assert [e["name"] for e in r.json()["removed"]] == ["expert-json"]
    assert cli("list", "--json").json()["experts"] == []


def test_export_vllm_names_the_registered_base(cli, tmp_path):
    assert cli("base", "add", REGISTERED_AS, "--path", TINY_BASE).code == 0
    for pkg in (_legacy_package(tmp_path), _lora_neo4j(tmp_path)):
        r = cli("install", pkg, "--unsafe-allow-unsigned")
        assert r.code == 0, r.err
    r = cli("export", "vllm", "expert-neo4j", "--json")
    assert r.code == 0, r.err
    [module] = r.json()["modules"]
    assert (module["name"], module["base_model_name"]) == ("expert-neo4j", REGISTERED_AS)
    # The DoRA expert is found (not "not installed for this base") and refused for its maths.
    r = cli("export", "vllm", "expert-json")
    assert r.code == 2 and "DoRA" in r.err and "not installed" not in r.err
    routed = cli("route", "write a cypher query for this neo4j graph", "--json").json()
    assert routed["decision"]["chosen"] == "expert-neo4j"


def test_expert_installed_before_its_base_is_matched_by_base_add(cli, tmp_path):
    r = cli("install", _legacy_package(tmp_path), "--unsafe-allow-unsigned", "--json")
    assert r.code == 0, r.err
    assert any("not registered" in w for w in r.json()["results"][0]["warnings"])
    doc = cli("info", "expert-json", "--json").json()
    assert doc["expert"]["base_model"] == LEGACY_BASE
    assert doc["base"]["match"] == "unregistered" and doc["base"]["registered"] is False
    assert "hxpm base add" in doc["base"]["explanation"]

    r = cli("base", "add", REGISTERED_AS, "--path", TINY_BASE, "--json")
    assert r.code == 0, r.err
    assert r.json()["rematched"] == [
        {"name": "expert-json", "version": "0.4.1", "manifest_base_model": LEGACY_BASE}
    ]
    doc = cli("info", "expert-json", "--json").json()
    assert (doc["expert"]["base_model"], doc["base"]["match"]) == (REGISTERED_AS, "path-part")
    assert cli("route", JSON_PROMPT, "--json").json()["experts"] == ["expert-json"]
    # Installing it again now finds the re-matched row.
    again = cli(
        "install", _legacy_package(tmp_path / "again"), "--unsafe-allow-unsigned", "--json"
    ).json()
    assert again["results"][0]["action"] == "already-installed"
    assert len(cli("list", "--json").json()["experts"]) == 1


def test_install_replaces_a_row_recorded_before_the_base_existed(cli, tmp_path):
    """A row left under the manifest's name (here: re-created by hand, as from a store that
    predates re-matching) is replaced by the matched one, not kept beside it."""
    cli("install", _legacy_package(tmp_path), "--unsafe-allow-unsigned")
    assert cli("base", "add", "other/unrelated-model", "--path", TINY_BASE).code == 0
    from hxpm.store.records import BaseModel
    from hxpm.store.store import Store

    store = Store.from_env()
    digest = store.db.bases()[0].sha256
    with store.db.transaction() as conn:  # registered behind hxpm's back: no re-match ran
        store.db.put_base(conn, BaseModel(REGISTERED_AS, TINY_BASE, digest, "t", "local"))
    assert cli("list", "--json").json()["experts"][0]["base_model"] == LEGACY_BASE
    r = cli("install", _legacy_package(tmp_path / "again"), "--unsafe-allow-unsigned", "--json")
    assert r.code == 0, r.err
    assert r.json()["results"][0]["action"] == "reinstalled"
    rows = cli("list", "--json").json()["experts"]
    assert [(e["name"], e["base_model"]) for e in rows] == [("expert-json", REGISTERED_AS)]
    assert cli("verify", "--store").code == 0


def test_two_bases_with_the_same_last_path_part_are_ambiguous(cli, tmp_path):
    for name in (REGISTERED_AS, "acme/qwen3-0.6b"):
        assert cli("base", "add", name, "--path", TINY_BASE).code == 0
    pkg = _legacy_package(tmp_path)
    r = cli("install", pkg, "--unsafe-allow-unsigned", "--json")
    assert r.code == 2
    err = r.json()
    assert err["error"] == "usage" and "--base" in err["hint"]
    assert err["details"]["candidates"] == ["Qwen/Qwen3-0.6B", "acme/qwen3-0.6b"]
    r = cli("install", pkg, "--unsafe-allow-unsigned")
    assert r.code == 2 and REGISTERED_AS in r.err and "acme/qwen3-0.6b" in r.err
    assert "Traceback" not in r.err
    assert cli("list", "--json").json()["experts"] == []  # nothing changed

    r = cli("install", pkg, "--unsafe-allow-unsigned", "--base", "acme/qwen3-0.6b")
    assert r.code == 0, r.err
    [row] = cli("list", "--json").json()["experts"]
    assert row["base_model"] == "acme/qwen3-0.6b"


def test_a_stated_digest_decides(cli, tmp_path):
    from hxpm.core.digest import base_model_digest

    assert cli("base", "add", "acme/renamed", "--path", TINY_BASE).code == 0
    digest = base_model_digest(TINY_BASE)
    # Test copies of the real manifest: only the base name and digest are changed.
    m = real_manifest("expert-json")
    m["base_models"][0].update(name="F:/models/whatever-it-was-called", sha256=digest)
    r = cli("install", _legacy_package(tmp_path, manifest=m), "--unsafe-allow-unsigned")
    assert r.code == 0, r.err
    doc = cli("info", "expert-json", "--json").json()
    assert (doc["expert"]["base_model"], doc["base"]["match"]) == ("acme/renamed", "digest")

    m = real_manifest("expert-sql")
    m["base_models"][0].update(name="F:/models/renamed", sha256="ab" * 32)
    r = cli(
        "install", _legacy_package(tmp_path, "expert-sql", manifest=m), "--unsafe-allow-unsigned"
    )
    assert r.code == 5 and "digest" in r.err and "acme/renamed" in r.err


def test_base_add_with_a_local_path_name_says_what_to_do(cli):
    r = cli("base", "add", LEGACY_BASE, "--path", TINY_BASE)
    assert r.code == 2
    assert "local path" in r.err and "ORG/Qwen3-0.6B" in r.err and "last path part" in r.err
    assert cli("base", "list", "--json").json()["bases"] == []


def test_rows_from_older_stores_read_as_matched_by_name(tmp_path):
    from hxpm.services.basematch import describe_match
    from hxpm.store.state import StateDB

    [row] = StateDB(_v1_store(tmp_path)).installed()
    assert (row.manifest_base, row.base_match, row.manifest_base_name) == (None, None, "b")
    assert (
        describe_match(row.manifest_base_name, row.base_model, row.base_match, False)
        == "b is not registered"
    )


@pytest.mark.parametrize(
    "name",
    [
        "expert-json",
        "expert-sql",
        "expert-neo4j",
        "expert-elastic",
        "expert-tools",
        "expert-typescript",
    ],
)
def test_every_real_manifest_matches_by_last_path_part(name):
    from hxpm.core.manifest import Manifest
    from hxpm.services.basematch import match_base
    from hxpm.store.records import BaseModel

    variant = Manifest.from_dict(real_manifest(name)).variants[0]
    bases = [
        BaseModel(REGISTERED_AS, TINY_BASE, "cd" * 32, "t", "local"),
        BaseModel("Qwen/Qwen3-1.7B", TINY_BASE, "ef" * 32, "t", "local"),
    ]
    match = match_base(variant.name, variant.sha256, bases)
    assert (match.name, match.kind, match.manifest_base) == (
        REGISTERED_AS,
        "path-part",
        LEGACY_BASE,
    )


# --- from an index: lock, install --locked, update ----------------------------------------


def _release(world, src: Path, version: str) -> None:
    """What a publisher does with a legacy expert folder: package, sign, tag, publish."""
    from tests.gitserver import make_repo, mirror

    h = world.publisher_home
    r = world.run(h, "package", src, "-o", src / "dist", "--json")
    assert r.code == 0, r.err
    pkg = Path(r.json()["packages"][0]["path"])
    assert pkg.name == f"expert-json-qwen3-0-6b.v{version}.expert"  # slug of the local path
    assert world.run(h, "sign", pkg, "--key-name", "pub").code == 0
    files = {p.relative_to(src).as_posix(): p.read_bytes() for p in src.rglob("*") if p.is_file()}
    work = world.tmp / "work" / "expert-json"
    make_repo(work, files, tag=f"v{version}", message=f"release {version}")
    mirror(work, world.served / "expert-json.git")
    r = world.run(
        h,
        "publish",
        work,
        "--index",
        world.index_work,
        "--url",
        world.url_for("expert-json.git"),
        "--json",
    )
    assert r.code == 0, r.err
    world.sync_index()


def _user(world, home: Path) -> Path:
    assert world.run(home, "base", "add", REGISTERED_AS, "--path", TINY_BASE).code == 0
    assert world.run(home, "trust", "add", world.public_key, "--name", "pub").code == 0
    assert world.run(home, "index", "add", "main", world.url_for("main.git")).code == 0
    return home


def test_legacy_expert_from_an_index_locks_and_updates(
    tmp_path, git_served, cli, base_dir, monkeypatch
):
    from tests.integration.distribution import serving_world

    with serving_world(tmp_path, git_served, cli, base_dir, monkeypatch) as world:
        _release(world, legacy_expert_dir(tmp_path / "rel1", "expert-json"), "0.4.1")
        home = _user(world, tmp_path / "user")
        r = world.run(home, "install", "expert-json", "--json")
        assert r.code == 0, r.err
        [row] = world.run(home, "list", "--json").json()["experts"]
        assert (row["base_model"], row["manifest_base_model"]) == (REGISTERED_AS, LEGACY_BASE)
        assert world.run(home, "route", JSON_PROMPT, "--json").json()["experts"] == ["expert-json"]

        lock = tmp_path / "hxpm.lock"
        r = world.run(home, "lock", "expert-json", "-o", lock, "--json")
        assert r.code == 0, r.err
        data = json.loads(lock.read_text())
        assert data["base_model"] == REGISTERED_AS
        [entry] = data["experts"]
        assert [v["base_model"] for v in entry["line"]["variants"]] == [LEGACY_BASE]

        other = _user(world, tmp_path / "other")
        r = world.run(other, "install", "--locked", lock, "--json")
        assert r.code == 0, r.err
        [row] = world.run(other, "list", "--json").json()["experts"]
        assert (row["version"], row["base_model"]) == ("0.4.1", REGISTERED_AS)
        assert row["tree_sha256"] == entry["line"]["variants"][0]["tree_sha256"]
        r = world.run(other, "install", "--locked", lock, "--json")  # again: nothing to do
        assert r.code == 0, r.err

        # A new release (test copy of the real manifest: only the version is bumped).
        m = real_manifest("expert-json")
        m["version"] = "0.4.2"
        _release(world, legacy_expert_dir(tmp_path / "rel2", "expert-json", manifest=m), "0.4.2")
        assert world.run(home, "index", "update").code == 0
        steps = world.run(home, "update", "--dry-run", "--json").json()["steps"]
        assert [(s["name"], s["version"], s["action"]) for s in steps] == [
            ("expert-json", "0.4.2", "upgrade")
        ]
        r = world.run(home, "update", "expert-json", "--json")
        assert r.code == 0, r.err
        assert r.json()["replaced"] == ["expert-json 0.4.1"]
        [row] = world.run(home, "list", "--json").json()["experts"]
        assert (row["version"], row["base_model"]) == ("0.4.2", REGISTERED_AS)

        r = world.run(home, "uninstall", "expert-json", "--json")
        assert r.code == 0, r.err
        assert world.run(home, "list", "--json").json()["experts"] == []

        # Two registered bases with its last path part: the base of the install decides.
        third = _user(world, tmp_path / "third")
        assert world.run(third, "base", "add", "acme/qwen3-0.6b", "--path", TINY_BASE).code == 0
        r = world.run(third, "install", "expert-json", "--base", "acme/qwen3-0.6b", "--json")
        assert r.code == 0, r.err
        [row] = world.run(third, "list", "--json").json()["experts"]
        assert (row["version"], row["base_model"]) == ("0.4.2", "acme/qwen3-0.6b")
