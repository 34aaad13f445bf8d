"""Sparse HTTP indexes end to end: export a real Git index checkout, serve it from a real
static HTTP server on 127.0.0.1 (with ETags, counting requests), add it, resolve against it.

Every version line is a real signed line (real Ed25519 keys); the snapshot is signed by a
real owner key. The server is told to lie in each way the issue names, and each lie must
end with exit 5 or 6 while what was cached before stays in use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hxpm.core.digest import base_model_digest
from hxpm.index.config import IndexConfig
from hxpm.index.model import shard_path
from hxpm.index.sparse import new_snapshot, parse_snapshot, sign_snapshot
from hxpm.package.keyfiles import read_secret_key
from hxpm.package.signing import SecretKey, generate_secret_key
from tests.gitserver import make_repo
from tests.sparseserver import SparseHTTPServer
from tests.unit.index import BASE, line_doc, signature

GRAPH = {  # name -> {version: requires}
    "expert-a": {"1.0.0": ["expert-b@>=1.0"], "1.1.0": ["expert-b@>=1.0"]},
    "expert-b": {"1.0.0": ["expert-c"], "1.2.0": ["expert-c@^2"]},
    "expert-c": {"1.0.0": [], "2.0.0": []},
    "expert-d": {"0.1.0": []},
    "expert-e": {"0.1.0": ["expert-d"]},
}


def line(
    name: str,
    version: str,
    requires: list[str],
    digest: str,
    signed_as: tuple[str, str] | None = None,
) -> str:
    doc = line_doc(name, version, requires=requires)
    v = doc["variants"][0]
    v["base_sha256"] = digest
    sig_name, sig_version = signed_as or (name, version)
    v["signature"] = signature(
        sig_name,
        sig_version,
        BASE,
        base_sha256=digest,
        sha256=v["sha256"],
        tree_sha256=v["tree_sha256"],
    )
    return json.dumps(doc, separators=(",", ":"))


def expert_file(name: str, versions: dict[str, list[str]], digest: str) -> bytes:
    return "".join(line(name, v, r, digest) + "\n" for v, r in versions.items()).encode()


@dataclass
class World:
    cli: Callable[..., Any]
    checkout: Path
    site: Path
    server: SparseHTTPServer
    digest: str
    owner_key: Path

    def export(self, *extra: str) -> Any:
        r = self.cli(
            "index",
            "export-sparse",
            self.checkout,
            self.site,
            "--key",
            self.owner_key,
            "--json",
            *extra,
        )
        assert r.code == 0, r.err
        return r.json()

    def publish(self, name: str, versions: dict[str, list[str]]) -> None:
        make_repo(self.checkout, {shard_path(name): expert_file(name, versions, self.digest)})

    def dry_run(self, *names: str) -> Any:
        return self.cli("install", *names, "--dry-run", "--json")

    def resign(
        self,
        snapshot_change: dict[str, Any],
        key: SecretKey | None = None,
        files: dict[str, bytes] | None = None,
    ) -> bytes:
        """Sign a snapshot the owner's tooling would not write (a hostile or broken owner)."""
        current = parse_snapshot((self.site / "snapshot.json").read_bytes(), where="test")
        snap = current.snapshot
        tree = {p: (self.site / p).read_bytes() for p in snap.files}
        tree.update(files or {})
        fields = {
            "serial": snap.serial + 1,
            "expires": datetime.now(UTC) + timedelta(days=1),
            **snapshot_change,
        }
        new = new_snapshot(snap.index, fields["serial"], snap.commit, fields["expires"], tree)
        return sign_snapshot(new, [key or read_secret_key(self.owner_key)])


