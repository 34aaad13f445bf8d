#!/usr/bin/env python3
"""Turn experts/ and index/ into Git repositories, deterministically.

The demo index (index/) pins each expert release to a commit. Those commits must be the
same on every machine that runs `make demo`, so the repos are made with fixed author,
committer and dates: the same files always give the same commit ids. The repos are served
at a placeholder host that HXPM_GIT_MIRRORS maps to the local folder:

    https://demo.hxpm.invalid/<name>.git  ->  file://<OUT>/<name>.git

Usage: python scripts/demo_repos.py OUT   (prints {name: commit} as JSON)
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
DEMO_URL = "https://demo.hxpm.invalid/"
EXPERTS = (
    "expert-json",
    "expert-english-basic",
    "expert-cypher",
    "expert-sql",
    "expert-python",
    "expert-rust",
    "expert-document-classifier",
)
_FIXED = {
    "GIT_AUTHOR_NAME": "hxpm demo",
    "GIT_AUTHOR_EMAIL": "demo@hxpm.invalid",
    "GIT_COMMITTER_NAME": "hxpm demo",
    "GIT_COMMITTER_EMAIL": "demo@hxpm.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+0000",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **_FIXED}
    r = subprocess.run(
        [
            "git",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "core.autocrlf=false",
            "-c",
            "core.fileMode=true",
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return r.stdout.strip()


def make_repo(src: Path, bare: Path, *, tag: str | None, message: str) -> str:
    """Commit ``src``'s files (as .gitignore allows) and publish them as bare repo ``bare``."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(src, work, ignore=shutil.ignore_patterns("__pycache__", ".git"))
        _git(work, "init", "-q")
        _git(work, "add", "-A")
        _git(work, "commit", "-q", "-m", message)
        if tag:
            _git(work, "tag", tag)
        commit = _git(work, "rev-parse", "HEAD")
        shutil.rmtree(bare, ignore_errors=True)
        bare.parent.mkdir(parents=True, exist_ok=True)
        _git(work, "clone", "-q", "--bare", str(work), str(bare))
    return commit


def make_expert_repos(out: Path) -> dict[str, str]:
    commits = {}
    for name in EXPERTS:
        version = json.loads((ROOT / "experts" / name / "manifest.json").read_text())["version"]
        commits[name] = make_repo(
            ROOT / "experts" / name,
            out / f"{name}.git",
            tag=f"v{version}",
            message=f"{name} {version}",
        )
    return commits


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    commits = make_expert_repos(out)
    commits["index"] = make_repo(
        ROOT / "index", out / "index.git", tag=None, message="hxpm demo index"
    )
    print(json.dumps(commits, indent=2))


if __name__ == "__main__":
    main()
