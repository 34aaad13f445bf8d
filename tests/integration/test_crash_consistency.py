"""Crash consistency: SIGKILL install, uninstall and upgrade, then check the store (issue 10).

Each trial runs a real `hxpm` process and kills it with SIGKILL, either at a chosen point
(the process kills itself on the N-th call of a store primitive: the tree rename, a row
insert or delete, the transaction, a tree removal) or after a random delay. Afterwards:

- the rows describe the old state or the new one, never a mix (an upgrade never leaves two
  versions installed);
- every recorded tree verifies; the only problem `verify --store` may report is an orphan
  directory (a tree renamed in whose row was never committed);
- running the same command again succeeds, and then `verify --store` is clean.

A power loss cannot be simulated here; fsync of the staging tree is checked separately
(tests/unit/test_hostile_numbers_and_files.py, "the staging tree is fsynced").
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.factories import make_expert_dir
from tests.integration.distribution import serving_world

# `python -c` prelude: kill this process on the N-th call of the named function.
_KILL_AT = """
import importlib, os, signal, sys
target, nth = sys.argv[1], int(sys.argv[2])
module_name, _, attr = target.rpartition(".")
try:
    owner = importlib.import_module(module_name)
except ModuleNotFoundError:  # Class.method
    module_name, _, cls = module_name.rpartition(".")
    owner = getattr(importlib.import_module(module_name), cls)
original = getattr(owner, attr)
calls = [0]
def wrapper(*args, **kwargs):
    calls[0] += 1
    if calls[0] == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)
