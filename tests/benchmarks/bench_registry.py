"""The registry at scale, whole processes as a user runs them, side by side with peers.

On the bench registry (``index_gen.py``: 10,000 experts x 10 signed versions = 100,000
lines, as a file:// Git index and as a PEP 503/658 simple index), one run prints:

* first ``hxpm index add`` (fresh HXPM_HOME each time) vs ``git clone --depth 1`` of the
  same repository (fresh folder each time);
* ``hxpm index update`` after 100 changed expert files;
* ``hxpm install --dry-run --json`` of 50 roots (cache warm) vs ``uv pip compile`` and
  ``pip install --dry-run`` of the same graph through the simple index. uv is installed
  with pip into the benchmark's own venv under the bench cache (never into the project's);
  when that fails the table says so and leaves uv out;
* with ``--million``: 100,000 experts x 10 versions filled into the index cache through
  the same verified-ingest API (simulated: no Git repository that size is built), then
  ``hxpm search`` vs ``hxpm --version``, the dry run vs its 100k-version time, and the
  cache's size on disk.

Timings are medians of ``--repeat`` runs and are reported, never asserted.

Run: .venv/bin/python tests/benchmarks/bench_registry.py [--repeat N] [--million]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import index_gen
from common import BIN, env_with_home, median_seconds, print_table, run_ok

HXPM = str(BIN / "hxpm")
BASE = index_gen.BASE


def _fresh(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def time_index_add(repo: Path, work: Path, repeat: int) -> tuple[float, float, Path]:
    """(hxpm index add, git clone --depth 1, a home holding the added index)."""
    home, clone = work / "home-add", work / "clone"
    url = repo.as_uri()

    t_add = median_seconds(lambda: run_ok([HXPM, "index", "add", "bench", url],
                                          env_with_home(home)), repeat,
                           setup=lambda: _fresh(home))
    t_clone = median_seconds(lambda: run_ok(["git", "clone", "-q", "--depth", "1", url,
                                             str(clone)]), repeat, setup=lambda: _fresh(clone))
    return t_add, t_clone, home


def time_index_update(repo: Path, added_home: Path, work: Path, repeat: int) -> float:
    """``hxpm index update`` after ``next`` (100 changed files) replaced ``main``."""
    served = work / "served.git"
    home = work / "home-update"
    _fresh(served)
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(served)], check=True)
    subprocess.run(["git", "-C", str(served), "fetch", "-q", str(repo), "next:next"],
                   check=True)
    main = _rev(served, "main")
    template = work / "home-template"
    _fresh(template)
    run_ok([HXPM, "index", "add", "bench", served.as_uri()], env_with_home(template))

    def setup() -> None:
        _fresh(home)
        shutil.copytree(template, home, symlinks=True)
        subprocess.run(["git", "-C", str(served), "update-ref", "refs/heads/main",
                        _rev(served, "next")], check=True)

    t = median_seconds(lambda: run_ok([HXPM, "index", "update"], env_with_home(home)),
                       repeat, setup=setup)
    subprocess.run(["git", "-C", str(served), "update-ref", "refs/heads/main", main], check=True)
    return t


def _rev(repo: Path, ref: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", ref], check=True,
                          capture_output=True, text=True).stdout.strip()


def dry_run_cmd(registry: Path) -> list[str]:
    roots = (registry / "roots.txt").read_text().split()
    return [HXPM, "install", "--dry-run", "--json", "--base", BASE, *roots]


def uv_binary() -> tuple[Path | None, str]:
    """uv from the benchmark's own venv (created once, with pip from PyPI)."""
    folder = index_gen.cache_root() / "uv-venv"
    uv = folder / "bin" / "uv"
    if uv.exists():
        return uv, "uv (bench venv)"
    try:
        venv.create(folder, with_pip=True, clear=True)
        done = subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "-q",
                               "--disable-pip-version-check", "uv"],
                              capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"uv could not be installed ({exc})"
    if done.returncode != 0 or not uv.exists():
        return None, "uv could not be installed: " + (done.stderr.strip()[-300:] or "pip failed")
    return uv, "uv (bench venv)"


