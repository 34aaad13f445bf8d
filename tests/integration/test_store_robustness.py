"""The store under crashes, concurrent processes and on-disk tampering (real processes)."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from tests.factories import make_expert_dir


def hxpm(*args: str | Path, env: dict[str, str], preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hxpm", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120, preexec_fn=preexec)


def _env(hxpm_home: Path) -> dict[str, str]:
    return {**os.environ, "HXPM_HOME": str(hxpm_home)}


def test_two_processes_install_at_once(hxpm_home, tmp_path):
    env = _env(hxpm_home)
    dirs = [make_expert_dir(tmp_path / f"s{i}", f"expert-c{i}", "1.0.0", seed=i,
                            weight_bytes=4_000_000) for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "hxpm", "install", str(d),
                               "--unsafe-allow-unsigned"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for d in dirs * 2]
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
