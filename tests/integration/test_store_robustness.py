"""The store under crashes, concurrent processes and on-disk tampering (real processes)."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import make_expert_dir


def hxpm(*args: str | Path, env: dict[str, str], preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hxpm", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=preexec,
        check=False,
    )


def _env(hxpm_home: Path) -> dict[str, str]:
    return {**os.environ, "HXPM_HOME": str(hxpm_home)}


def test_two_processes_install_at_once(hxpm_home, tmp_path):
    env = _env(hxpm_home)
    dirs = [
        make_expert_dir(tmp_path / f"s{i}", f"expert-c{i}", "1.0.0", seed=i, weight_bytes=4_000_000)
        for i in range(2)
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hxpm", "install", str(d), "--unsafe-allow-unsigned"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in dirs * 2
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    listed = json.loads(hxpm("list", "--json", env=env).stdout)["experts"]
    assert sorted(e["name"] for e in listed) == ["expert-c0", "expert-c1"]
    assert hxpm("verify", "--store", env=env).returncode == 0
    assert not any((hxpm_home / "tmp").iterdir())


def _limit_file_size() -> None:
    # A real disk-full-like failure: writes past 64 KiB fail with EFBIG.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_write_failure_midway_leaves_store_consistent(hxpm_home, tmp_path):
    env = _env(hxpm_home)
    small = make_expert_dir(tmp_path / "a", "expert-small", "1.0.0")
    assert hxpm("install", small, "--unsafe-allow-unsigned", env=env).returncode == 0
    before = json.loads(hxpm("list", "--json", env=env).stdout)["experts"]

    big = make_expert_dir(tmp_path / "b", "expert-big", "1.0.0", weight_bytes=2_000_000)
    r = hxpm("install", big, "--unsafe-allow-unsigned", env=env, preexec=_limit_file_size)
    assert r.returncode == 7, r.stderr
    assert "could not write" in r.stderr or "store" in r.stderr

    assert json.loads(hxpm("list", "--json", env=env).stdout)["experts"] == before
    assert hxpm("verify", "--store", env=env).returncode == 0
    assert not (hxpm_home / "experts" / "expert-big").exists()
    # And the store still takes the same install once the disk is fine again.
    assert hxpm("install", big, "--unsafe-allow-unsigned", env=env).returncode == 0
    assert hxpm("verify", "--store", env=env).returncode == 0


def test_stale_staging_and_orphans_are_cleaned(hxpm_home, tmp_path):
    env = _env(hxpm_home)
    a = make_expert_dir(tmp_path / "a", "expert-a", "1.0.0")
    assert hxpm("install", a, "--unsafe-allow-unsigned", env=env).returncode == 0
    # What a writer killed mid-install leaves behind: staging, and a renamed-in tree whose
    # row was never committed.
    stale = hxpm_home / "tmp" / "install-deadbeef"
    stale.mkdir(parents=True)
    (stale / "adapter_model.safetensors").write_bytes(b"partial")
    orphan = hxpm_home / "experts" / "expert-ghost" / "1.0.0" / "tiny-qwen3" / ("0" * 16)
    orphan.mkdir(parents=True)
    (orphan / "manifest.json").write_text("{}")

    r = hxpm("verify", "--store", "--json", env=env)
    assert r.returncode == 5
    assert any("not recorded" in p["problem"] for p in json.loads(r.stdout)["problems"])

    b = make_expert_dir(tmp_path / "b", "expert-b", "1.0.0")
    assert hxpm("install", b, "--unsafe-allow-unsigned", env=env).returncode == 0
    assert not stale.exists() and not (hxpm_home / "experts" / "expert-ghost").exists()
    assert hxpm("verify", "--store", env=env).returncode == 0


def test_verify_store_detects_modified_files(hxpm_home, tmp_path):
    env = _env(hxpm_home)
    a = make_expert_dir(tmp_path / "a", "expert-a", "1.0.0")
    r = hxpm("install", a, "--unsafe-allow-unsigned", "--json", env=env)
    path = Path(json.loads(r.stdout)["results"][0]["path"])
    weights = path / "adapter_model.safetensors"
    os.chmod(weights, 0o644)
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    (path / "extra.txt").parent.chmod(0o755)
    (path / "extra.txt").write_text("dropped in")
    r = hxpm("verify", "--store", "--json", env=env)
    assert r.returncode == 5
    problems = [p["problem"] for p in json.loads(r.stdout)["problems"]]
    assert "modified file adapter_model.safetensors" in problems
    assert "unexpected file extra.txt" in problems


def _mount_tmpfs(path: Path, size: str) -> str | None:
    """Mount a small tmpfs at ``path``; the reason it could not be done, or None."""
    import shutil

    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "mounting a small tmpfs needs root and mount(8)"
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return None if r.returncode == 0 else f"mount -t tmpfs failed: {r.stderr.strip()}"


def _free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _names(home: Path) -> list[tuple[str, str]]:
    from hxpm.store.paths import StorePaths
    from hxpm.store.store import Store

    store = Store(StorePaths(home))
    try:
        return sorted((e.name, e.version) for e in store.db.installed())
    finally:
        store.close()


def _store_problems(home: Path) -> list[str]:
    from hxpm.services.verify import verify_store
    from hxpm.store.paths import StorePaths
    from hxpm.store.store import Store

    store = Store(StorePaths(home))
    try:
        return [f"{p.expert}: {p.problem}" for p in verify_store(store).problems]
    finally:
        store.close()


def test_disk_full_at_every_step_leaves_the_store_unchanged(tmp_path):
    """A real full disk (a 8 MiB tmpfs): free space is stepped through the install's needs,
    so it runs out while unpacking, and at the database commit after the tree was renamed
    into place. Every failure: exit 7 with a hint, no traceback, rows and trees as before."""
    mnt = tmp_path / "small-disk"
    reason = _mount_tmpfs(mnt, "8m")
    if reason:
        print(f"SKIPPED disk-full test: {reason}")
        pytest.skip(reason)
    try:
        env = _env(mnt / "home")
        a = make_expert_dir(tmp_path / "a", "expert-small", "1.0.0")
        assert hxpm("install", a, "--unsafe-allow-unsigned", env=env).returncode == 0
        big = make_expert_dir(tmp_path / "b", "expert-big", "1.0.0", weight_bytes=200_000)
        assert hxpm("package", big, "-o", tmp_path / "dist", env=env).returncode == 0
        [pkg] = (tmp_path / "dist").glob("*.expert")
        tree = sum(p.stat().st_size for p in big.iterdir())
        before = _names(mnt / "home")
        stages: set[str] = set()
        for free in range(tree - 48 * 1024, tree + 512 * 1024, 8192):
            filler = mnt / "filler"
            filler.write_bytes(b"\0" * max(0, _free_bytes(mnt) - free))
            r = hxpm("install", pkg, "--unsafe-allow-unsigned", env=env)
            filler.unlink()
            if r.returncode == 0:
                break
            assert r.returncode == 7, r.stderr
            assert "Traceback" not in r.stderr and "hint:" in r.stderr, r.stderr
            stages.add("database" if "store database" in r.stderr else "files")
            # Checked in this process (a reader, no lock): rows as before, and no orphan
            # tree left behind either.
            assert _names(mnt / "home") == before
            assert _store_problems(mnt / "home") == []
        assert r.returncode == 0, "the install never succeeded with more free space"
        assert stages == {"files", "database"}, stages
        assert hxpm("verify", "--store", env=env).returncode == 0
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30, check=False)


def test_verify_store_sees_a_consistent_store_while_others_write(hxpm_home, tmp_path):
    """Readers take no lock: verify must not report the trees writers are moving."""
    env = _env(hxpm_home)
    dirs = [
        make_expert_dir(tmp_path / f"w{i}", f"expert-w{i}", "1.0.0", seed=i, weight_bytes=400_000)
        for i in range(2)
    ]
    pkgs = []
    for d in dirs:
        assert hxpm("package", d, "-o", tmp_path / "dist", env=env).returncode == 0
    pkgs = sorted((tmp_path / "dist").glob("*.expert"))
    writer = (
        "import subprocess, sys\n"
        "for _ in range(3):\n"
        "    for p in sys.argv[1:]:\n"
        "        subprocess.run([sys.executable, '-m', 'hxpm', 'install', p,\n"
        "                        '--unsafe-allow-unsigned'], check=True, capture_output=True)\n"
        "    for n in ('expert-w0', 'expert-w1'):\n"
        "        subprocess.run([sys.executable, '-m', 'hxpm', 'uninstall', n], check=True,\n"
        "                       capture_output=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", writer, *map(str, pkgs)], env=env)
    from hxpm.services.verify import verify_store
    from hxpm.store.paths import StorePaths
    from hxpm.store.store import Store

    runs = 0
    try:
        while proc.poll() is None:
            store = Store(StorePaths(hxpm_home))
            try:
                report = verify_store(store)
            finally:
                store.close()
            assert report.ok, report.problems
            runs += 1
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0 and runs > 3
