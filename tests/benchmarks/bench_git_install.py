"""Cold install of 6 experts over loopback Git (smart HTTP) against `git clone --depth 1`.

Six expert repos (about 5 MB of adapter weights each) and an index are published the way a
publisher would, and served on 127.0.0.1. "Cold" means empty Git and blob caches and nothing
installed; the index itself is already added, as it would be on a user's machine.

Run: .venv/bin/python tests/benchmarks/bench_git_install.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import BIN, env_with_home, median_seconds, print_table, run_ok

from hxpm.core.digest import base_model_digest
from tests.factories import make_base_dir, make_expert_dir
from tests.gitserver import GitHTTPServer, make_repo, mirror

N_EXPERTS = 6
WEIGHT_BYTES = 5_000_000


def hxpm(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [str(BIN / "hxpm"), *map(str, args)], env=env, capture_output=True, text=True
    )
    if r.returncode != 0:
        raise SystemExit(f"hxpm {args} failed:\n{r.stderr}")
    return r


def publish_world(root: Path, server: GitHTTPServer, base_dir: Path) -> tuple[list[str], str]:
    env = env_with_home(root / "publisher")
    hxpm(env, "key", "generate", "--name", "pub")
    public = json.loads(hxpm(env, "key", "show", "--name", "pub", "--json").stdout)["public_key"]
    index = root / "index-work"
    hxpm(env, "index", "init", index, "--name", "main")
    digest = base_model_digest(base_dir)
    names = [f"expert-bench-{i}" for i in range(N_EXPERTS)]
    for i, name in enumerate(names):
        src = make_expert_dir(
            root / "src",
            name,
            "1.0.0",
            seed=i,
            weight_bytes=WEIGHT_BYTES,
            bases=(("hxpm/tiny-qwen3", digest),),
        )
        hxpm(env, "package", src, "-o", src / "dist")
        for pkg in (src / "dist").glob("*.expert"):
            hxpm(env, "sign", pkg, "--key-name", "pub")
        files = {
            p.relative_to(src).as_posix(): p.read_bytes() for p in src.rglob("*") if p.is_file()
        }
        make_repo(root / "work" / name, files, tag="v1.0.0")
        mirror(root / "work" / name, Path(server.root) / f"{name}.git")
        hxpm(
            env,
            "publish",
            root / "work" / name,
            "--index",
            index,
            "--url",
            server.url_for(f"{name}.git"),
        )
    mirror(index, Path(server.root) / "main.git")
    return names, public


def main(repeat: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "served").mkdir()
        base_dir = make_base_dir(root / "bases")
        with GitHTTPServer(root / "served") as server:
            names, public = publish_world(root, server, base_dir)
            home = root / "user"
            env = env_with_home(home)
            hxpm(env, "base", "add", "hxpm/tiny-qwen3", "--path", base_dir)
            hxpm(env, "trust", "add", public, "--name", "pub")
            hxpm(env, "index", "add", "main", server.url_for("main.git"))

            def cold() -> None:
                for sub in ("repos", "blobs"):
                    shutil.rmtree(home / sub, ignore_errors=True)
                for name in names:
                    subprocess.run(
                        [str(BIN / "hxpm"), "uninstall", name], env=env, capture_output=True
                    )

            t_hxpm = median_seconds(
                lambda: run_ok([BIN / "hxpm", "install", *names], env), repeat, setup=cold
            )
            clones = root / "clones"

            def clone_all() -> None:
                for name in names:
                    run_ok(
                        [
                            "git",
                            "clone",
                            "--quiet",
                            "--depth",
                            "1",
                            server.url_for(f"{name}.git"),
                            clones / name,
                        ]
                    )

            t_git = median_seconds(
                clone_all, repeat, setup=lambda: shutil.rmtree(clones, ignore_errors=True)
            )
    print_table(
        f"Cold install of {N_EXPERTS} experts over loopback Git (median of {repeat})",
        [
            (f"hxpm install ({N_EXPERTS} experts)", t_hxpm, "git clone --depth 1 x6", t_git, 1.2),
        ],
    )


if __name__ == "__main__":
    main()
