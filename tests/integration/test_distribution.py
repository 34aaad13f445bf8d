"""The whole distribution flow over real Git on 127.0.0.1 (issue: Git distribution).

A publisher creates an index and publishes experts with a dependency between them; a user on
another HXPM_HOME adds the index, searches, installs by name (pulling the dependency), sees a
clear conflict, installs straight from a Git URL, locks and reinstalls with --locked.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.distribution import serving_world


@pytest.fixture
def world(tmp_path, git_served, cli, base_dir, monkeypatch):
    with serving_world(tmp_path, git_served, cli, base_dir, monkeypatch) as w:
        w.release("expert-json", "0.3.0", keywords=["json"])
        w.release("expert-json", "0.4.1", keywords=["json", "json schema"])
        w.release(
            "expert-sql",
            "0.3.0",
            requires=["expert-json@>=0.4"],
            keywords=["sql", "select"],
            extra={"capabilities": ["tech:sql"]},
        )
        w.release(
            "expert-legacy", "1.0.0", incompatible_with=["expert-json@>=0.4"], keywords=["legacy"]
        )
        yield w


def test_search_install_by_name_pulls_dependency(world, tmp_path):
    home = world.user(tmp_path / "user")
    hits = world.run(home, "search", "sql", "--json").json()["results"]
    assert hits[0]["name"] == "expert-sql" and hits[0]["index"] == "main"
    caps = world.run(home, "search", "", "--capability", "tech:sql", "--json").json()["results"]
    assert [h["name"] for h in caps] == ["expert-sql"]

    plan = world.run(home, "install", "sql", "--dry-run", "--json").json()["plan"]["steps"]
    assert [(s["name"], s["version"], s["action"]) for s in plan] == [
        ("expert-json", "0.4.1", "install"),
        ("expert-sql", "0.3.0", "install"),
    ]
    assert world.run(home, "list", "--json").json()["experts"] == []  # dry run changed nothing

    r = world.run(home, "install", "expert-sql")
    assert r.code == 0, r.err
    rows = {e["name"]: e for e in world.run(home, "list", "--json").json()["experts"]}
    assert rows["expert-json"]["version"] == "0.4.1" and rows["expert-sql"]["signed"]
    assert world.run(home, "verify", "--store").code == 0
    installed = world.run(home, "search", "json", "--json").json()["results"]
    assert installed[0]["installed"] == "0.4.1"

    r = world.run(home, "uninstall", "expert-json")
    assert r.code == 3 and "expert-sql 0.3.0 requires expert-json@>=0.4" in r.err
    assert world.run(home, "uninstall", "expert-sql").code == 0
    assert world.run(home, "uninstall", "expert-json").code == 0


def test_incompatible_pair_is_a_clear_conflict(world, tmp_path):
    home = world.user(tmp_path / "user")
    r = world.run(home, "install", "expert-sql", "expert-legacy", "--json")
    assert r.code == 3
    err = r.json()
    assert err["error"].startswith("resolution") or err["exit_code"] == 3
    assert "expert-legacy" in json.dumps(err) and "incompatible" in json.dumps(err).lower()
    assert world.run(home, "list", "--json").json()["experts"] == []
    # With an older json that legacy accepts, asking for both without sql works.
    r = world.run(home, "install", "expert-legacy", "expert-json", "--json")
    assert r.code == 0, r.out
    listed = world.run(home, "list", "--json").json()["experts"]
    versions = {e["name"]: e["version"] for e in listed}
    assert versions == {"expert-legacy": "1.0.0", "expert-json": "0.3.0"}


def test_install_straight_from_a_git_url(world, tmp_path):
    home = world.user(tmp_path / "user", add_index=False)
    r = world.run(home, "install", world.url_for("expert-json.git") + "@^0.3", "--json")
    assert r.code == 0, r.err
    [e] = world.run(home, "list", "--json").json()["experts"]
    assert (e["name"], e["version"]) == ("expert-json", "0.3.0")
    r = world.run(home, "install", world.url_for("expert-json.git") + "#v0.4.1")
    assert r.code == 0, r.err
    assert {e["version"] for e in world.run(home, "list", "--json").json()["experts"]} == {
        "0.3.0",
        "0.4.1",
    }


def test_lock_and_install_locked_reproduce_exactly(world, tmp_path):
    home = world.user(tmp_path / "user")
    lock = tmp_path / "hxpm.lock"
    r = world.run(home, "lock", "expert-sql", "-o", lock, "--json")
    assert r.code == 0, r.err
    data = json.loads(lock.read_text())
    assert [e["line"]["name"] for e in data["experts"]] == ["expert-json", "expert-sql"]
    world.release("expert-json", "0.5.0")  # newer than the lock: must not be picked up

    other = world.user(tmp_path / "other")
    r = world.run(other, "install", "--locked", lock, "--json")
    assert r.code == 0, r.err
    rows = {e["name"]: e for e in world.run(other, "list", "--json").json()["experts"]}
    locked = {e["line"]["name"]: e["line"] for e in data["experts"]}
    for name, line in locked.items():
        assert rows[name]["version"] == line["version"]
        assert rows[name]["tree_sha256"] == line["variants"][0]["tree_sha256"]
    steps = world.run(other, "update", "--dry-run", "--json").json()["steps"]
    assert steps[0]["version"] == "0.5.0"


def test_offline_with_empty_cache_fails_clearly(world, tmp_path):
    home = world.user(tmp_path / "user")
    r = world.run(home, "--offline", "install", "expert-sql")
    assert r.code == 6 and "offline" in r.err
    assert world.run(home, "list", "--json").json()["experts"] == []
    # Once fetched, the same install works offline from the blob cache.
    assert world.run(home, "install", "expert-sql").code == 0
    assert world.run(home, "uninstall", "expert-sql").code == 0
    assert world.run(home, "--offline", "install", "expert-sql").code == 0


def test_rewound_index_is_refused(world, tmp_path):
    from tests.gitserver import make_repo, reset_branch

    home = world.user(tmp_path / "user")
    accepted = world.run(home, "index", "list", "--json").json()["indexes"][0]["commit"]
    world.release("expert-json", "0.6.0")
    assert world.run(home, "index", "update").code == 0
    # History is rewritten on top of the older commit: the new head no longer descends
    # from the one this user accepted last.
    reset_branch(world.index_work, accepted)
    make_repo(world.index_work, {"README.md": b"rewritten\n"}, message="rewrite")
    world.sync_index()
    r = world.run(home, "index", "update")
    assert r.code == 5 and "does not descend" in r.err
    versions = [
        h["version"]
        for h in world.run(home, "search", "json", "--json").json()["results"]
        if h["name"] == "expert-json"
    ]
    assert versions == ["0.6.0"]  # the cache still holds what was accepted
    r = world.run(home, "index", "update", "--allow-rewind")
    assert r.code == 0, r.err


def test_index_keys_are_trusted_only_with_trust_keys(world, tmp_path):
    r = world.run(
        world.publisher_home,
        "index",
        "key-add",
        world.public_key,
        "--owner",
        "pub",
        "--experts",
        "expert-json",
        "--index-dir",
        world.index_work,
    )
    assert r.code == 0, r.err
    world.sync_index()

    plain = world.user(tmp_path / "plain", trust=False)
    r = world.run(plain, "install", "expert-json")
    assert r.code == 5 and "hxpm trust add" in r.err

    home = world.user(tmp_path / "trusting", trust=False, add_index=False)
    assert (
        world.run(home, "index", "add", "main", world.url_for("main.git"), "--trust-keys").code == 0
    )
    keys = world.run(home, "trust", "list", "--json").json()["keys"]
    assert [(k["source"], k["experts"]) for k in keys] == [("index:main", ["expert-json"])]
    assert world.run(home, "install", "expert-json").code == 0
    r = world.run(home, "install", "expert-sql")  # the index vouches for json only
    assert r.code == 5
    assert world.run(home, "index", "remove", "main").code == 0
    assert world.run(home, "trust", "list", "--json").json()["keys"] == []


def test_update_moves_to_the_newest_allowed_version(world, tmp_path):
    home = world.user(tmp_path / "user")
    assert world.run(home, "install", "expert-json@0.3.0").code == 0
    world.release("expert-json", "0.5.0")
    assert world.run(home, "index", "update").code == 0
    plan = world.run(home, "update", "--dry-run", "--json").json()["steps"]
    assert [(s["name"], s["version"], s["action"], s["from_version"]) for s in plan] == [
        ("expert-json", "0.5.0", "upgrade", "0.3.0")
    ]
    r = world.run(home, "upgrade", "--json")
    assert r.code == 0, r.err
    assert r.json()["replaced"] == ["expert-json 0.3.0"]
    rows = world.run(home, "list", "--json").json()["experts"]
    assert [(e["name"], e["version"]) for e in rows] == [("expert-json", "0.5.0")]


def test_git_mirrors_move_the_connection_not_the_identity(world, tmp_path, monkeypatch):
    """HXPM_GIT_MIRRORS (like git's insteadOf): lines keep the canonical URL."""
    home = world.user(tmp_path / "user", add_index=False)
    canonical = "https://git.example.invalid/acme/"
    monkeypatch.setenv("HXPM_GIT_MIRRORS", f"{canonical}={world.url_for('')}")
    r = world.run(home, "index", "add", "main", canonical + "main.git")
    assert r.code == 0, r.err
    assert world.run(home, "index", "list", "--json").json()["indexes"][0]["url"] == (
        canonical + "main.git"
    )
    assert world.run(home, "install", "expert-sql").code == 0
    monkeypatch.setenv("HXPM_GIT_MIRRORS", "no-equals-sign")
    r = world.run(home, "index", "update")
    assert r.code == 2 and "PREFIX=REPLACEMENT" in r.err