setattr(owner, attr, wrapper)
from hxpm.cli.app import main
main(sys.argv[3:])
"""

# Points every writer passes; `os.replace` is the tree rename (and blob/keyfile renames).
INSTALL_POINTS = [
    ("hxpm.services.install.fsync_tree", 1),
    ("os.replace", 1),
    ("hxpm.store.state.StateDB.put_installed", 1),
    ("hxpm.store.state.StateDB.transaction", 1),
    ("hxpm.services.install.remove_tree", 2),
]
UNINSTALL_POINTS = [
    ("hxpm.store.state.StateDB.delete_installed", 1),
    ("hxpm.services.uninstall.remove_tree", 1),
    ("hxpm.services.uninstall.prune_empty_parents", 1),
]
UPGRADE_POINTS = [
    ("hxpm.services.install.fsync_tree", 1),
    ("hxpm.store.state.StateDB.put_installed", 1),
    ("hxpm.store.state.StateDB.delete_installed", 1),
    ("hxpm.services.install.remove_tree", 2),
    ("hxpm.services.install.prune_empty_parents", 1),
]
RANDOM_TRIALS = 8


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "HXPM_HOME": str(home), "HXPM_OFFLINE": ""}


def _hxpm(home: Path, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hxpm", *map(str, args)],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _killed_at(home: Path, point: tuple[str, int], *args: str | Path) -> int:
    target, nth = point
    r = subprocess.run(
        [sys.executable, "-c", _KILL_AT, target, str(nth), *map(str, args)],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode


def _killed_after(home: Path, delay: float, *args: str | Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hxpm", *map(str, args)],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _versions(home: Path) -> set[tuple[str, str]]:
    from hxpm.store.paths import StorePaths
    from hxpm.store.store import Store

    store = Store(StorePaths(home))  # a reader, in this process: no lock, one snapshot
    try:
        return {(e.name, e.version) for e in store.db.installed()}
    finally:
        store.close()


def _problems(home: Path) -> list[str]:
    from hxpm.services.verify import verify_store
    from hxpm.store.paths import StorePaths
    from hxpm.store.store import Store

    store = Store(StorePaths(home))
    try:
        return [p.problem for p in verify_store(store).problems]
    finally:
        store.close()


def _check_consistent(home: Path, allowed: list[set[tuple[str, str]]]) -> None:
    """Rows: one of the allowed states. Trees: every recorded one verifies (orphans OK)."""
    state = _versions(home)
    assert state in allowed, f"half state after a kill: {state}"
    problems = _problems(home)
    assert all("not recorded" in p for p in problems), problems


def _timed(home: Path, *args: str | Path) -> float:
    start = time.monotonic()
    r = _hxpm(home, *args)
    assert r.returncode == 0, r.stderr
    return time.monotonic() - start


def test_sigkill_install_and_uninstall_leave_old_or_new(tmp_path, hxpm_home, cli):
    # Killed runs are real processes; the re-runs and resets run in this process (`cli`,
    # same code, no interpreter start-up) to keep the test short.
    home = hxpm_home
    src = make_expert_dir(tmp_path / "src", "expert-k", "1.0.0", weight_bytes=300_000)
    pkg_dir = tmp_path / "dist"
    assert cli("package", src, "-o", pkg_dir).code == 0
    [pkg] = pkg_dir.glob("*.expert")
    install = ("install", pkg, "--unsafe-allow-unsigned")
    before, after = set(), {("expert-k", "1.0.0")}
    rng = random.Random(10)
    duration = _timed(home, *install)
    assert cli("uninstall", "expert-k").code == 0

    trials = [("point", p) for p in INSTALL_POINTS] + [
        ("random", rng.uniform(0.0, duration)) for _ in range(RANDOM_TRIALS)
    ]
    for kind, how in trials:
        if kind == "point":
            _killed_at(home, how, *install)  # type: ignore[arg-type]
        else:
            _killed_after(home, how, *install)  # type: ignore[arg-type]
        _check_consistent(home, [before, after])
        assert cli(*install).code == 0, (kind, how)
        assert _versions(home) == after
        assert _problems(home) == [], (kind, how)

        # Now uninstall, killed the same way.
        if kind == "point":
            point = UNINSTALL_POINTS[trials.index((kind, how)) % len(UNINSTALL_POINTS)]
            _killed_at(home, point, "uninstall", "expert-k")
        else:
            _killed_after(home, rng.uniform(0.0, duration / 2), "uninstall", "expert-k")
        _check_consistent(home, [before, after])
        if _versions(home) == after:
            assert cli("uninstall", "expert-k").code == 0
        else:  # the uninstall was committed: a second one finds nothing, and says so
            assert cli("uninstall", "expert-k").code == 4
        assert _versions(home) == before
        assert _problems(home) == [], (kind, how)
        assert not any((home / "tmp").iterdir()) if (home / "tmp").exists() else True


@pytest.fixture
def upgrade_world(tmp_path, git_served, cli, base_dir, monkeypatch):
    with serving_world(tmp_path, git_served, cli, base_dir, monkeypatch) as w:
        w.release("expert-json", "0.3.0", keywords=["json"], weight_bytes=200_000)
        w.release("expert-json", "0.4.1", keywords=["json"], weight_bytes=200_000, seed=1)
        yield w


def test_sigkill_upgrade_never_leaves_two_versions(upgrade_world, tmp_path):
    world = upgrade_world
    home = world.user(tmp_path / "user")  # killed runs are processes; the rest in-process
    old, new = {("expert-json", "0.3.0")}, {("expert-json", "0.4.1")}
    assert world.run(home, "install", "expert-json@0.3.0").code == 0
    duration = _timed(home, "update")
    assert _versions(home) == new
    rng = random.Random(11)

    trials = [("point", p) for p in UPGRADE_POINTS] + [
        ("random", rng.uniform(0.0, duration)) for _ in range(RANDOM_TRIALS)
    ]
    for kind, how in trials:
        assert world.run(home, "uninstall", "expert-json").code == 0
        assert world.run(home, "install", "expert-json@0.3.0").code == 0
        if kind == "point":
            _killed_at(home, how, "update")  # type: ignore[arg-type]
        else:
            _killed_after(home, how, "update")  # type: ignore[arg-type]
        _check_consistent(home, [old, new])
        r = world.run(home, "update")
        assert r.code == 0, (kind, how, r.err)
        assert _versions(home) == new, (kind, how)
        assert _problems(home) == [], (kind, how)