@pytest.fixture
def world(
    cli: Callable[..., Any], tmp_path: Path, base_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    monkeypatch.setenv("HXPM_NET_RETRIES", "0")
    r = cli("key", "generate", "--name", "owner", "--json")
    assert r.code == 0, r.err
    owner_key = Path(r.json()["secret_key_path"])
    digest = base_model_digest(base_dir)
    checkout = tmp_path / "index-checkout"
    files: dict[str, bytes | None] = {"config.json": IndexConfig.new("main").to_bytes()}
    files.update({shard_path(n): expert_file(n, vs, digest) for n, vs in GRAPH.items()})
    make_repo(checkout, files, message="index")
    site = tmp_path / "site"
    with SparseHTTPServer(site) as server:
        w = World(cli, checkout, site, server, digest, owner_key)
        w.export()
        assert cli("base", "add", BASE, "--path", base_dir).code == 0
        r = cli("index", "add", "main", server.url, "--json")
        assert r.code == 0, r.err
        yield w


def error(r: Any, code: int) -> dict[str, Any]:
    """The JSON error of a failed `--json` command (what a script sees)."""
    assert r.code == code, (r.out, r.err)
    assert "Traceback" not in r.out + r.err
    doc: dict[str, Any] = json.loads(r.out)
    assert doc["exit_code"] == code and doc["hint"]
    return doc


def planned(r: Any) -> dict[str, str]:
    assert r.code == 0, r.err
    return {s["name"]: s["version"] for s in r.json()["plan"]["steps"]}


# --- the happy path --------------------------------------------------------------------------


def test_add_reads_only_the_snapshot_and_config(world: World) -> None:
    assert sorted(p for p, _ in world.server.take()) == ["config.json", "snapshot.json"]
    r = world.cli("index", "list", "--json")
    (index,) = r.json()["indexes"]
    assert index["url"] == world.server.url and len(index["commit"]) == 40


def test_resolution_fetches_only_the_files_it_needs_then_none(world: World) -> None:
    world.server.take()
    assert planned(world.dry_run("expert-a")) == {
        "expert-a": "1.1.0",
        "expert-b": "1.2.0",
        "expert-c": "2.0.0",
    }
    got = world.server.take()
    assert sorted(got) == [(shard_path(n), 200) for n in ("expert-a", "expert-b", "expert-c")]
    assert planned(world.dry_run("expert-a"))["expert-c"] == "2.0.0"
    assert world.server.take() == []  # warm: the snapshot lists the same hashes
    assert world.dry_run("expert-nothing").code != 0
    assert world.server.take() == []  # not in the snapshot: no request at all


def test_update_revalidates_with_etag_and_refetches_only_changed_cached_files(world: World) -> None:
    planned(world.dry_run("expert-b"))
    world.server.take()
    r = world.cli("index", "update", "main", "--json")
    assert r.code == 0, r.err
    assert world.server.take() == [("snapshot.json", 304)]
    world.publish("expert-c", {**GRAPH["expert-c"], "2.1.0": []})
    world.publish("expert-d", {"0.2.0": []})  # changed, but never fetched: stays remote
    world.export()
    r = world.cli("index", "update", "main", "--json")
    assert r.code == 0, r.err
    # config.json and expert-b did not change: their hashes say so, no request
    assert sorted(world.server.take()) == [("experts/ex/pe/expert-c", 200), ("snapshot.json", 200)]
    assert planned(world.dry_run("expert-b"))["expert-c"] == "2.1.0"
    assert world.server.take() == []


def test_offline_works_from_the_cache(world: World) -> None:
    planned(world.dry_run("expert-a"))
    world.server.take()
    r = world.cli("--offline", "install", "expert-a", "--dry-run", "--json")
    assert planned(r)["expert-a"] == "1.1.0"
    r = world.cli("--offline", "install", "expert-e", "--dry-run", "--json")
    assert error(r, 6)["error"] == "offline"
    assert world.server.take() == []


def test_a_deleted_sqlite_cache_is_rebuilt_from_the_files_on_disk(
    world: World, hxpm_home: Path
) -> None:
    planned(world.dry_run("expert-a"))
    world.server.take()
    for p in hxpm_home.glob("index-cache.sqlite*"):
        p.unlink()
    assert planned(world.dry_run("expert-a"))["expert-b"] == "1.2.0"
    assert world.server.take() == []


def test_export_lists_the_signing_key_and_serials_only_grow(world: World) -> None:
    config = json.loads((world.site / "config.json").read_text())
    assert len(config["snapshot_keys"]) == 1
    first = parse_snapshot((world.site / "snapshot.json").read_bytes(), where="t").snapshot
    again = world.export()
    assert again["serial"] > first.serial
    r = world.cli(
        "index",
        "export-sparse",
        world.checkout,
        world.site,
        "--key",
        world.owner_key,
        "--serial",
        str(first.serial),
    )
    assert r.code == 2 and "serial" in r.err


# --- a server that lies ------------------------------------------------------------------------


def still_resolves(world: World) -> None:
    """What was cached before the lie is still used."""
    assert planned(world.dry_run("expert-a"))["expert-c"] == "2.0.0"


def test_a_file_signed_for_another_name_is_refused(world: World) -> None:
    planned(world.dry_run("expert-a"))
    bad = (
        line("expert-d", "0.1.0", [], world.digest, signed_as=("expert-a", "1.1.0")) + "\n"
    ).encode()
    (world.site / shard_path("expert-d")).write_bytes(bad)
    (world.site / "snapshot.json").write_bytes(world.resign({}))
    assert world.cli("index", "update", "main").code == 0  # d was never cached: not read
    e = error(world.dry_run("expert-d"), 5)
    assert e["error"] == "bad-index" and "expert-a 1.1.0" in json.dumps(e)
    still_resolves(world)


def test_a_file_that_is_not_json_is_refused_when_fetched(world: World) -> None:
    # checked as it is fetched (its requirements feed the prefetch), not on a later read
    (world.site / shard_path("expert-d")).write_bytes(b'{"v":1,\n not json\n')
    (world.site / "snapshot.json").write_bytes(world.resign({}))
    assert world.cli("index", "update", "main").code == 0
    e = error(world.dry_run("expert-d"), 5)
    assert e["error"] == "bad-index" and "experts/ex/pe/expert-d line 1" in json.dumps(e)
    still_resolves(world)


def test_a_file_from_another_snapshot_is_refused(world: World) -> None:
    world.server.override[shard_path("expert-e")] = expert_file(
        "expert-e", {"0.1.0": [], "9.0.0": []}, world.digest
    )
    e = error(world.dry_run("expert-e"), 5)
    assert e["error"] == "integrity" and e["details"]["reason"] == "mismatch"
    del world.server.override[shard_path("expert-e")]
    assert planned(world.dry_run("expert-e")) == {"expert-e": "0.1.0", "expert-d": "0.1.0"}


def test_a_stale_snapshot_is_refused(world: World) -> None:
    planned(world.dry_run("expert-a"))
    old = (world.site / "snapshot.json").read_bytes()
    world.export()
    assert world.cli("index", "update", "main").code == 0
    world.server.override["snapshot.json"] = old
    r = world.cli("index", "update", "main", "--json")
    assert error(r, 5)["error"] == "index-rollback"
    still_resolves(world)


def test_an_expired_snapshot_is_refused(world: World) -> None:
    planned(world.dry_run("expert-a"))
    world.server.override["snapshot.json"] = world.resign(
        {"expires": datetime.now(UTC) - timedelta(hours=1)}
    )
    r = world.cli("index", "update", "main", "--json")
    assert error(r, 5)["details"]["reason"] == "expired"
    still_resolves(world)


def test_a_snapshot_signed_by_an_untrusted_key_is_refused(world: World) -> None:
    planned(world.dry_run("expert-a"))
    mallory = generate_secret_key()
    config = json.loads((world.site / "config.json").read_text())
    config["snapshot_keys"] = [mallory.public_key.text]
    forged_config = (json.dumps(config, indent=2) + "\n").encode()
    world.server.override["config.json"] = forged_config
    world.server.override["snapshot.json"] = world.resign(
        {}, key=mallory, files={"config.json": forged_config}
    )
    r = world.cli("index", "update", "main", "--json")
    assert error(r, 5)["error"] == "untrusted-key"
    still_resolves(world)


@pytest.mark.parametrize("how", ["huge", "endless"])
def test_a_10_gib_file_is_cut_at_the_cap(world: World, how: str) -> None:
    getattr(world.server, how).add(shard_path("expert-e"))
    e = error(world.dry_run("expert-e"), 6)
    assert e["details"]["reason"] == "too-large"
    still_resolves(world)


def test_a_server_that_never_answers_times_out(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned(world.dry_run("expert-a"))
    monkeypatch.setenv("HXPM_NET_TIMEOUT", "1")
    world.server.stall.add("snapshot.json")
    r = world.cli("index", "update", "main", "--json")
    assert error(r, 6)["details"]["reason"] == "timeout"
    still_resolves(world)


def test_plain_http_is_for_loopback_only(cli: Callable[..., Any]) -> None:
    r = cli("index", "add", "x", "sparse+http://example.com/idx/")
    assert r.code == 2 and "loopback" in r.err


def test_an_expired_accepted_snapshot_serves_the_cache_but_fetches_nothing_new(
    world: World,
) -> None:
    import time

    (world.site / "snapshot.json").write_bytes(
        world.resign({"expires": datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)})
    )
    assert world.cli("index", "update", "main").code == 0
    planned(world.dry_run("expert-a"))
    time.sleep(2.1)
    world.server.take()
    still_resolves(world)  # cached: used as it is
    e = error(world.dry_run("expert-e"), 5)
    assert e["details"]["reason"] == "expired" and "index update" in e["hint"]
    assert world.server.take() == []


def test_a_pinned_snapshot_key_must_sign(world: World, tmp_path: Path) -> None:
    other = tmp_path / "other.pub"
    other.write_text(generate_secret_key().public_key.text + "\n")
    r = world.cli("index", "add", "pinned", world.server.url, "--snapshot-key", other, "--json")
    assert error(r, 5)["error"] == "untrusted-key"
    names = [i["name"] for i in world.cli("index", "list", "--json").json()["indexes"]]
    assert names == ["main"]  # nothing kept of the failed add
    owner_pub = read_secret_key(world.owner_key).public_key.text
    r = world.cli("index", "add", "pinned", world.server.url, "--snapshot-key", owner_pub)
    assert r.code == 0, r.err


def test_the_owner_rotates_the_snapshot_key_through_a_snapshot_the_old_key_signed(
    world: World, tmp_path: Path
) -> None:
    r = world.cli("key", "generate", "--name", "owner2", "--json")
    new_key = Path(r.json()["secret_key_path"])
    new_pub = r.json()["public_key"]
    old_pub = read_secret_key(world.owner_key).public_key.text
    # Signed by the new key alone before users know it: refused.
    world.cli("index", "export-sparse", world.checkout, world.site, "--key", new_key)
    assert error(world.cli("index", "update", "main", "--json"), 5)["error"] == "untrusted-key"
    # The owner lists both keys and signs with the old one; then the new key is accepted.
    config = json.loads((world.checkout / "config.json").read_text())
    config["snapshot_keys"] = [old_pub, new_pub]
    make_repo(world.checkout, {"config.json": (json.dumps(config) + "\n").encode()})
    world.export()
    assert world.cli("index", "update", "main").code == 0
    world.cli("index", "export-sparse", world.checkout, world.site, "--key", new_key)
    assert world.cli("index", "update", "main").code == 0
