"""Hostile or broken distribution input: each gets a clear error and changes nothing."""

from __future__ import annotations

import json

import pytest

from hxpm.index.model import shard_path
from tests.gitserver import make_repo
from tests.integration.distribution import World, serving_world


@pytest.fixture
def world(tmp_path, git_served, cli, base_dir, monkeypatch):
    with serving_world(tmp_path, git_served, cli, base_dir, monkeypatch) as w:
        w.release("expert-json", "0.4.1")
        w.release("expert-json", "0.5.0")
        w.release("expert-sql", "0.3.0", requires=["expert-json@>=0.4"])
        yield w


def _edit_lines(world: World, name: str, edit) -> None:
    rel = shard_path(name)
    path = world.index_work / rel
    lines = [json.loads(x) for x in path.read_text().splitlines() if x]
    text = "\n".join(edit(lines)) + "\n"
    make_repo(world.index_work, {rel: text.encode()}, message="tamper")
    world.sync_index()


def _nothing_installed(world, home) -> None:
    assert world.run(home, "list", "--json").json()["experts"] == []
    assert world.run(home, "verify", "--store").code == 0


def test_line_pointing_at_other_bytes_fails_the_digest(world, tmp_path):
    def swap(lines):  # 0.5.0's line now points at 0.4.1's archive: sha256 cannot match
        for ln in lines:
            if ln["version"] == "0.5.0":
                ln["variants"][0]["path"] = ln["variants"][0]["path"].replace("0.5.0", "0.4.1")
        return [json.dumps(ln) for ln in lines]

    _edit_lines(world, "expert-json", swap)
    home = world.user(tmp_path / "user")
    r = world.run(home, "install", "expert-json@0.5.0")
    assert r.code == 5 and "sha256" in r.err
    _nothing_installed(world, home)


def test_key_not_trusted_for_that_name(world, tmp_path):
    home = world.user(tmp_path / "user", trust=False)
    assert (
        world.run(
            home, "trust", "add", world.public_key, "--name", "pub", "--experts", "expert-json"
        ).code
        == 0
    )
    r = world.run(home, "install", "expert-sql")
    assert r.code == 5 and "expert-sql" in r.err
    _nothing_installed(world, home)


@pytest.mark.parametrize("bad", ["this is not json", json.dumps({"v": 2, "name": "expert-json"})])
def test_malformed_index_line_breaks_only_its_own_expert(world, tmp_path, bad):
    # issue 10: the update goes through; the bad file is refused at first use of its name
    home = world.user(tmp_path / "user")
    _edit_lines(world, "expert-json", lambda lines: [json.dumps(x) for x in lines] + [bad])
    assert world.run(home, "index", "update").code == 0
    r = world.run(home, "install", "expert-json")
    assert r.code == 5 and "expert-json" in r.err and "line 3" in r.err
    if bad.startswith("{"):
        assert "upgrade hxpm" in r.err
    assert world.run(home, "install", "expert-sql").code == 5  # it requires expert-json
    _nothing_installed(world, home)


def test_tag_whose_manifest_disagrees_with_the_line(world, tmp_path):
    commits = {}

    def repoint(lines):  # 0.5.0's line claims the commit that holds 0.4.1's manifest
        for ln in lines:
            commits[ln["version"]] = ln["source"]["commit"]
        for ln in lines:
            if ln["version"] == "0.5.0":
                ln["source"]["commit"] = commits["0.4.1"]
        return [json.dumps(ln) for ln in lines]

    _edit_lines(world, "expert-json", repoint)
    home = world.user(tmp_path / "user")
    r = world.run(home, "install", "expert-json@0.5.0")
    assert r.code == 5 and "manifest says expert-json 0.4.1" in r.err
    _nothing_installed(world, home)


@pytest.mark.parametrize("url", ["ext::sh -c touch% /tmp/pwned", "ssh://-oProxyCommand=x/y/z"])
def test_hostile_git_urls_are_refused(world, tmp_path, url):
    home = world.user(tmp_path / "user", add_index=False)
    r = world.run(home, "install", url)
    assert r.code == 2, (r.code, r.err)
    r = world.run(home, "index", "add", "evil", url)
    assert r.code == 2
    assert world.run(home, "index", "list", "--json").json()["indexes"] == []


def test_no_version_satisfies(world, tmp_path):
    home = world.user(tmp_path / "user")
    r = world.run(home, "install", "expert-json@>=9", "--json")
    assert r.code == 3
    report = r.json()["details"]["report"]
    assert report["schema"] == "hxpm.conflict/1"
    assert "0.5.0" in json.dumps(report)
    _nothing_installed(world, home)


def test_no_variant_for_the_users_base(world, tmp_path):
    from tests.factories import make_base_dir

    home = tmp_path / "user"
    other = make_base_dir(tmp_path, "other-base", seed=7)
    assert world.run(home, "base", "add", "Qwen/Qwen3-0.6B", "--path", other).code == 0
    assert world.run(home, "trust", "add", world.public_key, "--name", "pub").code == 0
    assert world.run(home, "index", "add", "main", world.url_for("main.git")).code == 0
    r = world.run(home, "install", "expert-json")
    assert r.code == 3 and "Qwen/Qwen3-0.6B" in r.err
    _nothing_installed(world, home)


def test_yanked_versions_are_skipped_unless_pinned(world, tmp_path):
    r = world.run(
        world.publisher_home, "index", "yank", "expert-json@0.5.0", "--index-dir", world.index_work
    )
    assert r.code == 0, r.err
    world.sync_index()
    home = world.user(tmp_path / "user")
    plan = world.run(home, "install", "expert-json", "--dry-run", "--json").json()["plan"]
    assert plan["steps"][0]["version"] == "0.4.1"
    assert world.run(home, "install", "expert-json@0.5.0").code == 0


def test_publish_refuses_untagged_dirty_or_repeated_releases(world, tmp_path):
    h = world.publisher_home
    work = world.tmp / "work" / "expert-json"
    r = world.run(
        h, "publish", work, "--index", world.index_work, "--url", world.url_for("expert-json.git")
    )
    assert r.code == 2 and "already in the index" in r.err
    (work / "README.md").write_text("changed\n")
    r = world.run(
        h, "publish", work, "--index", world.index_work, "--url", world.url_for("expert-json.git")
    )
    assert r.code == 2 and "uncommitted" in r.err
    make_repo(work, {"README.md": b"changed\n"}, message="untagged")
    r = world.run(
        h, "publish", work, "--index", world.index_work, "--url", world.url_for("expert-json.git")
    )
    assert r.code == 2 and "not tagged" in r.err
