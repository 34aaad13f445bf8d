"""Experts whose archives are release assets (variant ``url``), installed with the real CLI.

A publisher releases experts over real Git on 127.0.0.1 (tests/integration/distribution.py);
their index lines are then pointed at an asset server (tests/httpservers.py) instead of the
repository path, as a publisher hosting archives on a release page would. The install must
fetch them in parallel, verify them, and resume one that was cut off, in a new process.
"""

from __future__ import annotations

import json

import pytest

from hxpm.index.model import shard_path
from tests.badservers import run_cli
from tests.gitserver import make_repo
from tests.httpservers import AssetServer
from tests.integration.distribution import World, serving_world

NAMES = ("expert-json", "expert-sql", "expert-yaml")


def _host_assets(world: World, server: AssetServer) -> dict[str, str]:
    """Move every released variant to ``server``; return name -> archive sha256."""
    digests, files = {}, {}
    for name in NAMES:
        rel = shard_path(name)
        doc = json.loads((world.index_work / rel).read_text().splitlines()[-1])
        [variant] = doc["variants"]
        data = (world.tmp / "work" / name / variant["path"]).read_bytes()
        server.add(f"releases/{name}.expert", data)
        variant.update(path=None, url=server.url(f"releases/{name}.expert"))
        files[rel] = (json.dumps(doc) + "\n").encode()
        digests[name] = variant["sha256"]
    make_repo(world.index_work, files, message="archives move to the release server")
    world.sync_index()
    return digests


@pytest.fixture
def world(tmp_path, git_served, cli, base_dir, monkeypatch):
    with serving_world(tmp_path, git_served, cli, base_dir, monkeypatch) as w:
        for name in NAMES:
            w.release(name, "1.0.0", keywords=[name])
        yield w


def test_url_variants_download_in_parallel_in_one_install(world, tmp_path):
    with AssetServer() as server:
        digests = _host_assets(world, server)
        home = world.user(tmp_path / "user")
        server.state.delay_s = 1.0  # each answer takes a while: serial fetches never overlap
        r = world.run(home, "install", *NAMES, "--json")
        assert r.code == 0, r.err
    assert sorted(e.path for e in server.log) == [f"releases/{n}.expert" for n in NAMES]
    assert server.state.max_in_flight == len(NAMES), "the downloads did not overlap"
    rows = world.run(home, "list", "--json").json()["experts"]
    assert sorted(e["name"] for e in rows) == sorted(NAMES)
    for sha in digests.values():
        assert (home / "blobs" / "sha256" / sha).is_file()
    assert not list((home / "blobs" / "partial").glob("*.part"))


def test_one_progress_hook_counts_the_bytes_of_all_parallel_downloads(world, tmp_path):
    """What the CLI's progress bar is fed (it draws only on a terminal, so it is read here)."""
    from hxpm.services.install_request import InstallRequest, install
    from hxpm.store.store import Store

    labels: list[str] = []
    reports: list[tuple[str, int, int]] = []

    def factory(label: str):
        labels.append(label)
        return lambda phase, done, total: reports.append((phase, done, total))

    with AssetServer() as server:
        _host_assets(world, server)
        home = world.user(tmp_path / "user")
        world.as_home(home)
        store = Store.from_env()
        try:
            outcome = install(store, InstallRequest(NAMES), progress=factory)
        finally:
            store.close()
    total = sum(len(a.data) for a in server.state.assets.values())
    assert outcome.applied is not None and len(outcome.applied.installed) == len(NAMES)
    assert labels == [f"{len(NAMES)} archives"]
    assert {phase for phase, _d, _t in reports} == {"download"}
    assert {t for _p, _d, t in reports} == {total} and reports[-1][1] == total
    done = [d for _p, d, _t in reports]
    assert done == sorted(done)  # one running sum over all threads


def test_an_install_cut_off_mid_download_resumes_in_the_next_run(world, tmp_path):
    with AssetServer() as server:
        digests = _host_assets(world, server)
        home = world.user(tmp_path / "user")
        name = NAMES[0]
        size = len(server.state.assets[f"releases/{name}.expert"].data)
        server.state.drop_at[f"releases/{name}.expert"] = size // 2
        env = {"HXPM_HOME": str(home), "HXPM_NET_RETRIES": "0"}

        first = run_cli(["install", name, "--json"], env)
        assert first.code == 6, first.out + first.err
        assert "Traceback" not in first.err
        part = home / "blobs" / "partial" / f"{digests[name]}.part"
        assert part.stat().st_size == size // 2
        assert json.loads(first.out)["details"]["reason"] == "connection"

        server.state.drop_at.clear()
        second = run_cli(["install", name, "--json"], env)
        assert second.code == 0, second.out + second.err
    last = server.log[-1]
    assert last.headers["Range"] == f"bytes={size // 2}-" and last.status == 206
    assert not part.exists() and (home / "blobs" / "sha256" / digests[name]).is_file()
    assert world.run(home, "verify", "--store").code == 0


def test_an_altered_asset_is_refused_and_not_kept(world, tmp_path):
    with AssetServer() as server:
        digests = _host_assets(world, server)
        home = world.user(tmp_path / "user")
        name = NAMES[1]
        asset = server.state.assets[f"releases/{name}.expert"]
        asset.data = asset.data[:-1] + bytes([asset.data[-1] ^ 1])  # one bit flipped
        r = world.run(home, "install", name, "--json")
    assert r.code == 5, r.out
    err = r.json()
    assert err["error"] == "integrity" and digests[name] in err["message"]
    assert world.run(home, "list", "--json").json()["experts"] == []
    assert not (home / "blobs" / "sha256" / digests[name]).exists()
    assert not list((home / "blobs" / "partial").glob("*.part*"))