def time_uv(uv: Path, registry: Path, work: Path, repeat: int) -> float:
    env = {**os.environ, "UV_CACHE_DIR": str(work / "uv-cache"), "UV_NO_CONFIG": "1"}
    cmd = [str(uv), "pip", "compile", "--quiet", "--no-header", "--python-version", "3.11",
           "--index-url", (registry / "simple").as_uri(), "-o", str(work / "uv-out.txt"),
           str(registry / "requirements.in")]
    run_ok(cmd, env)  # warm uv's cache too: hxpm's dry run reads a warm index cache
    return median_seconds(lambda: run_ok(cmd, env), repeat)


def time_pip(registry: Path, work: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
           "--index-url", (registry / "simple").as_uri(), "--report", str(work / "pip.json"),
           "-r", str(registry / "requirements.in")]
    return median_seconds(lambda: run_ok(cmd, env), 1)


def million(home: Path, work: Path, repeat: int, t_dry_100k: float) -> None:
    """100,000 experts x 10 versions through the cache's verified-ingest API."""
    from bench_resolve import generate, pick_roots

    from hxpm.index.cache import IndexCache

    big = work / "home-million"
    _fresh(big)
    shutil.copytree(home, big, symlinks=True)
    graph = generate(names=100_000)
    t0 = time.perf_counter()
    with IndexCache(big / "index-cache.sqlite") as cache:
        commit = cache.commit_of("bench")
        assert commit is not None
        cache.replace_index_files("bench", commit, index_gen.expert_files(graph))
    fill = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in big.glob("index-cache.sqlite*"))
    env = env_with_home(big)
    roots = pick_roots(graph)
    t_version = median_seconds(lambda: run_ok([HXPM, "--version"], env), repeat)
    t_search = median_seconds(lambda: run_ok([HXPM, "search", "sql", "--json"], env), repeat)
    t_dry = median_seconds(lambda: run_ok([HXPM, "install", "--dry-run", "--json", "--base",
                                           BASE, *roots], env), repeat)
    print(f"\n1,000,000 versions: filled and verified in {fill:.0f} s; index cache on disk "
          f"{size / 1e6:.0f} MB")
    print_table(f"1,000,000 versions, whole process (median of {repeat})", [
        ("hxpm search sql --json", t_search, "hxpm --version", t_version, 2.0),
        ("install --dry-run, 50 roots", t_dry, "the same at 100k versions", t_dry_100k, 2.0),
    ])


def main(repeat: int = 3, with_million: bool = False) -> None:
    registry = index_gen.build(10_000)
    repo = registry / "index.git"
    with tempfile.TemporaryDirectory(prefix="hxpm-bench-") as tmp:
        work = Path(tmp)
        t_add, t_clone, home = time_index_add(repo, work, repeat)
        t_update = time_index_update(repo, home, work, repeat)
        env = env_with_home(home)
        t_version = median_seconds(lambda: run_ok([HXPM, "--version"], env), repeat)
        run_ok(dry_run_cmd(registry), env)  # warm the page cache
        t_dry = median_seconds(lambda: run_ok(dry_run_cmd(registry), env), repeat + 2)
        uv, uv_note = uv_binary()
        t_uv = time_uv(uv, registry, work, repeat + 2) if uv else None
        t_pip = time_pip(registry, work)
        rows = [
            ("first index add (100k lines)", t_add, "git clone --depth 1", t_clone, 1.5),
            ("index update, 100 files changed", t_update, "first index add", t_add, 1.0),
            ("install --dry-run, 50 roots", t_dry, "pip install --dry-run", t_pip, 1.0),
            ("hxpm --version (start-up floor)", t_version, "install --dry-run", t_dry, 1.0),
        ]
        if t_uv is not None:
            rows.insert(2, ("install --dry-run, 50 roots", t_dry, "uv pip compile", t_uv, 1.0))
        print_table(f"Registry at scale: 10,000 experts x 10 signed versions, whole processes "
                    f"(median of {repeat}; dry run and uv of {repeat + 2}; pip once)", rows)
        if t_uv is None:
            print(f"uv row left out: {uv_note}")
        size = sum(p.stat().st_size for p in home.glob("index-cache.sqlite*"))
        print(f"index cache on disk: {size / 1e6:.0f} MB for 100,000 lines")
        if with_million:
            million(home, work, repeat, t_dry)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--million", action="store_true",
                        help="also the simulated 1,000,000-version cache (minutes)")
    args = parser.parse_args()
    main(args.repeat, args.million)
