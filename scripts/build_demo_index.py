#!/usr/bin/env python3
"""Sign the demo packages and (re)write index/: the demo index listing the seven experts.

Run after scripts/build_demo_content.py (which trains and packages the experts):

    .venv/bin/python scripts/build_demo_index.py

1. The demo publisher key (demo/keys/, DEMO ONLY: it is public, so it proves nothing outside
   this demo) signs every experts/<name>/dist/*.expert.
2. The expert repos are made exactly as `make demo` makes them (scripts/demo_repos.py), so
   their commit ids are the ones `make demo` will serve.
3. `hxpm index init`, `hxpm index key-add` and `hxpm publish --url https://demo.hxpm.invalid/…`
   write the index, whose files are copied into index/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from demo_repos import DEMO_URL, EXPERTS, make_repo  # noqa: E402

KEY_DIR = ROOT / "demo" / "keys"
KEY_NAME = "demo-publisher"
HXPM = [sys.executable, "-m", "hxpm"]


def hxpm(*args: object, home: Path) -> str:
    env = {**os.environ, "HXPM_HOME": str(home), "HXPM_KEY_DIR": str(home.parent / "keys")}
    r = subprocess.run(
        [*HXPM, *map(str, args)], env=env, capture_output=True, text=True, check=False
    )
    if r.returncode != 0:
        raise SystemExit(f"hxpm {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        keys = Path(tmp) / "keys"
        keys.mkdir(mode=0o700)
        if (KEY_DIR / f"{KEY_NAME}.key").exists():
            # Git keeps no 0600 mode, and hxpm refuses a secret key others can read: sign
            # from a private copy of the committed demo key.
            for part in (f"{KEY_NAME}.key", f"{KEY_NAME}.pub"):
                shutil.copyfile(KEY_DIR / part, keys / part)
            (keys / f"{KEY_NAME}.key").chmod(0o600)
        else:
            hxpm("key", "generate", "--name", KEY_NAME, home=home)
            for part in (f"{KEY_NAME}.key", f"{KEY_NAME}.pub"):
                shutil.copyfile(keys / part, KEY_DIR / part)
        public = json.loads(hxpm("key", "show", "--name", KEY_NAME, "--json", home=home))
        for pkg in sorted(ROOT.glob("experts/*/dist/*.expert")):
            hxpm("sign", pkg, "--key-name", KEY_NAME, home=home)
        index = Path(tmp) / "index"
        hxpm(
            "index",
            "init",
            index,
            "--name",
            "hxpm-demo",
            "--description",
            "The hxpm demo index: seven experts for the tiny random base",
            home=home,
        )
        hxpm(
            "index",
            "key-add",
            public["public_key"],
            "--owner",
            "hxpm demo (DEMO ONLY)",
            "--experts",
            "expert-*",
            "--index-dir",
            index,
            home=home,
        )
        for name in EXPERTS:
            work = Path(tmp) / "work" / name
            _clone_work(Path(tmp) / "bare", name, work)
            hxpm("publish", work, "--index", index, "--url", f"{DEMO_URL}{name}.git", home=home)
        _copy_index(index, public)
    print(f"signed the packages and wrote {ROOT / 'index'} (key {public['key_id']})")


def _clone_work(bare_root: Path, name: str, work: Path) -> None:
    """A working copy of the release exactly as demo_repos makes it (same commit, tag)."""
    version = json.loads((ROOT / "experts" / name / "manifest.json").read_text())["version"]
    bare = bare_root / f"{name}.git"
    make_repo(ROOT / "experts" / name, bare, tag=f"v{version}", message=f"{name} {version}")
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)


def _copy_index(index: Path, public: dict[str, str]) -> None:
    target = ROOT / "index"
    shutil.rmtree(target / "experts", ignore_errors=True)
    shutil.copytree(index / "experts", target / "experts")
    shutil.copy(index / "config.json", target / "config.json")
    (target / "README.md").write_text(
        "# The hxpm demo index\n\n"
        "Index data (format `hxpm-index/1`, see docs/formats/index.md) listing the seven demo\n"
        "experts of `experts/`, for the tiny random base `models/tiny-qwen3`. `make demo` turns\n"
        "this folder and each expert into Git repositories and serves them at the placeholder\n"
        f"host `{DEMO_URL}` through `HXPM_GIT_MIRRORS`.\n\n"
        "## The demo key\n\n"
        f"- key id: `{public['key_id']}`\n- public key: `{public['public_key']}`\n\n"
        "Its secret half is committed in `demo/keys/` so that the demo can be rebuilt: it is\n"
        "a DEMO key, public to everyone, and proves nothing outside this demo. Never trust it\n"
        "for anything else.\n\nRegenerate with `.venv/bin/python scripts/build_demo_index.py`.\n"
    )


if __name__ == "__main__":
    main()
